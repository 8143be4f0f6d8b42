//! The queue-file format: pinned bytes, crash cuts, bit flips, round trips.

// Test code: panicking on a broken expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use common::{read_message, spool};
use proptest::prelude::*;
use spool::{
    Client, Corruption, DsnNotify, DsnRet, Envelope, Error, Queue, QueueId, Recipient,
    RecipientState, Spool,
};

/// The golden file: a version-1 queue file with three update records.
fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/queue-file-v1.bin")
}

fn golden_envelope() -> Envelope {
    Envelope {
        sender: "alice@example.org".into(),
        recipients: vec![
            Recipient {
                address: "bob@example.net".into(),
                orcpt: Some("rfc822;bob@example.net".into()),
                notify: DsnNotify {
                    success: true,
                    failure: true,
                    ..DsnNotify::default()
                },
            },
            Recipient {
                address: "carol@example.net".into(),
                orcpt: None,
                notify: DsnNotify::default(),
            },
            Recipient {
                address: "dave@example.com".into(),
                orcpt: None,
                notify: DsnNotify {
                    never: true,
                    ..DsnNotify::default()
                },
            },
        ],
        arrival: UNIX_EPOCH + Duration::new(1_700_000_000, 250_000_000),
        client: Some(Client {
            name: "mail.example.org".into(),
            addr: "192.0.2.25".into(),
            helo: Some("mail.example.org".into()),
            protocol: "ESMTPSA".into(),
        }),
        auth_user: Some("alice".into()),
        dsn_envid: Some("QQ314159".into()),
        dsn_ret: Some(DsnRet::Full),
        body_8bit: true,
        smtputf8: false,
    }
}

const GOLDEN_MESSAGE: &[u8] = b"Received: from mail.example.org\r\n\
From: alice@example.org\r\nTo: bob@example.net\r\nSubject: golden\r\n\r\nHello.\r\n";

/// Mark the golden updates on an open file.
fn golden_updates(f: &mut spool::QueueFile) {
    f.mark_done(0).unwrap();
    f.mark_deferred(1, "4.4.1 Connection timed out").unwrap();
    f.mark_failed(2, "5.1.1", "User unknown").unwrap();
}

fn golden_states() -> Vec<RecipientState> {
    vec![
        RecipientState::Done,
        RecipientState::Deferred("4.4.1 Connection timed out".into()),
        RecipientState::Failed {
            status: "5.1.1".into(),
            reason: "User unknown".into(),
        },
    ]
}

/// Write the golden queue file afresh and return its bytes.
fn write_golden(spool: &Spool) -> Vec<u8> {
    let id = common::write(spool, &golden_envelope(), GOLDEN_MESSAGE);
    let mut f = spool.open(Queue::Incoming, &id).unwrap();
    golden_updates(&mut f);
    fs::read(spool.path(Queue::Incoming, &id)).unwrap()
}

#[test]
fn golden_bytes_are_pinned() {
    let (_tmp, spool) = spool();
    let bytes = write_golden(&spool);
    if std::env::var_os("POSTERN_BLESS").is_some() {
        fs::write(golden_path(), &bytes).unwrap();
    }
    let golden = fs::read(golden_path()).expect(
        "tests/data/queue-file-v1.bin missing; create it deliberately with POSTERN_BLESS=1",
    );
    assert!(
        bytes == golden,
        "the queue-file format changed: this breaks files already in spools. \
         Add a new version instead (and only then re-bless with POSTERN_BLESS=1).\n\
         new:    {}\ngolden: {}",
        hex(&bytes),
        hex(&golden)
    );
}

