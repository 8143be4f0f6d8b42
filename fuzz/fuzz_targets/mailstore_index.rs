//! mailstore_index - a Maildir's `postern.index`, the view snapshot a session reads
//! instead of scanning; the user's file, so it may hold anything.
//!
//! The input is the file's bytes, decoded by the index module (through
//! `mailstore::fuzz_api::decode_index`). Random bytes rarely pass its checksum, so
//! the seeds are valid snapshots for libFuzzer to mutate, and the target also
//! decodes the input as a body, framed with a correct checksum (`index_file`).
//!
//! Invariants:
//! - Decoding never panics, and never allocates more than the input justifies.
//! - A snapshot that decodes lists messages in strictly ascending UID order, each
//!   with a base name that is a prefix of its file name.
//! - Encoding a decoded snapshot gives back exactly the bytes decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailstore::fuzz_api::{decode_index, index_file, reencode_index};

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&index_file(data));
});

/// Decodes `data` and checks the result.
fn check(data: &[u8]) {
    let Some((_, _, _, messages)) = decode_index(data) else {
        assert!(reencode_index(data).is_none());
        return;
    };
    let mut last = 0;
    for message in &messages {
        assert!(message.uid > last, "UID {} after {last}", message.uid);
        last = message.uid;
        assert!(
            message.file_name().starts_with(message.base()),
            "base {:?} of {:?}",
            message.base(),
            message.file_name()
        );
    }
    let again = reencode_index(data).expect("it decoded once");
    assert!(again == data, "encoding changed the snapshot");
}
