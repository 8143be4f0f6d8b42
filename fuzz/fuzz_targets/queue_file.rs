//! queue_file - opening a queue file that may be damaged.
//!
//! The input is written as `incoming/ID` of a spool made once per process (under
//! `$TMPDIR`), then opened with `Spool::open`.
//!
//! Invariants:
//! - Opening never panics, and a file it refuses is damaged (`Error::is_damaged`):
//!   incomplete or corrupt, never an I/O error or anything else.
//! - A file it accepts is consistent: one state per envelope recipient, the pending
//!   recipients are the ones without a final state, a torn tail reaches exactly to the
//!   end of the file, and the message streams exactly `message_size` bytes, the ones
//!   stored after the header and the envelope.
//! - Such a file takes an update: marking its first pending recipient done succeeds
//!   (cutting any torn tail), and reopening shows that recipient done, the others as
//!   they were, and no torn tail.
#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use spool::{Queue, QueueId, RecipientState, Spool};

/// Header bytes before the envelope: magic (8), version (2), flags (2), envelope
/// length (4), message length (8); see the spool crate's `codec` module.
const HEADER_LEN: usize = 24;
/// Where the envelope length sits in the header (big-endian u32).
const ENVELOPE_LEN_AT: usize = 12;

struct Fixture {
    /// Kept for its path; never dropped (libFuzzer exits the process).
    _dir: tempfile::TempDir,
    spool: Spool,
    id: QueueId,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("postern-fuzz-spool")
            .tempdir()
            .expect("temp dir");
        let spool = Spool::new(dir.path().join("spool"));
        spool.create_dirs(None).expect("spool directories");
        Fixture {
            _dir: dir,
            spool,
            id: QueueId::new(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Fixture { spool, id, .. } = fixture();
    let path = spool.path(Queue::Incoming, id);
    std::fs::write(&path, data).expect("write the queue file");

    let mut file = match spool.open(Queue::Incoming, id) {
        Ok(file) => file,
        Err(error) => {
            assert!(
                error.is_damaged(),
                "refused with a non-damage error: {error:?}"
            );
            return;
        }
    };

    let states = file.states().to_vec();
    assert_eq!(
        states.len(),
        file.envelope().recipients.len(),
        "states and recipients differ in number"
    );
    let pending: Vec<u32> = file.pending().collect();
    let not_final: Vec<u32> = (0u32..)
        .zip(&states)
        .filter(|(_, state)| !state.is_final())
        .map(|(index, _)| index)
        .collect();
    assert_eq!(pending, not_final);
    if let Some(torn) = file.torn_tail() {
        assert!(torn.len > 0, "empty torn tail");
        assert_eq!(
            torn.offset + torn.len,
            data.len() as u64,
            "torn tail not at the end"
        );
    }

    let mut message = Vec::new();
    file.message()
        .read_to_end(&mut message)
        .expect("read the message");
    assert_eq!(message.len() as u64, file.message_size());
    let envelope_len = data
        .get(ENVELOPE_LEN_AT..ENVELOPE_LEN_AT + 4)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u32::from_be_bytes)
        .expect("an accepted file has a header");
    let start = HEADER_LEN + usize::try_from(envelope_len).expect("envelope length");
    assert_eq!(
        data.get(start..start + message.len()),
        Some(&message[..]),
        "the message is not the stored bytes"
    );

    let Some(&first) = pending.first() else {
        return;
    };
    file.mark_done(first)
        .expect("mark a pending recipient done");
    drop(file);
    let again = spool
        .open(Queue::Incoming, id)
        .expect("reopen after an update");
    assert!(again.torn_tail().is_none(), "torn tail after an update");
    let mut want = states;
    want[first as usize] = RecipientState::Done;
    assert_eq!(again.states(), &want[..]);
});
