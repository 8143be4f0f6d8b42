//! mime_downgrade - the 8BITMIME downgrade the SMTP client applies for servers
//! without 8BITMIME (a message from any sender reaches it).
//!
//! Invariants, for any message:
//! - `to_7bit` never panics.
//! - When it succeeds, the output has no byte of 0x80 or above, and a message
//!   that had none comes back unchanged.
//! - When the input has no line over 998 octets, neither has the output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::downgrade::{has_8bit, to_7bit};

fuzz_target!(|data: &[u8]| {
    let Ok(out) = to_7bit(data) else { return };
    assert!(!has_8bit(&out), "8-bit byte in the downgraded output");
    if !has_8bit(data) {
        assert_eq!(out, data, "a 7-bit message must come back unchanged");
    }
    let longest = |bytes: &[u8]| {
        bytes
            .split(|b| *b == b'\n')
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0)
    };
    if longest(data) <= 998 {
        assert!(longest(&out) <= 999, "a line over 998 octets in the output");
    }
});
