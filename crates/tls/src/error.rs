//! [`Error`]: everything that can go wrong building a TLS configuration.

use std::io;
use std::path::PathBuf;

/// Why a TLS configuration could not be built.
///
/// Every variant about a file names it, and every variant about a line of
/// the SNI map names the map and the line, so the message alone tells an
/// admin what to fix. All of them are configuration or environment errors:
/// a daemon logs one and exits (Postfix's `msg_fatal`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A certificate, key or map file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },

    /// A certificate, key or map file is larger than anything sensible,
    /// which usually means the parameter names the wrong file.
    #[error("{path}: larger than {limit} bytes; is this really a PEM file?")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },

    /// A PEM file is malformed (bad section markers, bad base64).
    #[error("{path}: bad PEM data: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        #[source]
        source: rustls_pki_types::pem::Error,
    },

    /// The certificate file holds no `CERTIFICATE` section.
    #[error("{path}: no certificate found (expected a PEM \"CERTIFICATE\" section)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },

    /// The key file holds no private key section.
    #[error(
        "{path}: no private key found (expected a PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" section)"
    )]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },

    /// The key file holds a password-protected key, which a daemon cannot
    /// unlock at start.
    #[error("{path}: the private key is encrypted; store it without a passphrase (mode 0600)")]
    EncryptedKey {
        /// The file.
        path: PathBuf,
    },

    /// The key file holds more than one private key, so which one goes with
    /// the certificate is ambiguous.
    #[error("{path}: more than one private key")]
    SeveralKeys {
        /// The file.
        path: PathBuf,
    },

    /// The private key could not be loaded (unsupported type or corrupt).
    #[error("{path}: unusable private key: {source}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },

    /// The first certificate could not be parsed.
    #[error("{path}: unusable certificate: {source}")]
    BadCertificate {
        /// The certificate file.
        path: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },

    /// The private key is not the one the (first) certificate was issued
    /// for.
    #[error("{key}: the private key does not match the certificate in {cert}")]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file (may be the same file).
        key: PathBuf,
    },

    /// A daemon's key parameter is set but its certificate parameter is
    /// empty, which would silently use the self-signed certificate instead.
    #[error("{key_param} is set but {cert_param} is empty")]
    KeyWithoutCertificate {
        /// The certificate parameter (`smtpd_tls_cert_file`, ...).
        cert_param: &'static str,
        /// The key parameter (`smtpd_tls_key_file`, ...).
        key_param: &'static str,
    },

    /// No certificate is configured and the self-signed one is missing.
    #[error(
        "{cert_param} is empty and the self-signed certificate {path} does not exist (master creates it at start)"
    )]
    NoSelfSigned {
        /// The certificate parameter that is empty.
        cert_param: &'static str,
        /// Where the self-signed certificate should be.
        path: PathBuf,
    },

    /// A line of `tls_server_sni_maps` is not `hostname file...`.
    #[error("{path}:{line}: expected \"hostname /path/to/file.pem\"")]
    SniMapSyntax {
        /// The map file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
    },

    /// A line of `tls_server_sni_maps` has an invalid host name.
    #[error(
        "{path}:{line}: invalid host name {name:?} (a DNS name, or *.domain matching one label)"
    )]
    SniMapBadName {
        /// The map file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// The name as written.
        name: String,
    },

    /// A line of `tls_server_sni_maps` names a relative file.
    #[error("{path}:{line}: {file} is not an absolute path")]
    SniMapRelativePath {
        /// The map file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// The file as written.
        file: PathBuf,
    },

    /// A host name appears twice in `tls_server_sni_maps`.
    #[error("{path}:{line}: {name} is already listed on line {first_line}")]
    SniMapDuplicate {
        /// The map file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// The host name, lower case.
        name: String,
        /// Where it was first listed.
        first_line: usize,
    },

    /// The certificate a line of `tls_server_sni_maps` names is unusable.
    #[error("{path}:{line}: {source}")]
    SniMapEntry {
        /// The map file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What was wrong with the certificate or key.
        #[source]
        source: Box<Error>,
    },

    /// A file or directory for the self-signed certificate could not be
    /// written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },

    /// The self-signed certificate could not be generated (for example, the
    /// host name is not a valid DNS name).
    #[error("cannot generate a self-signed certificate for {hostname:?}: {source}")]
    Generate {
        /// The host name it was for.
        hostname: String,
        /// What rcgen said.
        #[source]
        source: rcgen::Error,
    },

    /// `smtp_tls_security_level` names a level Postern does not know.
    #[error(
        "smtp_tls_security_level: unknown level {level:?} (expected none, may, encrypt, verify or secure)"
    )]
    UnknownSecurityLevel {
        /// The value as written.
        level: String,
    },

    /// `smtp_tls_security_level` names a Postfix level Postern does not
    /// implement.
    #[error(
        "smtp_tls_security_level: {level} is not supported by Postern (use none, may, encrypt, verify or secure)"
    )]
    UnsupportedSecurityLevel {
        /// The value as written.
        level: String,
    },

    /// `verify`/`secure` was asked for but no trusted root certificate
    /// could be loaded.
    #[error("no trusted root certificates found on this system{}", describe_root_errors(.errors))]
    NoRootCertificates {
        /// What went wrong while looking for them (may be empty: none were
        /// there).
        errors: Vec<rustls_native_certs::Error>,
    },

    /// The crypto provider refused a configuration; this is a bug or a
    /// broken build, never a configuration mistake.
    #[error("the TLS library refused the configuration: {source}")]
    Provider {
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// Appends the first few root-loading problems to the message.
fn describe_root_errors(errors: &[rustls_native_certs::Error]) -> String {
    let mut text = String::new();
    for (i, e) in errors.iter().take(3).enumerate() {
        text.push_str(if i == 0 { ": " } else { "; " });
        text.push_str(&e.to_string());
    }
    if errors.len() > 3 {
        text.push_str(&format!("; and {} more", errors.len() - 3));
    }
    text
}
