//! aliases_and_users - the users file (passwd-file format) and the aliases file, as an
//! administrator may have written them.
//!
//! The input is parsed as a users file with `accounts::users_file::parse`, and written
//! to a temp file checked with `accounts::aliases::check` (the aliases parser has no
//! public entry point that takes bytes). `:include:` targets are read as written, so
//! the seeds include `/dev/null`; run the fuzzer with standard input not a terminal.
//!
//! Invariants:
//! - Neither parser panics.
//! - Every user kept has a name `postern user add` would accept, a password that is
//!   empty or a well-formed `{SCHEME}` hash, a line within the file, and a lookup key
//!   no earlier user has; users come in file order.
//! - Checking an existing aliases file succeeds, with problems sorted, each on a line
//!   within the file, and no more aliases than lines.
#![no_main]

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use accounts::{aliases, password, users_file};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    /// Kept for its path; never dropped (libFuzzer exits the process).
    _dir: tempfile::TempDir,
    aliases: std::path::PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("postern-fuzz-aliases")
            .tempdir()
            .expect("temp dir");
        let aliases = dir.path().join("aliases");
        Fixture { _dir: dir, aliases }
    })
}

fuzz_target!(|data: &[u8]| {
    let lines = line_count(data);

    let users = users_file::parse(Path::new("/etc/postern/users"), data);
    let mut keys = HashSet::new();
    let mut last_line = 0;
    for entry in &users.entries {
        if let Err(error) = users_file::check_name(&entry.name) {
            panic!("kept a bad user name: {error}");
        }
        if !entry.password.is_empty()
            && let Err(error) = password::check(&entry.password)
        {
            panic!("kept user {} with a bad hash: {error}", entry.name);
        }
        assert!(keys.insert(entry.key()), "duplicate user {}", entry.name);
        assert!(
            entry.line > last_line && entry.line <= lines,
            "line {}",
            entry.line
        );
        last_line = entry.line;
    }
    for problem in &users.problems {
        assert!(
            problem.line >= 1 && problem.line <= lines,
            "problem on line {}",
            problem.line
        );
    }

    let path = &fixture().aliases;
    std::fs::write(path, data).expect("write the aliases file");
    let report = aliases::check(path).expect("an existing aliases file is checked");
    assert!(report.problems.is_sorted(), "problems out of order");
    assert!(
        report.entries <= lines,
        "{} aliases in {lines} lines",
        report.entries
    );
    for problem in &report.problems {
        assert!(
            problem.line >= 1 && problem.line <= lines,
            "problem on line {}",
            problem.line
        );
    }
});

/// Lines as the accounts crate counts them: split at LF, a final LF ends the last
/// line rather than starting another, and empty input has none.
fn line_count(data: &[u8]) -> usize {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    if data.is_empty() {
        0
    } else {
        data.iter().filter(|&&b| b == b'\n').count() + 1
    }
}
