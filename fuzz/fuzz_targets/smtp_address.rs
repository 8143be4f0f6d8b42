//! smtp_address - paths and mailboxes (RFC 5321 4.1.2) from MAIL, RCPT and files.
//!
//! For UTF-8 input: `ReversePath::parse`, `ForwardPath::parse` and `Mailbox::parse`.
//!
//! Invariants:
//! - None of them panics.
//! - A mailbox that parses displays (canonical form) as text that parses back to an
//!   equal mailbox, and that display is stable (displaying it again gives the same).
//! - A reverse or forward path that parses, displayed inside `<>`, parses back to an
//!   equal path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::{ForwardPath, Mailbox, ReversePath};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(mailbox) = Mailbox::parse(text) {
        check_mailbox(&mailbox);
    }
    if let Ok(path) = ReversePath::parse(text) {
        let shown = format!("<{path}>");
        let again = ReversePath::parse(&shown)
            .unwrap_or_else(|error| panic!("{path:?} shown as {shown:?}: {error:?}"));
        assert_eq!(again, path, "shown as {shown:?}");
        if let Some(mailbox) = path.mailbox() {
            check_mailbox(mailbox);
        }
    }
    if let Ok(path) = ForwardPath::parse(text) {
        let shown = format!("<{path}>");
        let again = ForwardPath::parse(&shown)
            .unwrap_or_else(|error| panic!("{path:?} shown as {shown:?}: {error:?}"));
        assert_eq!(again, path, "shown as {shown:?}");
        if let Some(mailbox) = path.mailbox() {
            check_mailbox(mailbox);
        }
    }
});

/// The display of `mailbox` parses back to it.
fn check_mailbox(mailbox: &Mailbox) {
    let shown = mailbox.to_string();
    let again = Mailbox::parse(&shown)
        .unwrap_or_else(|error| panic!("{mailbox:?} shown as {shown:?}: {error:?}"));
    assert_eq!(&again, mailbox, "shown as {shown:?}");
    assert_eq!(again.to_string(), shown, "display is not stable");
}
