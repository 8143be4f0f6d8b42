//! subscriptions - a mailbox's `subscriptions` file, the user's file (Dovecot 2.x
//! writes version 2, older Dovecot and Courier version 1, and damage anything).
//!
//! The input is the file's bytes, read by the subscriptions module's parser (through
//! `mailstore::fuzz_api::parse_subscriptions`).
//!
//! Invariants:
//! - Parsing never panics.
//! - The names are distinct and none is empty.
//! - Written back in the file's own version (as a change does) and read again, the
//!   version and the names are the same; written as version 2 (a new file), the
//!   names are the same too.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use mailstore::fuzz_api::{parse_subscriptions, subscriptions_to_bytes};

fuzz_target!(|data: &[u8]| {
    let (v2, names) = parse_subscriptions(data);
    let mut seen = HashSet::new();
    for name in &names {
        assert!(!name.is_empty(), "an empty name");
        assert!(seen.insert(name), "{name:?} twice");
    }
    let written = subscriptions_to_bytes(v2, &names);
    assert_eq!(
        parse_subscriptions(&written),
        (v2, names.clone()),
        "written as {written:?}"
    );
    let as_v2 = subscriptions_to_bytes(true, &names);
    assert_eq!(
        parse_subscriptions(&as_v2),
        (true, names),
        "written as {as_v2:?}"
    );
});
