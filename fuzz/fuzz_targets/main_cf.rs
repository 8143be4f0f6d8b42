//! main_cf - loading main.cf and master.cf as `Config::parse` does for
//! `postern config check`.
//!
//! The input is split at its first NUL byte: main.cf before it, master.cf after it
//! (each converted to text lossily, as the loader's own decoding would refuse
//! non-UTF-8 before parsing).
//!
//! Invariants:
//! - Parsing never panics, and `$name` expansion stays bounded (libFuzzer's timeout
//!   and memory limit catch runaway expansion).
//! - A configuration that loads is consistent: every service's parameters (main.cf
//!   plus its `-o` overrides) build, as the loader promises it checked; no two
//!   services share a key; every name main.cf sets has its raw and expanded value;
//!   and the warnings are in order, main.cf first, without repeats.
#![no_main]

use std::collections::BTreeSet;
use std::path::Path;

use config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (main, master) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let main_cf = String::from_utf8_lossy(main);
    let master_cf = String::from_utf8_lossy(master);
    let Ok(config) = Config::parse(Path::new("/etc/postern"), &main_cf, &master_cf) else {
        return;
    };

    for service in &config.services {
        if let Err(error) = config.params_for(service) {
            panic!("service on line {} does not build: {error:?}", service.line);
        }
    }
    let mut keys = BTreeSet::new();
    for service in &config.services {
        assert!(
            keys.insert(service.key()),
            "duplicate service {}",
            service.name
        );
    }
    for (name, value) in config.main_cf_entries() {
        assert!(config.is_set(name), "{name} listed but not set");
        assert_eq!(config.raw_value(name), Some(value));
        assert!(config.value(name).is_some(), "{name} has no expanded value");
    }
    let main_path = config.main_cf_path();
    assert!(
        config
            .warnings
            .is_sorted_by_key(|w| (w.file != main_path, w.line)),
        "warnings out of order"
    );
    let mut seen = BTreeSet::new();
    for warning in &config.warnings {
        assert!(seen.insert(warning.clone()), "repeated warning {warning}");
    }
});
