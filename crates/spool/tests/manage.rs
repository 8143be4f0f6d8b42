//! Listings and administrator operations on a real directory tree.

// Test code: panicking on a broken expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, SystemTime};

use common::{envelope, message, spool, write};
use spool::{Error, Listed, ListedRecipient, Operation, Queue, RecipientState};

#[test]
fn listing_shows_pending_recipients_with_their_reasons() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(3), &message(100));
    let mut file = spool.open(Queue::Incoming, &id).unwrap();
    file.mark_done(0).unwrap();
    file.mark_deferred(2, "4.4.1 connect to mx: refused")
        .unwrap();
    drop(file);
    spool
        .move_to(&id, Queue::Incoming, Queue::Deferred)
        .unwrap();

    let listed = spool.listing(&[Queue::Incoming, Queue::Deferred]).unwrap();
    assert_eq!(
        listed,
        vec![Listed {
            id,
            queue: Queue::Deferred,
            size: 100,
            arrival: 1_700_000_000,
            sender: "alice@example.org".into(),
            recipients: vec![
                ListedRecipient {
                    address: "rcpt1@example.net".into(),
                    reason: None,
                },
                ListedRecipient {
                    address: "rcpt2@example.net".into(),
                    reason: Some("4.4.1 connect to mx: refused".into()),
                },
            ],
        }]
    );
    // Queues not asked for are not listed.
    assert!(spool.listing(&[Queue::Hold]).unwrap().is_empty());
}

#[test]
fn listing_sorts_by_queue_then_arrival_and_skips_damaged_files() {
    let (_tmp, spool) = spool();
    let mut late = envelope(1);
    late.arrival += Duration::from_secs(60);
    let held = write(&spool, &envelope(1), b"x");
    spool.move_to(&held, Queue::Incoming, Queue::Hold).unwrap();
    let second = write(&spool, &late, b"x");
    let first = write(&spool, &envelope(1), b"x");
    let broken = write(&spool, &envelope(1), b"x");
    std::fs::write(spool.path(Queue::Incoming, &broken), b"garbage").unwrap();

    let listed = spool.listing(&Queue::ALL[..4]).unwrap();
    let order: Vec<_> = listed.iter().map(|l| (l.queue, l.id)).collect();
    assert_eq!(
        order,
        vec![
            (Queue::Incoming, first),
            (Queue::Incoming, second),
            (Queue::Hold, held),
        ]
    );
    // Listing never moves anything.
    assert_eq!(spool.locate(&broken).unwrap(), Some(Queue::Incoming));
}

#[test]
fn locate_finds_the_queue() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(1), b"x");
    assert_eq!(spool.locate(&id).unwrap(), Some(Queue::Incoming));
    spool.move_to(&id, Queue::Incoming, Queue::Corrupt).unwrap();
    assert_eq!(spool.locate(&id).unwrap(), Some(Queue::Corrupt));
    spool.remove(Queue::Corrupt, &id).unwrap();
    assert_eq!(spool.locate(&id).unwrap(), None);
}

#[test]
fn operations_move_files_between_queues() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(2), b"x");
    let mut file = spool.open(Queue::Incoming, &id).unwrap();
    file.mark_done(0).unwrap();
    file.mark_deferred(1, "later").unwrap();
    drop(file);
    spool
        .move_to(&id, Queue::Incoming, Queue::Deferred)
        .unwrap();
    let later = SystemTime::now() + Duration::from_secs(3600);
    spool.set_next_attempt(Queue::Deferred, &id, later).unwrap();

    spool.apply(Operation::Hold, &id, Queue::Deferred).unwrap();
    assert_eq!(spool.locate(&id).unwrap(), Some(Queue::Hold));

    spool.apply(Operation::Release, &id, Queue::Hold).unwrap();
    assert_eq!(spool.locate(&id).unwrap(), Some(Queue::Deferred));
    let due = spool.next_attempt(Queue::Deferred, &id).unwrap();
    assert!(due <= SystemTime::now(), "released mail is due now");

    spool
        .apply(Operation::Requeue, &id, Queue::Deferred)
        .unwrap();
    assert_eq!(spool.locate(&id).unwrap(), Some(Queue::Incoming));
    // Requeueing what is already in incoming/ changes nothing.
    spool
        .apply(Operation::Requeue, &id, Queue::Incoming)
        .unwrap();
    assert_eq!(spool.locate(&id).unwrap(), Some(Queue::Incoming));
    // Recipient states survive every move: the done one is not delivered again.
    let file = spool.open(Queue::Incoming, &id).unwrap();
    assert_eq!(file.states()[0], RecipientState::Done);
    assert_eq!(file.pending().collect::<Vec<_>>(), vec![1]);
    drop(file);

    spool
        .apply(Operation::Delete, &id, Queue::Incoming)
        .unwrap();
    assert_eq!(spool.locate(&id).unwrap(), None);
}

