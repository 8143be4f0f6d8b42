//! master_cf - master.cf as an administrator may have written it, parsed on its own
//! (main_cf reaches it only behind a main.cf and `$name` expansion).
//!
//! The input is the file's bytes, read by `config::fuzz_api::parse_master_cf` as the
//! loader reads them: UTF-8 checked, then split into logical lines and rows.
//!
//! Invariants:
//! - Parsing never panics.
//! - A file that parses gives rows in file order, on lines within the file, with no
//!   two rows sharing a key; each has a command, `maxproc` at least 1, no zero
//!   `wakeup`, a plain file name for a Unix socket (`unix`, `pass`), an `inet` address
//!   that displays as text parsing back to it, and `-o` overrides with valid names.
//! - Its warnings are about lines within the file.
//! - An error names master.cf and a line within the file.
#![no_main]

use std::collections::BTreeSet;
use std::path::Path;

use config::fuzz_api::{is_valid_name, parse_master_cf};
use config::{Error, InetAddr, ServiceKind};
use libfuzzer_sys::fuzz_target;

const FILE: &str = "/etc/postern/master.cf";

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count();
    let (services, warnings) = match parse_master_cf(Path::new(FILE), data) {
        Ok(parsed) => parsed,
        Err(error) => {
            match &error {
                Error::Syntax { file, line, .. } | Error::DuplicateService { file, line, .. } => {
                    assert_eq!(file, Path::new(FILE));
                    assert!((1..=lines).contains(line), "error on line {line}: {error}");
                }
                other => panic!("unexpected error {other:?}"),
            }
            return;
        }
    };

    let mut keys = BTreeSet::new();
    let mut last_line = 0;
    for service in &services {
        assert!(
            service.line > last_line && service.line <= lines,
            "row on line {} after line {last_line}",
            service.line
        );
        last_line = service.line;
        assert!(keys.insert(service.key()), "duplicate {}", service.key());
        assert!(!service.command.is_empty(), "row without a command");
        assert!(service.maxproc >= 1, "maxproc {}", service.maxproc);
        assert_ne!(service.wakeup, Some(0), "wakeup 0 kept");
        match &service.kind {
            ServiceKind::Inet(addr) => {
                let shown = addr.to_string();
                let again = InetAddr::parse(&shown)
                    .unwrap_or_else(|error| panic!("{addr:?} shown as {shown:?}: {error}"));
                assert_eq!(&again, addr, "shown as {shown:?}");
            }
            ServiceKind::Unix | ServiceKind::Pass => {
                let name = &service.name;
                assert!(
                    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0']),
                    "socket name {name:?}"
                );
            }
        }
        for (name, _) in &service.overrides {
            assert!(is_valid_name(name), "override name {name:?}");
        }
    }
    for warning in &warnings {
        assert!(
            (1..=lines).contains(&warning.line),
            "warning on line {}",
            warning.line
        );
    }
});
