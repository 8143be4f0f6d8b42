//! Helpers shared by the integration tests: a test CA, leaf certificates
//! on disk, a configuration using them, and a tiny TLS listener.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tls::rustls::pki_types::CertificateDer;
use tls::rustls::{self, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A CA and a temp dir holding the files made with it.
pub struct Pki {
    /// Removed on drop.
    pub dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "Postern Test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki {
            dir: tempfile::tempdir().unwrap(),
            ca,
        }
    }

    /// `dir/ca.pem`, for openssl's `-CAfile`.
    pub fn ca_file(&self) -> PathBuf {
        let path = self.dir.path().join("ca.pem");
        fs::write(&path, self.ca.pem()).unwrap();
        path
    }

    /// A root store trusting only this CA.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        roots
    }

    /// Writes `dir/file` holding a new key and the chain (leaf, then CA)
    /// for `names` (CN = the first); returns the path and the leaf.
    pub fn leaf(&self, file: &str, names: &[&str]) -> (PathBuf, CertificateDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let path = self.dir.path().join(file);
        fs::write(
            &path,
            format!("{}{}{}", key.serialize_pem(), cert.pem(), self.ca.pem()),
        )
        .unwrap();
        (path, cert.der().clone())
    }

    /// Parameters from main.cf text (myhostname and queue_directory set).
    pub fn params(&self, main_cf: &str) -> config::Params {
        let text = format!(
            "myhostname = mail.example.org\nqueue_directory = {}/spool\n{main_cf}",
            self.dir.path().display()
        );
        config::Config::parse(self.dir.path(), &text, "")
            .unwrap()
            .params
    }
}

/// What the server saw of one connection.
#[derive(Debug)]
pub struct Accepted {
    /// The client's SNI name.
    pub sni: Option<String>,
    /// `tls::describe` on the server end.
    pub summary: String,
}

/// Listens on 127.0.0.1 port 0 and serves TLS with `config`: each client
/// gets "220 ready" then is read to EOF. Every handshake's outcome is sent
/// on the channel (`Err` holds the server's error text).
pub async fn listen(
    config: Arc<rustls::ServerConfig>,
) -> (u16, mpsc::UnboundedReceiver<Result<Accepted, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tls::TlsAcceptor::from(config);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(mut stream) => {
                        let (_, conn) = stream.get_ref();
                        let accepted = Accepted {
                            sni: conn.server_name().map(str::to_owned),
                            summary: tls::describe(conn).unwrap().to_string(),
                        };
                        let _ = tx.send(Ok(accepted));
                        let _ = stream.write_all(b"220 ready\r\n").await;
                        let _ = stream.flush().await;
                        let mut sink = Vec::new();
                        let _ = stream.read_to_end(&mut sink).await;
                        let _ = stream.shutdown().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                }
            });
        }
    });
    (port, rx)
}

/// A server set up with three certificates: the default one for
/// `mail.example.org` (smtpd_tls_cert_file), and by SNI `imap.example.net`
/// and `*.example.com`.
pub struct Setup {
    pub pki: Pki,
    pub params: config::Params,
    /// The leaf of each certificate.
    pub default: CertificateDer<'static>,
    pub imap: CertificateDer<'static>,
    pub wildcard: CertificateDer<'static>,
}

pub fn setup() -> Setup {
    let pki = Pki::new();
    let (default_file, default) = pki.leaf("mail.pem", &["mail.example.org"]);
    let (imap_file, imap) = pki.leaf("imap.pem", &["imap.example.net"]);
    let (wild_file, wildcard) = pki.leaf("wild.pem", &["*.example.com"]);
    let map = pki.dir.path().join("sni");
    fs::write(
        &map,
        format!(
            "# test SNI map\nimap.example.net {}\n*.example.com {}\n",
            imap_file.display(),
            wild_file.display()
        ),
    )
    .unwrap();
    let params = pki.params(&format!(
        "smtpd_tls_cert_file = {}\ntls_server_sni_maps = {}\n",
        default_file.display(),
        map.display()
    ));
    Setup {
        pki,
        params,
        default,
        imap,
        wildcard,
    }
}