#[test]
fn golden_file_still_reads() {
    let (_tmp, spool) = spool();
    let id = QueueId::new();
    fs::copy(golden_path(), spool.path(Queue::Active, &id)).unwrap();
    let f = spool.open(Queue::Active, &id).unwrap();
    assert_eq!(f.envelope(), &golden_envelope());
    assert_eq!(read_message(&f), GOLDEN_MESSAGE);
    assert_eq!(f.states(), &golden_states()[..]);
    assert_eq!(f.torn_tail(), None);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A committed file with update records, and the facts the tests check against.
struct Sample {
    bytes: Vec<u8>,
    /// End of the trailer: the shortest complete file.
    committed_len: usize,
    /// File length after each update record (the record boundaries).
    boundaries: Vec<usize>,
    /// States after 0, 1, 2, ... update records.
    states: Vec<Vec<RecipientState>>,
}

fn sample() -> Sample {
    let (_tmp, spool) = spool();
    let env = golden_envelope();
    let id = common::write(&spool, &env, GOLDEN_MESSAGE);
    let path = spool.path(Queue::Incoming, &id);
    let committed_len = fs::metadata(&path).unwrap().len() as usize;
    let mut f = spool.open(Queue::Incoming, &id).unwrap();
    let mut states = vec![f.states().to_vec()];
    let mut boundaries = vec![committed_len];
    let steps: [&dyn Fn(&mut spool::QueueFile); 4] = [
        &|f| f.mark_deferred(1, "4.4.1 Connection timed out").unwrap(),
        &|f| f.mark_done(0).unwrap(),
        &|f| f.mark_deferred(1, "4.4.2 Lost connection").unwrap(),
        &|f| f.mark_failed(2, "5.1.1", "User unknown").unwrap(),
    ];
    for step in steps {
        step(&mut f);
        states.push(f.states().to_vec());
        boundaries.push(fs::metadata(&path).unwrap().len() as usize);
    }
    Sample {
        bytes: fs::read(&path).unwrap(),
        committed_len,
        boundaries,
        states,
    }
}

/// Put `bytes` into a spool as a queue file and open it.
fn open_bytes(spool: &Spool, bytes: &[u8]) -> Result<spool::QueueFile, Error> {
    let id = QueueId::new();
    fs::write(spool.path(Queue::Active, &id), bytes).unwrap();
    spool.open(Queue::Active, &id)
}

#[test]
fn every_cut_is_complete_and_right_or_incomplete() {
    let s = sample();
    let (_tmp, spool) = spool();
    for cut in 0..=s.bytes.len() {
        let result = open_bytes(&spool, &s.bytes[..cut]);
        if cut < s.committed_len {
            match result {
                Err(Error::Incomplete { .. }) => {}
                Err(e) => panic!("cut at {cut}: expected Incomplete, got {e}"),
                Ok(_) => panic!("cut at {cut}: read as complete"),
            }
            continue;
        }
        let f = result.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(f.envelope(), &golden_envelope(), "cut at {cut}");
        assert_eq!(read_message(&f), GOLDEN_MESSAGE, "cut at {cut}");
        // Records wholly inside the cut apply; a partial one does not.
        let whole = s.boundaries.iter().filter(|b| **b <= cut).count() - 1;
        assert_eq!(f.states(), &s.states[whole][..], "cut at {cut}");
        let on_boundary = s.boundaries.contains(&cut);
        assert_eq!(f.torn_tail().is_none(), on_boundary, "cut at {cut}");
    }
}

#[test]
fn every_single_byte_flip_is_caught() {
    let s = sample();
    let (_tmp, spool) = spool();
    for offset in 0..s.bytes.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut bytes = s.bytes.clone();
            bytes[offset] ^= mask;
            let result = open_bytes(&spool, &bytes);
            let f = match result {
                Err(e) if e.is_damaged() => continue,
                Err(e) => panic!("flip {mask:#x} at {offset}: unexpected error {e}"),
                Ok(f) => f,
            };
            // Only a flip inside an update record may leave the file
            // readable, and then only with that record (and any later
            // ones) rejected.
            assert!(
                offset >= s.committed_len,
                "flip {mask:#x} at {offset} in the committed part was accepted"
            );
            assert_eq!(f.envelope(), &golden_envelope());
            assert_eq!(read_message(&f), GOLDEN_MESSAGE);
            let record = s.boundaries.iter().filter(|b| **b <= offset).count() - 1;
            let applied = (0..=record)
                .find(|k| f.states() == &s.states[*k][..])
                .unwrap_or_else(|| {
                    panic!(
                        "flip {mask:#x} at {offset} (record {record}): states {:?}",
                        f.states()
                    )
                });
            assert!(applied <= record);
            assert!(f.torn_tail().is_some(), "flip at {offset} not reported");
        }
    }
}

