//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::time::{Duration, UNIX_EPOCH};

use spool::{Client, DsnNotify, DsnRet, Envelope, QueueFile, QueueId, Recipient, Spool};

/// A fresh spool with all directories, in a temp dir removed on drop.
pub fn spool() -> (tempfile::TempDir, Spool) {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::new(dir.path().join("spool"));
    spool.create_dirs(None).unwrap();
    (dir, spool)
}

/// A fixed envelope with `n` recipients.
pub fn envelope(n: usize) -> Envelope {
    Envelope {
        sender: "alice@example.org".into(),
        recipients: (0..n)
            .map(|i| Recipient {
                address: format!("rcpt{i}@example.net"),
                orcpt: (i % 2 == 0).then(|| format!("rfc822;rcpt{i}@example.net")),
                notify: DsnNotify {
                    failure: true,
                    delay: i % 3 == 0,
                    ..DsnNotify::default()
                },
            })
            .collect(),
        arrival: UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
        client: Some(Client {
            name: "mx.example.org".into(),
            addr: "192.0.2.1".into(),
            helo: Some("mx.example.org".into()),
            protocol: "ESMTPS".into(),
        }),
        auth_user: None,
        dsn_envid: Some("envid-1".into()),
        dsn_ret: Some(DsnRet::Headers),
        body_8bit: true,
        smtputf8: false,
    }
}

/// A message of `len` bytes with a recognisable pattern.
pub fn message(len: usize) -> Vec<u8> {
    let mut m = b"Subject: test\r\n\r\n".to_vec();
    m.extend((0..len).map(|i| b"abcdefghijklmnopqrstuvwxyz\r\n"[i % 28]));
    m.truncate(len);
    m
}

/// Write and commit a queue file.
pub fn write(spool: &Spool, env: &Envelope, msg: &[u8]) -> QueueId {
    let mut w = spool.create(env).unwrap();
    w.write_all(msg).unwrap();
    w.commit().unwrap()
}

/// The whole message of an open queue file.
pub fn read_message(file: &QueueFile) -> Vec<u8> {
    let mut out = Vec::new();
    file.message().read_to_end(&mut out).unwrap();
    out
}
