//! mailstore_cache - a Maildir's `postern.cache`, the metadata cache a session reads
//! for FETCH; the user's file, so it may hold anything, including structures nested
//! deep enough to overflow a recursive decoder's stack.
//!
//! The input is read as the whole file (`mailstore::fuzz_api::read_cache`: header,
//! intact records, each one's metadata decoded), and, since random bytes rarely pass
//! the record checksums, also as the payload of one record in a file with a correct
//! header and checksum (`cache_file`).
//!
//! Invariants:
//! - Reading never panics, never overflows the stack, and never allocates more than
//!   the input justifies.
//! - The intact records end within the file, after the header; the tail is damaged
//!   exactly when bytes follow them.
//! - Decoded metadata nests no deeper than `MAX_NESTING`.
//! - A decoded record written again as a session writes it reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailstore::fuzz_api::{cache_entry, cache_file, read_cache};
use mailstore::{BodyStructure, Content, MAX_NESTING};

/// Bytes of the file header.
const HEADER_LEN: usize = 16;

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&cache_file(0x5a5a_5a5a, &[data]));
});

/// Reads `file` and checks what it gives.
fn check(file: &[u8]) {
    let Some(dump) = read_cache(file) else {
        return;
    };
    let end = usize::try_from(dump.valid_end).expect("a length");
    assert!(
        (HEADER_LEN..=file.len()).contains(&end),
        "records end at {end}"
    );
    assert_eq!(dump.damaged_tail, end < file.len(), "damaged tail at {end}");

    for record in dump.records {
        let Some(metadata) = record.metadata else {
            continue;
        };
        assert!(depth(&metadata.body) <= MAX_NESTING, "nested too deep");
        let framed = cache_entry(record.uid, &record.base, record.size, metadata.clone())
            .expect("decoded metadata encodes");
        let mut again = file[..HEADER_LEN].to_vec();
        again.extend_from_slice(&framed);
        let dump = read_cache(&again).expect("the same header");
        assert!(!dump.damaged_tail, "a written record is damaged");
        let [back] = dump.records.as_slice() else {
            panic!("{} records from one", dump.records.len());
        };
        assert_eq!(back.uid, record.uid);
        assert_eq!(back.base, record.base);
        assert_eq!(back.size, record.size);
        assert_eq!(back.metadata.as_ref(), Some(&metadata), "metadata changed");
    }
}

/// How deep parts nest below `body` (0 for a leaf), without recursion.
fn depth(body: &BodyStructure) -> u32 {
    let mut deepest = 0;
    let mut stack = vec![(body, 0u32)];
    while let Some((part, level)) = stack.pop() {
        deepest = deepest.max(level);
        match &part.content {
            Content::Single => {}
            Content::Multipart(parts) => stack.extend(parts.iter().map(|p| (p, level + 1))),
            Content::Message(embedded) => stack.push((&embedded.body, level + 1)),
        }
    }
    deepest
}
