//! Client configurations for outbound SMTP, by `smtp_tls_security_level`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::{Error, provider};

/// How much TLS the SMTP client insists on (`smtp_tls_security_level`).
///
/// The words are Postfix's. What the client does when the server offers no
/// STARTTLS, or the handshake fails, is the caller's part:
/// [`SecurityLevel::requires_tls`] says whether to fall back to plain text
/// (`may`) or defer the delivery (the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecurityLevel {
    /// `none`: never use TLS.
    None,
    /// `may`: opportunistic TLS. Use STARTTLS when offered, accept any
    /// certificate, and deliver in plain text if TLS is not offered or
    /// fails.
    May,
    /// `encrypt`: TLS is mandatory, any certificate is accepted.
    Encrypt,
    /// `verify`: TLS is mandatory and the certificate must chain to a
    /// system root and name the host connected to (the MX host name).
    Verify,
    /// `secure`: like `verify` in Postern; the caller chooses the name to
    /// check (Postfix checks the next-hop domain here, so an MX record
    /// forged in insecure DNS cannot redirect the mail).
    Secure,
}

impl SecurityLevel {
    /// The Postfix word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::None => "none",
            SecurityLevel::May => "may",
            SecurityLevel::Encrypt => "encrypt",
            SecurityLevel::Verify => "verify",
            SecurityLevel::Secure => "secure",
        }
    }

    /// Whether a delivery must be deferred rather than sent in plain text
    /// when TLS cannot be had.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SecurityLevel::Encrypt | SecurityLevel::Verify | SecurityLevel::Secure
        )
    }

    /// Whether the server's certificate and name are checked.
    pub fn verifies_certificate(self) -> bool {
        matches!(self, SecurityLevel::Verify | SecurityLevel::Secure)
    }
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SecurityLevel {
    type Err = Error;

    /// Parses a Postfix level word, ignoring case and surrounding blanks;
    /// an empty value means `none`, as in Postfix.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let word = s.trim().to_ascii_lowercase();
        match word.as_str() {
            "" | "none" => Ok(SecurityLevel::None),
            "may" => Ok(SecurityLevel::May),
            "encrypt" => Ok(SecurityLevel::Encrypt),
            "verify" => Ok(SecurityLevel::Verify),
            "secure" => Ok(SecurityLevel::Secure),
            "dane" | "dane-only" | "fingerprint" => {
                Err(Error::UnsupportedSecurityLevel { level: word })
            }
            _ => Err(Error::UnknownSecurityLevel {
                level: s.to_owned(),
            }),
        }
    }
}

/// Builds the SMTP client's TLS configuration for `level`, with the
/// system's trusted roots for `verify` and `secure`.
///
/// `None` for [`SecurityLevel::None`]. The caller passes the host name it
/// connected to (the MX host, or the relayhost) as the `ServerName`; it is
/// sent as SNI and, under `verify`/`secure`, checked against the
/// certificate. The roots are read from the system (rustls-native-certs:
/// `SSL_CERT_FILE`, `SSL_CERT_DIR`, or the distribution's bundle) on each
/// call, so build this once per process (and on reload), not per delivery.
///
/// # Errors
///
/// [`Error::NoRootCertificates`] when `verify`/`secure` is asked for and no
/// root certificate can be loaded: better to refuse to start than to defer
/// every message.
pub fn client_config(level: SecurityLevel) -> Result<Option<Arc<ClientConfig>>, Error> {
    client_config_with_ca_file(level, None)
}

/// Like [`client_config`], also trusting the certificates of `ca_file`
/// (`smtp_tls_CAfile`: a private CA) under `verify` and `secure`.
///
/// # Errors
///
/// As [`client_config`]; and an unreadable `ca_file` or one without a
/// certificate.
pub fn client_config_with_ca_file(
    level: SecurityLevel,
    ca_file: Option<&std::path::Path>,
) -> Result<Option<Arc<ClientConfig>>, Error> {
    if !level.verifies_certificate() {
        return client_config_with_roots(level, RootCertStore::empty());
    }
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (mut added, _ignored) = roots.add_parsable_certificates(found.certs);
    if let Some(path) = ca_file {
        let (extra, _ignored) =
            roots.add_parsable_certificates(crate::pem::load_certificates(path)?);
        added += extra;
    }
    if added == 0 {
        return Err(Error::NoRootCertificates {
            errors: found.errors,
        });
    }
    for e in &found.errors {
        tracing::warn!("some system root certificates could not be loaded: {e}");
    }
    client_config_with_roots(level, roots)
}

