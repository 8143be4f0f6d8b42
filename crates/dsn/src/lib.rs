//! # dsn: delivery status notifications
//!
//! Builds the reports a sender gets about its message (RFC 3464): a
//! bounce when recipients failed permanently, a delay warning while they
//! are still being retried, and a success report when the sender asked
//! for one. This crate only writes the message; the queue manager decides
//! when a report is due, queues the result with the null sender `<>`, and
//! records that it did.
//!
//! # How it works
//!
//! [`should_notify`] applies a recipient's `NOTIFY` options (RFC 3461).
//! The caller collects the recipients a report is about into a
//! [`Report`] and calls [`render`], which writes one `multipart/report;
//! report-type=delivery-status` message with three parts:
//!
//! 1. `text/plain`: what happened, in plain words, per recipient;
//! 2. `message/delivery-status`: the same in RFC 3464 fields for
//!    programs (`Reporting-MTA`, `Arrival-Date`, and per recipient
//!    `Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`, ...);
//! 3. the original: the whole message (`message/rfc822`) or its header
//!    section (`text/rfc822-headers`) according to `RET`, never more
//!    than the caller's byte limit (`bounce_size_limit`).
//!
//! The original is streamed: its header section is buffered (bounded by
//! the limit) so the report can say what it returns before returning it;
//! the body is copied line by line. See [`render`] for the rules.
//!
//! # Security
//!
//! Not privileged, but everything it formats comes from strangers: the
//! envelope addresses and `ORCPT`/`ENVID` from SMTP clients, diagnostics
//! from remote servers, and the original message. So:
//!
//! * no value can break a line: control characters are removed from
//!   addresses and replaced by spaces in text, and report text is ASCII
//!   (a non-ASCII address appears in the RFC 6533 `utf-8` form);
//! * every value has a length cap, so no line exceeds RFC 5322's limit;
//! * the returned original cannot end its MIME part early: copying stops
//!   before any line that starts with the report's delimiter;
//! * memory is bounded by the limit (at most 1 MiB of header section).
//!
//! # Errors
//!
//! [`render`] returns the I/O errors of its reader and writer, and
//! `InvalidInput` wrapping an [`InvalidReport`] for a report RFC 3464 does
//! not allow. Output already written is then incomplete: render into a
//! temporary queue file and discard it on error.
//!
//! # Configuration
//!
//! None read here. The caller passes `myhostname` (as
//! [`Report::reporting_mta`]), the `From:` address, and
//! `bounce_size_limit` (as `limit`).

mod original;
mod render;
mod report;
mod text;

pub use render::render;
pub use report::{Action, InvalidReport, Kind, RecipientReport, Report, should_notify};
