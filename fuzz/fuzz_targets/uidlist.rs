//! uidlist - a Maildir's `dovecot-uidlist`, the user's file (Dovecot, other tools, or
//! damage may have written it).
//!
//! The input is the file's bytes, read by `UidList::parse` (through
//! `mailstore::fuzz_api::parse_uidlist`) both as a complete file (the lock held) and
//! as one that may be mid-append.
//!
//! Invariants:
//! - Parsing never panics.
//! - A list it accepts has a non-zero UIDVALIDITY and records with UIDs from 1 to
//!   `MAX_UID` in strictly ascending order, each base name once, non-empty, without
//!   `/` or `:` and not starting with `.`; the next UID is above every UID.
//! - Without the lock, the records are the ones of the complete reading, or those
//!   less the last one (a line being appended).
//! - Written back and read again, the list has the same UIDVALIDITY, next UID and
//!   records; and a second round trip changes nothing at all.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use mailstore::fuzz_api::{MAX_UID, UidListDump, parse_uidlist};

fuzz_target!(|data: &[u8]| {
    let Some(list) = parse_uidlist(data, true) else {
        assert!(
            parse_uidlist(data, false).is_none(),
            "the header decides alone whether a list is usable"
        );
        return;
    };
    check(&list);

    let partial = parse_uidlist(data, false).expect("same header, same answer");
    check(&partial);
    let complete = &list.records;
    assert!(
        partial.records == *complete
            || (complete.len() >= partial.records.len()
                && complete.len() - partial.records.len() <= 1
                && complete.starts_with(&partial.records)),
        "the partial reading drops more than a last line"
    );

    let again = parse_uidlist(&list.written, true).expect("a written list reads back");
    assert_eq!(again.uidvalidity, list.uidvalidity);
    assert_eq!(again.next_uid, list.next_uid);
    assert_eq!(again.records, list.records);
    let third = parse_uidlist(&again.written, true).expect("a written list reads back");
    assert_eq!(third, again, "a second round trip changed the list");
    assert_eq!(third.written, again.written);
});

/// The shape of every list the parser accepts.
fn check(list: &UidListDump) {
    assert_ne!(list.uidvalidity, 0);
    let mut last = 0;
    let mut bases = HashSet::new();
    for (uid, _, base) in &list.records {
        assert!(*uid > last && *uid <= MAX_UID, "UID {uid} after {last}");
        last = *uid;
        assert!(bases.insert(base), "base {base:?} twice");
        assert!(
            !base.is_empty() && !base.contains(['/', ':']) && !base.starts_with('.'),
            "base {base:?}"
        );
    }
    assert!(
        list.next_uid > last,
        "next UID {} after {last}",
        list.next_uid
    );
}
