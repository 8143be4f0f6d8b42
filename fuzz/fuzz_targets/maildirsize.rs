//! maildirsize - a mailbox's Maildir++ quota file, the user's file (Courier,
//! Dovecot or damage may have written it).
//!
//! The input is the file's bytes, read by the quota module's parser (through
//! `mailstore::fuzz_api::parse_quota_file`) under the limits its first line names.
//!
//! Invariants:
//! - Parsing never panics.
//! - A usage is given only for a file that ends in a newline, and the same file
//!   under other limits gives none.
//! - The one-line file a count writes for that usage reads back as the same usage.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailstore::fuzz_api::parse_quota_file;

fuzz_target!(|data: &[u8]| {
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let definition = String::from_utf8_lossy(first).trim().to_owned();
    let Some(usage) = parse_quota_file(data, &definition) else {
        return;
    };
    assert!(data.ends_with(b"\n"));
    let other = format!("{definition}1S");
    assert_eq!(parse_quota_file(data, &other), None);
    let written = format!("{definition}\n{} {}\n", usage.bytes, usage.messages);
    assert_eq!(parse_quota_file(written.as_bytes(), &definition), Some(usage));
});
