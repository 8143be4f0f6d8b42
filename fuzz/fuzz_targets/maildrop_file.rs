//! maildrop_file - a file in the spool's `maildrop/`, which any local user can create
//! (mode 1733): pickup reads it with `spool::maildrop::read`.
//!
//! The input is written as a file in a directory made once per process (under
//! `$TMPDIR`) and read twice, with pickup's usual kind of limit (10 MB) and with a
//! small one (the low byte of the input's length). The input is also taken as a name
//! pickup finds in `maildrop/` (`is_file_name`, `is_dot_file_name`) and as a queue ID
//! from outside (`QueueId::parse`).
//!
//! Invariants:
//! - Reading never panics and never allocates more than the format's limits allow.
//! - A file without the magic line is `Magic`; a file that reads is exactly the magic,
//!   a submission record of the length it gives, the message length and the message,
//!   which is the file's tail, within the limit.
//! - The small limit refuses exactly the messages that are larger than it.
//! - A dot-file name is a dot and a file name; a queue ID that parses shows as the
//!   text it was parsed from.
#![no_main]

use std::fs::File;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use spool::QueueId;
use spool::maildrop::{self, MAGIC, MaildropError};

/// pickup's limit is message_size_limit; this is its default.
const LIMIT: u64 = 10_240_000;

struct Fixture {
    /// Kept for its path; never dropped (libFuzzer exits the process).
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("postern-fuzz-maildrop")
            .tempdir()
            .expect("temp dir");
        let path = dir.path().join("0123456789abcdef0123456789abcdef");
        Fixture { _dir: dir, path }
    })
}

fuzz_target!(|data: &[u8]| {
    let path = &fixture().path;
    std::fs::write(path, data).expect("write the maildrop file");
    let read = |limit| {
        let mut file = File::open(path).expect("open the maildrop file");
        maildrop::read(&mut file, limit)
    };

    let result = read(LIMIT);
    match &result {
        Ok((_, message)) => {
            let record_len = data
                .get(MAGIC.len()..MAGIC.len() + 4)
                .map(|b| u32::from_be_bytes(b.try_into().expect("four bytes")) as usize)
                .expect("a length after the magic");
            let size_at = MAGIC.len() + 4 + record_len;
            let size = data
                .get(size_at..size_at + 8)
                .map(|b| u64::from_be_bytes(b.try_into().expect("eight bytes")))
                .expect("a message length after the record");
            assert!(data.starts_with(MAGIC));
            assert_eq!(size, message.len() as u64, "message length");
            assert_eq!(data.len(), size_at + 8 + message.len(), "file length");
            assert!(
                data.ends_with(message),
                "the message is not the file's tail"
            );
            assert!(size <= LIMIT);
        }
        Err(MaildropError::Magic) => assert!(!data.starts_with(MAGIC), "magic refused"),
        Err(MaildropError::Io(error)) => panic!("I/O error reading a regular file: {error}"),
        Err(_) => assert!(data.starts_with(MAGIC), "bad magic not reported as such"),
    }

    let small = (data.len() % 256) as u64;
    match (&result, read(small)) {
        (Ok((submission, message)), Ok((again, same))) => {
            assert!(message.len() as u64 <= small, "over the small limit");
            assert_eq!(&again, submission);
            assert_eq!(&same, message);
        }
        (Ok((_, message)), Err(MaildropError::TooLarge { limit })) => {
            assert_eq!(limit, small);
            assert!(message.len() as u64 > small, "refused within the limit");
        }
        (Ok(_), Err(error)) => panic!("a readable file refused with {error:?}"),
        (Err(_), Ok(_)) => panic!("a smaller limit accepted a refused file"),
        (Err(_), Err(_)) => {}
    }

    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(
        maildrop::is_dot_file_name(name),
        name.strip_prefix('.').is_some_and(maildrop::is_file_name)
    );
    if maildrop::is_file_name(name) {
        assert!(!name.contains(['/', '.']), "file name {name:?}");
    }
    if let Ok(id) = QueueId::parse(name) {
        assert_eq!(id.as_str(), name);
        assert_eq!(QueueId::parse(id.as_str()).ok(), Some(id));
        let _ = id.created();
    }
});