#[test]
fn specific_damage_is_classified() {
    let s = sample();
    let (_tmp, spool) = spool();
    let corrupt = |bytes: &[u8]| match open_bytes(&spool, bytes) {
        Err(Error::Corrupt { reason, .. }) => reason,
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("expected Corrupt, got Ok"),
    };

    let mut b = s.bytes.clone();
    b[0] = b'X';
    assert_eq!(corrupt(&b), Corruption::BadMagic);
    assert_eq!(corrupt(b"GARBAGE"), Corruption::BadMagic);

    let mut b = s.bytes.clone();
    b[9] = 9; // version 9
    assert_eq!(corrupt(&b), Corruption::UnsupportedVersion(9));

    let mut b = s.bytes.clone();
    let last = s.committed_len - 40; // a message byte
    b[last] ^= 0x20;
    assert!(matches!(corrupt(&b), Corruption::Checksum { .. }));

    let mut b = s.bytes.clone();
    b[s.committed_len - 10] ^= 1; // inside the trailer
    assert!(matches!(corrupt(&b), Corruption::BadTrailer(_)));

    // A complete record with a valid checksum but an unknown type.
    let mut b = s.bytes[..s.committed_len].to_vec();
    b.extend_from_slice(&record(9, &[0]));
    assert!(matches!(
        corrupt(&b),
        Corruption::UnknownUpdate { tag: 9, .. }
    ));

    // Valid records about a recipient that does not exist, or after Done.
    let mut b = s.bytes[..s.committed_len].to_vec();
    b.extend_from_slice(&record(1, &[7])); // Done{rcpt: 7}
    assert!(matches!(
        corrupt(&b),
        Corruption::UpdateRecipient { rcpt: 7, .. }
    ));
    let mut b = s.bytes[..s.committed_len].to_vec();
    b.extend_from_slice(&record(1, &[0]));
    b.extend_from_slice(&record(1, &[0]));
    assert!(matches!(
        corrupt(&b),
        Corruption::UpdateAfterFinal { rcpt: 0, .. }
    ));

    // A damaged record in the middle is corruption, not a torn tail.
    let mut b = s.bytes.clone();
    b[s.boundaries[1] + 6] ^= 1;
    assert!(matches!(corrupt(&b), Corruption::UpdateChecksum(_)));

    // Empty and partial-magic files are incomplete, not corrupt.
    for prefix in [&b""[..], b"POST", b"POSTERNQ\0"] {
        assert!(matches!(
            open_bytes(&spool, prefix),
            Err(Error::Incomplete { .. })
        ));
    }
}

/// An update record with a correct checksum (CRC-32/ISO-HDLC, computed here
/// independently of the crate).
fn record(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![tag];
    r.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    r.extend_from_slice(payload);
    let mut crc = !0u32;
    for &b in &r {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    r.extend_from_slice(&(!crc).to_be_bytes());
    r
}

// ---------------------------------------------------------------------------
// Property tests.

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[a-z@.]{0,20}", Just(String::new())]
}

fn envelope_strategy() -> impl Strategy<Value = Envelope> {
    let recipient = (
        text(),
        proptest::option::of(text()),
        any::<(bool, bool, bool, bool)>(),
    )
        .prop_map(
            |(address, orcpt, (never, success, failure, delay))| Recipient {
                address,
                orcpt,
                notify: DsnNotify {
                    never,
                    success,
                    failure,
                    delay,
                },
            },
        );
    let client = (text(), text(), proptest::option::of(text()), text()).prop_map(
        |(name, addr, helo, protocol)| Client {
            name,
            addr,
            helo,
            protocol,
        },
    );
    (
        text(),
        proptest::collection::vec(recipient, 0..6),
        (0u64..(1 << 40), 0u32..1_000_000_000),
        proptest::option::of(client),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(prop_oneof![Just(DsnRet::Full), Just(DsnRet::Headers)]),
        any::<(bool, bool)>(),
    )
        .prop_map(
            |(
                sender,
                recipients,
                (secs, nanos),
                client,
                auth_user,
                dsn_envid,
                dsn_ret,
                (b8, u8),
            )| {
                Envelope {
                    sender,
                    recipients,
                    arrival: UNIX_EPOCH + Duration::new(secs, nanos),
                    client,
                    auth_user,
                    dsn_envid,
                    dsn_ret,
                    body_8bit: b8,
                    smtputf8: u8,
                }
            },
        )
}

fn message_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(any::<u8>(), 60_000..140_000),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn arbitrary_envelopes_and_messages_round_trip(
        env in envelope_strategy(),
        msg in message_strategy(),
        chunk in 1usize..10_000,
    ) {
        let (_tmp, spool) = spool();
        let mut w = spool.create(&env).unwrap();
        for piece in msg.chunks(chunk) {
            w.write_all(piece).unwrap();
        }
        let id = w.commit().unwrap();
        let f = spool.open(Queue::Incoming, &id).unwrap();
        prop_assert_eq!(f.envelope(), &env);
        prop_assert_eq!(f.message_size(), msg.len() as u64);
        prop_assert_eq!(read_message(&f), msg);
        prop_assert!(f.states().iter().all(|s| *s == RecipientState::Pending));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..200),
        keep in 0usize..600,
    ) {
        // Start from a real file so the interesting paths are reached.
        let s = sample();
        let (_tmp, spool) = spool();
        let mut bytes = s.bytes[..keep.min(s.bytes.len())].to_vec();
        bytes.extend_from_slice(&tail);
        if let Ok(f) = open_bytes(&spool, &bytes) {
            prop_assert_eq!(f.envelope(), &golden_envelope());
            prop_assert_eq!(read_message(&f), GOLDEN_MESSAGE);
        }
    }
}
