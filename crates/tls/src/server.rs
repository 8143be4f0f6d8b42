//! [`server_config`]: the rustls server configuration of one daemon.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;

use crate::pem::load_certified_key;
use crate::self_signed::self_signed_path;
use crate::{Error, provider, sni};

/// The daemons that serve TLS, each with its own certificate parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Daemon {
    /// The SMTP server: `smtpd_tls_cert_file`, `smtpd_tls_key_file`.
    Smtpd,
    /// The POP3 server: `pop3d_tls_cert_file`, `pop3d_tls_key_file`.
    Pop3d,
    /// The IMAP server: `imapd_tls_cert_file`, `imapd_tls_key_file`.
    Imapd,
}

impl Daemon {
    /// The program name (`smtpd`), as in logs and master.cf.
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Smtpd => "smtpd",
            Daemon::Pop3d => "pop3d",
            Daemon::Imapd => "imapd",
        }
    }

    /// The names of its certificate and key parameters.
    pub fn parameter_names(self) -> (&'static str, &'static str) {
        match self {
            Daemon::Smtpd => ("smtpd_tls_cert_file", "smtpd_tls_key_file"),
            Daemon::Pop3d => ("pop3d_tls_cert_file", "pop3d_tls_key_file"),
            Daemon::Imapd => ("imapd_tls_cert_file", "imapd_tls_key_file"),
        }
    }

    /// The values of its certificate and key parameters.
    fn parameters(self, params: &config::Params) -> (Option<&Path>, Option<&Path>) {
        let (cert, key) = match self {
            Daemon::Smtpd => (&params.smtpd_tls_cert_file, &params.smtpd_tls_key_file),
            Daemon::Pop3d => (&params.pop3d_tls_cert_file, &params.pop3d_tls_key_file),
            Daemon::Imapd => (&params.imapd_tls_cert_file, &params.imapd_tls_key_file),
        };
        (cert.as_deref(), key.as_deref())
    }
}

impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a daemon's default certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateSource {
    /// The files the daemon's parameters name.
    Configured {
        /// The certificate chain file.
        cert: PathBuf,
        /// The private key file (often the same file).
        key: PathBuf,
    },
    /// No certificate is configured: the spool's self-signed one.
    SelfSigned(PathBuf),
}

/// Which files `server_config` reads for a daemon's default certificate.
///
/// A daemon can log this at start; [`server_config`] uses it.
pub fn certificate_source(
    params: &config::Params,
    daemon: Daemon,
) -> Result<CertificateSource, Error> {
    let (cert_param, key_param) = daemon.parameter_names();
    match daemon.parameters(params) {
        (Some(cert), key) => Ok(CertificateSource::Configured {
            cert: cert.to_owned(),
            // An empty key parameter means "in the certificate file".
            key: key.unwrap_or(cert).to_owned(),
        }),
        (None, Some(_)) => Err(Error::KeyWithoutCertificate {
            cert_param,
            key_param,
        }),
        (None, None) => Ok(CertificateSource::SelfSigned(self_signed_path(
            &params.queue_directory,
        ))),
    }
}

/// Builds the TLS acceptor of `daemon` from its server configuration.
///
/// The default certificate comes from the daemon's cert/key parameters,
/// or, when its cert parameter is empty, from the self-signed file in the
/// spool ([`self_signed_path`]; master creates it with
/// [`ensure_self_signed`](crate::ensure_self_signed)). `tls_server_sni_maps`,
/// when set, adds certificates chosen by the client's SNI name.
///
/// TLS 1.2 and 1.3 only, on the *ring* provider's cipher suites, all of them
/// AEAD with forward secrecy. The client's cipher preference is honoured
/// (`ignore_client_order = false`, Postfix's `tls_preempt_cipherlist = no`):
/// every suite offered is strong, and a client knows best whether it has
/// AES hardware or should prefer ChaCha20. No client certificates are asked
/// for.
///
/// Call it while the key files are still readable (before dropping
/// privileges) and again on reload; the result is immutable and cheap to
/// share between connections.
///
/// # Errors
///
/// Any unreadable, malformed or inconsistent file, and any bad SNI map
/// line; every message names the file (and line).
pub fn acceptor(params: &config::Params, daemon: Daemon) -> Result<crate::TlsAcceptor, Error> {
    server_config(params, daemon).map(crate::TlsAcceptor::from)
}

