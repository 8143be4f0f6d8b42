//! Tests of the `maildirsize` quota file.

use std::fs;

use super::*;
use crate::tests::maildir;
use crate::{DEFAULT_MODE, Flags, Mailbox};

/// A byte quota of `n`.
fn bytes(n: u64) -> DeliverOptions {
    DeliverOptions {
        quota_bytes: Some(n),
        ..Default::default()
    }
}

/// The quota file's contents.
fn quota_file(md: &Maildir) -> String {
    fs::read_to_string(md.root().join(QUOTA_FILE)).unwrap()
}

#[test]
fn parse_adds_up_complete_lines_under_the_same_limits() {
    let usage = |bytes, messages| Some(Usage { bytes, messages });
    let cases: &[(&str, &str, Option<Usage>)] = &[
        ("sum only", "100S\n10 1\n", usage(10, 1)),
        ("changes", "100S\n10 1\n5 1\n-3 -1\n", usage(12, 1)),
        ("padded", "100S\n   10    1  \n", usage(10, 1)),
        ("both limits", "100S,5C\n7 2\n", None),
        ("other limits", "200S\n10 1\n", None),
        ("no sum", "100S\n", None),
        ("partial last line", "100S\n10 1\n5", None),
        ("one field", "100S\n10\n", None),
        ("three fields", "100S\n10 1 1\n", None),
        ("negative sum", "100S\n10 1\n-11 -1\n", None),
        ("not a number", "100S\nten 1\n", None),
        ("overflow", "100S\n9223372036854775807 1\n1 0\n", None),
        ("empty", "", None),
    ];
    for (what, data, want) in cases {
        assert_eq!(parse_quota_file(data.as_bytes(), "100S"), *want, "{what}");
    }
    assert_eq!(parse_quota_file(b"100S,5C\n7 2\n", "100S,5C"), usage(7, 2));
}

#[test]
fn definition_names_each_limit() {
    let both = DeliverOptions {
        quota_bytes: Some(100),
        quota_messages: Some(5),
        ..Default::default()
    };
    assert_eq!(definition(&bytes(100)), "100S");
    assert_eq!(definition(&both), "100S,5C");
    let count = DeliverOptions {
        quota_messages: Some(5),
        ..Default::default()
    };
    assert_eq!(definition(&count), "5C");
}

#[test]
fn deliveries_keep_the_sum_without_counting_again() {
    let (_dir, md) = maildir();
    md.deliver(&mut &b"12345\n"[..], b"", &bytes(1000)).unwrap();
    assert_eq!(quota_file(&md), "1000S\n0 0\n6 1\n");
    md.deliver(&mut &b"abc"[..], b"", &bytes(1000)).unwrap();
    assert_eq!(quota_file(&md), "1000S\n0 0\n6 1\n3 1\n");
    // The sum is what the check uses: a message the file does not know
    // of is not counted until the next count.
    fs::write(md.path().join("cur/1.2.other,S=500:2,"), b"x").unwrap();
    let tally = Tally::read(&md, &bytes(1000)).unwrap();
    assert_eq!(
        tally.usage,
        Usage {
            bytes: 9,
            messages: 2
        }
    );
    // Other limits: counted afresh, and the file rewritten.
    let tally = Tally::read(&md, &bytes(2000)).unwrap();
    assert_eq!(
        tally.usage,
        Usage {
            bytes: 509,
            messages: 3
        }
    );
    assert_eq!(quota_file(&md), "2000S\n509 3\n");
    // Deliveries without a quota keep the file up to date as well.
    md.deliver(&mut &b"x"[..], b"", &DeliverOptions::default())
        .unwrap();
    assert_eq!(quota_file(&md), "2000S\n509 3\n1 1\n");
}

#[test]
fn a_refusal_is_checked_against_a_fresh_count() {
    let (_dir, md) = maildir();
    md.deliver(&mut &b"12345"[..], b"", &bytes(100)).unwrap();
    // Someone else removed mail without saying so, and the file claims
    // more than there is.
    fs::write(md.root().join(QUOTA_FILE), "100S\n95 1\n").unwrap();
    md.deliver(&mut &b"0123456789"[..], b"", &bytes(100))
        .unwrap();
    assert_eq!(quota_file(&md), "100S\n5 1\n10 1\n");
    // Really over: refused, with the counted usage.
    let err = md
        .deliver(&mut &[b'x'; 90][..], b"", &bytes(100))
        .unwrap_err();
    match err {
        Error::OverQuota { usage, .. } => assert_eq!(
            usage,
            Usage {
                bytes: 15,
                messages: 2
            }
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_file_too_long_or_damaged_is_counted_afresh() {
    let (_dir, md) = maildir();
    md.deliver(&mut &b"12345"[..], b"", &bytes(100)).unwrap();
    let long = format!("100S\n5 1\n{}", "0 0\n".repeat(QUOTA_FILE_MAX / 4));
    fs::write(md.root().join(QUOTA_FILE), long).unwrap();
    md.deliver(&mut &b"ab"[..], b"", &bytes(100)).unwrap();
    assert_eq!(quota_file(&md), "100S\n5 1\n2 1\n");
    fs::write(md.root().join(QUOTA_FILE), "100S\n5 1\n2").unwrap();
    md.deliver(&mut &b"c"[..], b"", &bytes(100)).unwrap();
    assert_eq!(quota_file(&md), "100S\n7 2\n1 1\n");
}

#[test]
fn expunge_append_and_copy_record_their_changes() {
    let (_dir, md) = maildir();
    md.deliver(&mut &b"12345"[..], b"", &bytes(1000)).unwrap();
    let sent = md.folder("Sent").unwrap();
    sent.ensure(None, DEFAULT_MODE).unwrap();
    let appended = sent
        .append(&mut &b"abc"[..], Flags::default(), None, &bytes(1000))
        .unwrap();
    assert_eq!(quota_file(&md), "1000S\n0 0\n5 1\n3 1\n");
    let mut inbox = Mailbox::open(&md).unwrap();
    let uid = inbox.messages()[0].uid;
    let copied = inbox.copy_to(&[uid], &sent).unwrap();
    assert_eq!(copied.uids.len(), 1);
    inbox.expunge(&[uid]).unwrap();
    let mut box_sent = Mailbox::open(&sent).unwrap();
    box_sent.expunge(&[appended.uid]).unwrap();
    assert_eq!(quota_file(&md), "1000S\n0 0\n5 1\n3 1\n5 1\n-5 -1\n-3 -1\n");
    let usage = Tally::read(&md, &bytes(1000)).unwrap().usage;
    assert_eq!(usage, md.usage().unwrap());
    // Deleting a folder leaves the sum to a fresh count.
    md.delete_folder("Sent").unwrap();
    assert!(!md.root().join(QUOTA_FILE).exists());
}