#[test]
fn operations_refuse_queues_they_do_not_apply_to() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(1), b"x");
    let cases = [
        (Operation::Release, Queue::Incoming),
        (Operation::Hold, Queue::Hold),
        (Operation::Hold, Queue::Corrupt),
        (Operation::Requeue, Queue::Corrupt),
        (Operation::Delete, Queue::Maildrop),
    ];
    for (operation, queue) in cases {
        let err = spool.apply(operation, &id, queue).unwrap_err();
        assert!(
            matches!(err, Error::NotApplicable { .. }),
            "{operation:?} {queue}: {err}"
        );
    }
    assert_eq!(spool.locate(&id).unwrap(), Some(Queue::Incoming));
    // A file that is gone is "not found", not an I/O failure to report.
    let err = spool
        .apply(Operation::Hold, &id, Queue::Deferred)
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn listed_survives_the_wire() {
    // pickup sends listings to unprivileged mailq users (postcard over IPC).
    let (_tmp, spool) = spool();
    write(&spool, &envelope(2), b"x");
    let listed = spool.listing(&[Queue::Incoming]).unwrap();
    let bytes = postcard::to_stdvec(&listed).unwrap();
    let back: Vec<Listed> = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, listed);
}

#[test]
fn flush_makes_chosen_deferred_mail_due() {
    let (_tmp, spool) = spool();
    let later = SystemTime::now() + Duration::from_secs(3600);
    let mut ids = Vec::new();
    for domain in ["example.net", "EXAMPLE.ORG", "example.com"] {
        let mut env = envelope(1);
        env.recipients[0].address = format!("user@{domain}");
        let id = write(&spool, &env, b"x");
        spool
            .move_to(&id, Queue::Incoming, Queue::Deferred)
            .unwrap();
        spool.set_next_attempt(Queue::Deferred, &id, later).unwrap();
        ids.push(id);
    }
    let due = |id| spool.next_attempt(Queue::Deferred, id).unwrap() <= SystemTime::now();
    let now = SystemTime::now();

    assert_eq!(spool.flush_domain(Some("example.org"), now).unwrap(), 1);
    assert_eq!(
        ids.iter().map(due).collect::<Vec<_>>(),
        vec![false, true, false]
    );

    let held = write(&spool, &envelope(1), b"x");
    spool.move_to(&held, Queue::Incoming, Queue::Hold).unwrap();
    let incoming = write(&spool, &envelope(1), b"x");
    let (count, not_found) = spool.flush_ids(&[ids[0], incoming, held], now).unwrap();
    assert_eq!((count, not_found), (2, vec![held]));
    assert!(due(&ids[0]));

    assert_eq!(spool.flush_domain(None, now).unwrap(), 3);
    assert!(ids.iter().all(due));
}

#[test]
fn apply_by_id_finds_the_message() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(1), b"x");
    assert_eq!(
        spool.apply_by_id(Operation::Release, &id).unwrap(),
        None,
        "not on hold"
    );
    assert_eq!(
        spool.apply_by_id(Operation::Hold, &id).unwrap(),
        Some(Queue::Incoming)
    );
    assert_eq!(
        spool.apply_by_id(Operation::Release, &id).unwrap(),
        Some(Queue::Hold)
    );
    assert_eq!(
        spool.apply_by_id(Operation::Delete, &id).unwrap(),
        Some(Queue::Deferred)
    );
    assert_eq!(spool.apply_by_id(Operation::Delete, &id).unwrap(), None);
}

#[test]
fn recipient_domains_follow_the_last_at() {
    for (address, want) in [
        ("a@example.org", "example.org"),
        ("\"a@b\"@example.net", "example.net"),
        ("postmaster", ""),
    ] {
        assert_eq!(spool::recipient_domain(address), want);
    }
}