/// Like [`client_config`], with the trusted roots given (tests, or a
/// private CA); `roots` is ignored below `verify`.
///
/// # Errors
///
/// [`Error::NoRootCertificates`] when `verify`/`secure` is asked for with
/// an empty `roots`.
pub fn client_config_with_roots(
    level: SecurityLevel,
    roots: RootCertStore,
) -> Result<Option<Arc<ClientConfig>>, Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|source| Error::Provider { source })?;
    let config = match level {
        SecurityLevel::None => return Ok(None),
        SecurityLevel::May | SecurityLevel::Encrypt => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
            .with_no_client_auth(),
        SecurityLevel::Verify | SecurityLevel::Secure => {
            if roots.is_empty() {
                return Err(Error::NoRootCertificates { errors: Vec::new() });
            }
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|_| Error::NoRootCertificates { errors: Vec::new() })?;
            builder.with_webpki_verifier(verifier).with_no_client_auth()
        }
    };
    Ok(Some(Arc::new(config)))
}

/// Accepts any certificate chain, for `may` and `encrypt`.
///
/// Opportunistic TLS (RFC 7435) protects against passive eavesdropping
/// only: most MX hosts present certificates that would not verify (self
/// signed, expired, named for another host), and refusing them would just
/// send the mail in plain text instead, which is worse. So the chain and
/// name are not checked. The handshake signatures still are, with the
/// provider's algorithms: they prove the server holds the key of the
/// certificate it sent and bind it to this handshake, so the encryption is
/// real, just not authenticated.
#[derive(Debug)]
struct AnyCertificate {
    /// Supplies the signature algorithms.
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse() {
        let cases = [
            ("none", SecurityLevel::None),
            ("", SecurityLevel::None),
            ("may", SecurityLevel::May),
            (" MAY ", SecurityLevel::May),
            ("encrypt", SecurityLevel::Encrypt),
            ("verify", SecurityLevel::Verify),
            ("secure", SecurityLevel::Secure),
        ];
        for (text, level) in cases {
            assert_eq!(text.parse::<SecurityLevel>().unwrap(), level, "{text:?}");
        }
        for level in [
            SecurityLevel::None,
            SecurityLevel::May,
            SecurityLevel::Encrypt,
            SecurityLevel::Verify,
            SecurityLevel::Secure,
        ] {
            assert_eq!(level.to_string().parse::<SecurityLevel>().unwrap(), level);
        }
    }

    #[test]
    fn unsupported_and_unknown_levels_are_refused() {
        for word in ["dane", "dane-only", "fingerprint", "DANE"] {
            let err = word.parse::<SecurityLevel>().unwrap_err();
            assert!(
                matches!(err, Error::UnsupportedSecurityLevel { .. }),
                "{word}: {err}"
            );
            assert!(err.to_string().contains("not supported"), "{err}");
        }
        for word in ["maybe", "yes", "tls"] {
            let err = word.parse::<SecurityLevel>().unwrap_err();
            assert!(
                matches!(err, Error::UnknownSecurityLevel { .. }),
                "{word}: {err}"
            );
            assert!(err.to_string().contains(word), "{err}");
        }
    }

    #[test]
    fn what_each_level_requires() {
        assert!(!SecurityLevel::May.requires_tls());
        assert!(SecurityLevel::Encrypt.requires_tls());
        assert!(!SecurityLevel::Encrypt.verifies_certificate());
        assert!(SecurityLevel::Verify.verifies_certificate());
        assert!(SecurityLevel::Secure.verifies_certificate());
    }

    #[test]
    fn configs_by_level() {
        assert!(
            client_config_with_roots(SecurityLevel::None, RootCertStore::empty())
                .unwrap()
                .is_none()
        );
        assert!(client_config(SecurityLevel::None).unwrap().is_none());
        assert!(client_config(SecurityLevel::May).unwrap().is_some());
        let err =
            client_config_with_roots(SecurityLevel::Verify, RootCertStore::empty()).unwrap_err();
        assert!(matches!(err, Error::NoRootCertificates { .. }), "{err}");
    }
}