/// The rustls configuration behind [`acceptor`], for callers that wrap it
/// themselves.
pub fn server_config(params: &config::Params, daemon: Daemon) -> Result<Arc<ServerConfig>, Error> {
    let provider = provider();
    let default = match certificate_source(params, daemon)? {
        CertificateSource::Configured { cert, key } => {
            let key = load_certified_key(&[&cert], &[&key], &provider)?;
            tracing::debug!(daemon = daemon.name(), file = %cert.display(), "TLS certificate loaded");
            key
        }
        CertificateSource::SelfSigned(path) => {
            if !path.exists() {
                return Err(Error::NoSelfSigned {
                    cert_param: daemon.parameter_names().0,
                    path,
                });
            }
            let key = load_certified_key(&[&path], &[&path], &provider)?;
            tracing::debug!(daemon = daemon.name(), file = %path.display(), "self-signed TLS certificate loaded");
            key
        }
    };
    let sni = match &params.tls_server_sni_maps {
        Some(map) => sni::load(map, &provider)?,
        None => sni::SniCertificates::default(),
    };
    let resolver = sni::Resolver { default, sni };

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| Error::Provider { source })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.ignore_client_order = false;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn params(dir: &Path, main_cf: &str) -> config::Params {
        let text = format!(
            "myhostname = mail.example.org\nqueue_directory = {}/spool\n{main_cf}",
            dir.display()
        );
        config::Config::parse(dir, &text, "").unwrap().params
    }

    fn write_leaf(path: &Path, name: &str) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        fs::write(path, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();
    }

    #[test]
    fn key_defaults_to_certificate_file_and_daemons_to_smtpd() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("mail.pem");
        write_leaf(&pem, "mail.example.org");
        let p = params(
            dir.path(),
            &format!("smtpd_tls_cert_file = {}\n", pem.display()),
        );
        for daemon in [Daemon::Smtpd, Daemon::Pop3d, Daemon::Imapd] {
            assert_eq!(
                certificate_source(&p, daemon).unwrap(),
                CertificateSource::Configured {
                    cert: pem.clone(),
                    key: pem.clone()
                },
                "{daemon}"
            );
            server_config(&p, daemon).unwrap();
        }
    }

    #[test]
    fn empty_parameters_mean_self_signed() {
        let dir = tempfile::tempdir().unwrap();
        let p = params(dir.path(), "");
        let spool = dir.path().join("spool");
        assert_eq!(
            certificate_source(&p, Daemon::Imapd).unwrap(),
            CertificateSource::SelfSigned(spool.join("tls/self-signed.pem"))
        );
        let err = server_config(&p, Daemon::Imapd).unwrap_err();
        assert!(matches!(err, Error::NoSelfSigned { .. }), "{err}");
        assert!(err.to_string().contains("imapd_tls_cert_file"), "{err}");

        fs::create_dir(&spool).unwrap();
        assert!(crate::ensure_self_signed(&spool, "mail.example.org").unwrap());
        server_config(&p, Daemon::Imapd).unwrap();
    }

    #[test]
    fn key_without_certificate_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = params(dir.path(), "pop3d_tls_key_file = /etc/ssl/key.pem\n");
        let err = server_config(&p, Daemon::Pop3d).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pop3d_tls_key_file is set but pop3d_tls_cert_file is empty"
        );
        // smtpd is unaffected.
        assert!(matches!(
            certificate_source(&p, Daemon::Smtpd).unwrap(),
            CertificateSource::SelfSigned(_)
        ));
    }

    #[test]
    fn bad_sni_map_line_stops_the_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("mail.pem");
        write_leaf(&pem, "mail.example.org");
        let map = dir.path().join("sni");
        fs::write(
            &map,
            format!(
                "imap.example.org {}\nbroken.example.org {}/missing.pem\n",
                pem.display(),
                dir.path().display()
            ),
        )
        .unwrap();
        let p = params(
            dir.path(),
            &format!(
                "smtpd_tls_cert_file = {}\ntls_server_sni_maps = {}\n",
                pem.display(),
                map.display()
            ),
        );
        let err = server_config(&p, Daemon::Smtpd).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{}:2: ", map.display())),
            "{text}"
        );
        assert!(text.contains("missing.pem"), "{text}");
    }

    #[test]
    fn client_cipher_order_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("mail.pem");
        write_leaf(&pem, "mail.example.org");
        let p = params(
            dir.path(),
            &format!("smtpd_tls_cert_file = {}\n", pem.display()),
        );
        let config = server_config(&p, Daemon::Smtpd).unwrap();
        assert!(!config.ignore_client_order);
    }
}
