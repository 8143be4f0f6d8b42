//! Real TLS handshakes over loopback TCP: the server configuration from
//! `server_config`, a tokio-rustls client from `client_config_with_roots`.

// Test code: panicking on a broken expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Accepted, setup};
use tls::rustls::pki_types::{CertificateDer, ServerName};
use tls::rustls::{self, ClientConfig};
use tls::{Daemon, SecurityLevel, TlsConnector};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;

const DEADLINE: Duration = Duration::from_secs(20);

/// What the client saw of a successful handshake.
struct Connected {
    leaf: CertificateDer<'static>,
    summary: String,
    greeting: String,
}

/// Connects to 127.0.0.1:`port` as `name` and reads the greeting.
async fn connect(
    config: Arc<ClientConfig>,
    port: u16,
    name: &str,
) -> Result<Connected, std::io::Error> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let stream = TlsConnector::from(config).connect(server_name, tcp).await?;
    let (_, conn) = stream.get_ref();
    let leaf = conn.peer_certificates().unwrap()[0].clone();
    let summary = tls::describe(conn).unwrap().to_string();
    let mut stream = BufReader::new(stream);
    let mut greeting = String::new();
    stream.read_line(&mut greeting).await?;
    stream.into_inner().shutdown().await?;
    Ok(Connected {
        leaf,
        summary,
        greeting,
    })
}

async fn next(rx: &mut UnboundedReceiver<Result<Accepted, String>>) -> Result<Accepted, String> {
    timeout(DEADLINE, rx.recv())
        .await
        .expect("server reported nothing")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_succeeds_and_sni_picks_the_certificate() {
    let s = setup();
    let server = tls::server_config(&s.params, Daemon::Smtpd).unwrap();
    let (port, mut rx) = common::listen(server).await;
    let client = tls::client_config_with_roots(SecurityLevel::Verify, s.pki.roots())
        .unwrap()
        .unwrap();

    let cases = [
        ("default certificate", "mail.example.org", &s.default),
        ("exact SNI entry", "imap.example.net", &s.imap),
        ("exact SNI entry, other case", "IMAP.Example.NET", &s.imap),
        ("wildcard SNI entry", "smtp.example.com", &s.wildcard),
    ];
    for (what, name, expected) in cases {
        let got = timeout(DEADLINE, connect(Arc::clone(&client), port, name))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(&got.leaf, expected, "{what}");
        assert_eq!(got.greeting, "220 ready\r\n");
        assert_eq!(
            got.summary, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
            "{what}"
        );
        let accepted = next(&mut rx).await.unwrap();
        assert_eq!(accepted.summary, got.summary, "{what}: both ends agree");
        assert_eq!(
            accepted.sni.as_deref(),
            Some(name.to_ascii_lowercase().as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_name_fails_verify_but_not_may() {
    let s = setup();
    let server = tls::server_config(&s.params, Daemon::Pop3d).unwrap();
    let (port, mut rx) = common::listen(server).await;

    // Not in the SNI map: the default certificate, which does not cover it.
    // (`a.b.example.com` is one label too deep for `*.example.com`.)
    for name in ["wrong.example.net", "a.b.example.com"] {
        let verify = tls::client_config_with_roots(SecurityLevel::Verify, s.pki.roots())
            .unwrap()
            .unwrap();
        let err = timeout(DEADLINE, connect(verify, port, name))
            .await
            .unwrap()
            .err()
            .unwrap_or_else(|| panic!("{name}: verify accepted a wrong name"));
        assert!(
            err.to_string().contains("not valid for name"),
            "{name}: {err}"
        );
        assert!(next(&mut rx).await.is_err(), "{name}: server saw the alert");

        // Opportunistic TLS takes it, with no roots at all.
        let may = tls::client_config_with_roots(SecurityLevel::May, rustls::RootCertStore::empty())
            .unwrap()
            .unwrap();
        let got = timeout(DEADLINE, connect(may, port, name))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.leaf, s.default, "{name}");
        let accepted = next(&mut rx).await.unwrap();
        assert_eq!(accepted.summary, got.summary);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn encrypt_accepts_an_untrusted_self_signed_certificate() {
    // The development setup: no certificate configured, the spool's own.
    let pki = common::Pki::new();
    let params = pki.params("");
    std::fs::create_dir(&params.queue_directory).unwrap();
    assert!(tls::ensure_self_signed(&params.queue_directory, &params.myhostname).unwrap());
    let server = tls::server_config(&params, Daemon::Imapd).unwrap();
    let (port, mut rx) = common::listen(server).await;

    let encrypt = tls::client_config(SecurityLevel::Encrypt).unwrap().unwrap();
    let got = timeout(DEADLINE, connect(encrypt, port, "mail.example.org"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.greeting, "220 ready\r\n");
    next(&mut rx).await.unwrap();

    // A verifying client refuses it (not signed by the test CA).
    let verify = tls::client_config_with_roots(SecurityLevel::Verify, pki.roots())
        .unwrap()
        .unwrap();
    let err = timeout(DEADLINE, connect(verify, port, "mail.example.org"))
        .await
        .unwrap()
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls12_is_described_with_openssl_names() {
    let s = setup();
    let server = tls::server_config(&s.params, Daemon::Smtpd).unwrap();
    let (port, mut rx) = common::listen(server).await;
    let client =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(s.pki.roots())
            .with_no_client_auth();
    let got = timeout(
        DEADLINE,
        connect(Arc::new(client), port, "mail.example.org"),
    )
    .await
    .unwrap()
    .unwrap();
    // rcgen's default key is ECDSA P-256, so an ECDSA suite.
    assert_eq!(
        got.summary,
        "TLSv1.2 with cipher ECDHE-ECDSA-AES256-GCM-SHA384 (256/256 bits)"
    );
    assert_eq!(next(&mut rx).await.unwrap().summary, got.summary);
}
