//! # tls: rustls configurations for every Postern daemon
//!
//! Builds the TLS server configuration of smtpd, pop3d and imapd from PEM
//! files, the SMTP client's configuration from `smtp_tls_security_level`,
//! and the development certificate that makes TLS work before an admin
//! has a real one. It re-exports [`rustls`], [`TlsAcceptor`] and
//! [`TlsConnector`], so a daemon depends on this crate alone.
//!
//! # How it works
//!
//! **Server.** [`server_config`] reads the daemon's certificate chain and
//! private key ([`Daemon`] says which parameters). A file may hold the key
//! and the chain together; keys may be PKCS#8 (RSA, ECDSA, Ed25519), PKCS#1
//! RSA or SEC1 EC, unencrypted. The key is checked against the first
//! certificate, so a mismatched pair fails at start rather than at the
//! first handshake. When the certificate parameter is empty the daemon uses
//! the self-signed certificate in the spool. `tls_server_sni_maps` adds
//! certificates chosen by the client's SNI name (exact names and
//! `*.domain` wildcards); other clients get the daemon's own certificate.
//! A reload is a new call: the returned configuration is immutable, so
//! sessions already running keep the one they started with.
//!
//! **Development certificate.** [`ensure_self_signed`] (called by master at
//! start) writes `queue_directory/tls/self-signed.pem` once: a fresh ECDSA
//! P-256 key and a ten-year certificate for `myhostname` and `localhost`.
//! STARTTLS and implicit TLS therefore work out of the box, and clients
//! that verify certificates rightly complain until a real one is set.
//!
//! **Client.** [`client_config`] maps Postfix's levels: `none` (no TLS),
//! `may` and `encrypt` (any certificate; see [`SecurityLevel`] for why that
//! is right for opportunistic TLS), `verify` and `secure` (the system's
//! root certificates and the host name the caller connects to).
//!
//! **Logs.** [`describe`] gives the negotiated protocol and cipher in the
//! shape Postfix logs them and puts them in `Received:` headers:
//! `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`.
//!
//! # Security
//!
//! TLS 1.2 and 1.3 only, with rustls's safe defaults on the *ring* crypto
//! provider: AEAD cipher suites with forward secrecy, nothing older or
//! weaker is even compiled in. The server honours the client's order among
//! those suites (all are strong; see [`server_config`]). Private keys are
//! read in the daemon's prepare step, while it may still be root, so key
//! files can stay readable by root alone (mode 0600); nothing here is read
//! per connection. The self-signed file is created with mode 0600 in a 0700
//! directory, through a temporary file with `O_EXCL` (no symlink
//! following) and an atomic rename. Inputs are admin-controlled files:
//! they are still read with a size bound and never cause a panic; a bad
//! one is an error that stops the daemon, never a silent fallback to
//! another certificate. Certificates of `may`/`encrypt` peers are not
//! authenticated, by design of opportunistic TLS; handshake signatures are.
//!
//! # Errors
//!
//! One [`Error`] type; every variant names the file (and the line, for the
//! SNI map) and what was wrong: no certificate, no private key, an
//! encrypted key, a key that does not match the certificate, bad PEM, a
//! bad map line, an unknown security level, no system roots.
//!
//! # Configuration
//!
//! - `smtpd_tls_cert_file`, `smtpd_tls_key_file`: smtpd's chain and key
//!   (PEM); the key defaults to the certificate file; an empty certificate
//!   means `queue_directory/tls/self-signed.pem`.
//! - `pop3d_tls_cert_file`, `pop3d_tls_key_file`, `imapd_tls_cert_file`,
//!   `imapd_tls_key_file`: the same for pop3d and imapd, defaulting to
//!   smtpd's.
//! - `tls_server_sni_maps`: a file of `hostname /path/to/key-and-chain.pem`
//!   lines (see the `sni` module for the exact syntax).
//! - `smtp_tls_security_level`: `none`, `may`, `encrypt`, `verify`,
//!   `secure` ([`SecurityLevel`]).
//! - `myhostname` (the self-signed certificate's name) and
//!   `queue_directory` (where it lives).

mod client;
mod error;
mod pem;
mod self_signed;
mod server;
mod sni;
mod stream;
mod summary;

use std::sync::Arc;

pub use client::{
    SecurityLevel, client_config, client_config_with_ca_file, client_config_with_roots,
};
pub use error::Error;
pub use self_signed::{ensure_self_signed, self_signed_path};
pub use server::{CertificateSource, Daemon, acceptor, certificate_source, server_config};
pub use stream::MaybeTls;
pub use summary::{TlsSummary, describe};

pub use rustls;
/// A client-side TLS stream, as `TlsConnector::connect` gives it.
pub use tokio_rustls::client::TlsStream as ClientTlsStream;
/// A server-side TLS stream, as `TlsAcceptor::accept` gives it.
pub use tokio_rustls::server::TlsStream as ServerTlsStream;
pub use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The one crypto provider every configuration here uses: *ring*, never
/// the process-wide default, so another crate enabling aws-lc-rs cannot
/// change what we negotiate.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
