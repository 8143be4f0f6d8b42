//! A real external client: `openssl s_client` against a listener serving
//! `server_config`. Skipped, saying so, when openssl is not installed.

// Test code: panicking on a broken expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use common::setup;
use tls::Daemon;
use tokio::process::Command;
use tokio::time::timeout;

const DEADLINE: Duration = Duration::from_secs(30);

/// Whether `openssl` can be run; prints why the test is skipped if not.
async fn have_openssl() -> bool {
    match Command::new("openssl")
        .arg("version")
        .stdin(Stdio::null())
        .output()
        .await
    {
        Ok(out) if out.status.success() => true,
        other => {
            eprintln!("SKIPPED: openssl is not installed or does not run ({other:?})");
            false
        }
    }
}

/// Runs `openssl s_client -brief` against 127.0.0.1:`port` with stdin
/// closed, so it ends right after the handshake.
async fn s_client(port: u16, extra: &[&str]) -> (Output, String) {
    let mut cmd = Command::new("openssl");
    cmd.arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-brief")
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = timeout(DEADLINE, cmd.output())
        .await
        .expect("openssl s_client did not finish in time")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn openssl_s_client_completes_a_verified_tls13_handshake() {
    if !have_openssl().await {
        return;
    }
    let s = setup();
    let ca = s.pki.ca_file();
    let server = tls::server_config(&s.params, Daemon::Smtpd).unwrap();
    let (port, mut rx) = common::listen(server).await;

    for (name, cn) in [
        ("imap.example.net", "imap.example.net"),
        ("mx1.example.com", "*.example.com"),
        ("mail.example.org", "mail.example.org"),
    ] {
        let ca = ca.to_str().unwrap();
        let (out, text) = s_client(
            port,
            &[
                "-servername",
                name,
                "-CAfile",
                ca,
                "-verify_hostname",
                name,
                "-verify_return_error",
            ],
        )
        .await;
        assert!(out.status.success(), "{name}: openssl failed:\n{text}");
        assert!(text.contains("CONNECTION ESTABLISHED"), "{name}:\n{text}");
        assert!(
            text.contains("Protocol version: TLSv1.3"),
            "{name}:\n{text}"
        );
        assert!(
            text.contains(&format!("Peer certificate: CN = {cn}")),
            "{name}:\n{text}"
        );
        assert!(text.contains("Verification: OK"), "{name}:\n{text}");

        let accepted = timeout(DEADLINE, rx.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(accepted.sni.as_deref(), Some(name));
        // openssl lists AES-256 first and the server honours the client's
        // order.
        assert_eq!(
            accepted.summary,
            "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
        );
        assert!(
            text.contains("Ciphersuite: TLS_AES_256_GCM_SHA384"),
            "{name}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openssl_s_client_tls12_works_and_tls11_is_refused() {
    if !have_openssl().await {
        return;
    }
    let s = setup();
    let server = tls::server_config(&s.params, Daemon::Imapd).unwrap();
    let (port, mut rx) = common::listen(server).await;

    let (out, text) = s_client(port, &["-servername", "mail.example.org", "-tls1_2"]).await;
    assert!(out.status.success(), "openssl failed:\n{text}");
    assert!(text.contains("Protocol version: TLSv1.2"), "{text}");
    assert!(
        text.contains("Ciphersuite: ECDHE-ECDSA-AES256-GCM-SHA384"),
        "{text}"
    );
    let accepted = timeout(DEADLINE, rx.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        accepted.summary,
        "TLSv1.2 with cipher ECDHE-ECDSA-AES256-GCM-SHA384 (256/256 bits)"
    );

    // Lower openssl's own floor so it really offers TLS 1.1; the server
    // must refuse it.
    let (out, text) = s_client(
        port,
        &[
            "-servername",
            "mail.example.org",
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ],
    )
    .await;
    assert!(!out.status.success(), "TLS 1.1 was accepted:\n{text}");
    assert!(!text.contains("CONNECTION ESTABLISHED"), "{text}");
    let refused = timeout(DEADLINE, rx.recv()).await.unwrap().unwrap();
    let err = refused.unwrap_err();
    assert!(err.contains("incompatible"), "server said: {err}");
}
