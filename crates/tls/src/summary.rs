//! [`describe`]: a TLS session in the words of Postfix's logs.

use std::fmt;

use rustls::{CipherSuite, CommonState, ProtocolVersion};

/// What was negotiated, for log lines and `Received:` headers.
///
/// Displays as Postfix does, `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384
/// (256/256 bits)`, so log tools that parse Postfix's lines parse ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSummary {
    /// The protocol version, OpenSSL's spelling: `TLSv1.2`, `TLSv1.3`.
    pub version: &'static str,
    /// The cipher suite, OpenSSL's name (`TLS_AES_256_GCM_SHA384`,
    /// `ECDHE-RSA-AES256-GCM-SHA384`), which is what Postfix logs.
    pub cipher: String,
    /// The symmetric key size in bits.
    pub bits: u32,
}

impl fmt::Display for TlsSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Postfix prints "used/algorithm" bits; with AEAD suites they are
        // always equal.
        write!(
            f,
            "{} with cipher {} ({}/{} bits)",
            self.version, self.cipher, self.bits, self.bits
        )
    }
}

/// Describes an established TLS session; `None` before the handshake is
/// done.
///
/// Takes either end: a `ServerConnection` or `ClientConnection` derefs to
/// [`CommonState`] (with tokio-rustls: `stream.get_ref().1`).
pub fn describe(conn: &CommonState) -> Option<TlsSummary> {
    if conn.is_handshaking() {
        return None;
    }
    let version = match conn.protocol_version()? {
        ProtocolVersion::TLSv1_3 => "TLSv1.3",
        ProtocolVersion::TLSv1_2 => "TLSv1.2",
        ProtocolVersion::TLSv1_1 => "TLSv1.1",
        ProtocolVersion::TLSv1_0 => "TLSv1",
        _ => "unknown",
    };
    let suite = conn.negotiated_cipher_suite()?.suite();
    let (cipher, bits) = match openssl_name(suite) {
        Some(known) => (known.0.to_owned(), known.1),
        None => {
            // Not a *ring* suite; cannot happen with our provider, but a
            // log line must not fail.
            let name = suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_owned);
            let bits = bits_from_name(&name);
            (name, bits)
        }
    };
    Some(TlsSummary {
        version,
        cipher,
        bits,
    })
}

/// OpenSSL's name and key size of every suite the *ring* provider offers.
fn openssl_name(suite: CipherSuite) -> Option<(&'static str, u32)> {
    Some(match suite {
        CipherSuite::TLS13_AES_256_GCM_SHA384 => ("TLS_AES_256_GCM_SHA384", 256),
        CipherSuite::TLS13_AES_128_GCM_SHA256 => ("TLS_AES_128_GCM_SHA256", 128),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => ("TLS_CHACHA20_POLY1305_SHA256", 256),
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => {
            ("ECDHE-ECDSA-AES256-GCM-SHA384", 256)
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => {
            ("ECDHE-ECDSA-AES128-GCM-SHA256", 128)
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            ("ECDHE-ECDSA-CHACHA20-POLY1305", 256)
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => ("ECDHE-RSA-AES256-GCM-SHA384", 256),
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => ("ECDHE-RSA-AES128-GCM-SHA256", 128),
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => {
            ("ECDHE-RSA-CHACHA20-POLY1305", 256)
        }
        _ => return None,
    })
}

/// The key size a suite name implies, 0 if it does not say.
fn bits_from_name(name: &str) -> u32 {
    if name.contains("AES_256") || name.contains("CHACHA20") {
        256
    } else if name.contains("AES_128") {
        128
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_postfix_shaped() {
        let s = TlsSummary {
            version: "TLSv1.3",
            cipher: "TLS_AES_256_GCM_SHA384".into(),
            bits: 256,
        };
        assert_eq!(
            s.to_string(),
            "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
        );
    }

    #[test]
    fn every_ring_suite_has_an_openssl_name() {
        for suite in rustls::crypto::ring::ALL_CIPHER_SUITES {
            let (name, bits) = openssl_name(suite.suite()).unwrap();
            assert!(bits == 128 || bits == 256, "{name}");
        }
    }

    #[test]
    fn unknown_suite_names_give_bits_when_they_can() {
        assert_eq!(bits_from_name("TLS_RSA_WITH_AES_256_CBC_SHA"), 256);
        assert_eq!(bits_from_name("TLS_RSA_WITH_AES_128_CBC_SHA"), 128);
        assert_eq!(bits_from_name("TLS_NULL_WITH_NULL_NULL"), 0);
    }
}
