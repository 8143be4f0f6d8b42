//! # smtp-proto: sans-I/O SMTP for Postern
//!
//! Parsing and formatting for SMTP (RFC 5321) and the extensions Postern speaks:
//! PIPELINING, SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
//! ENHANCEDSTATUSCODES (RFC 2034/3463), CHUNKING and BINARYMIME (RFC 3030), DSN
//! (RFC 3461), STARTTLS (RFC 3207) and AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN.
//! The crate does no I/O: no sockets, no files, no runtime. Callers feed it bytes and
//! get back typed values plus the number of bytes consumed, so the same code serves the
//! SMTP server (`smtpd`), the outbound client (`smtp`) and fuzz targets.
//!
//! ## Pieces
//!
//! - [`command`]: [`LineReader`](command::LineReader) splits the byte stream into command
//!   lines; [`parse_command`] turns one line into a [`Command`]. Errors are
//!   [`CommandError`]s, each of which knows its [`Reply`].
//! - [`address`]: reverse and forward paths, [`Mailbox`], domain names and address
//!   literals.
//! - [`reply`]: [`Reply`] (code, enhanced status, text, more lines) with a named
//!   constructor for every reply Postern sends, and [`ReplyParser`] for the client side.
//! - [`data`]: [`DataReader`] (DATA: dot-unstuffing, end at `CRLF.CRLF` only, bare
//!   newline policy, line and size limits), [`BdatReader`] (CHUNKING), and [`Stuffer`]
//!   for sending.
//! - [`ehlo`]: [`Capability`] lines, rendered by the server and parsed by the client.
//! - [`sasl`]: PLAIN and LOGIN exchanges ([`AuthExchange`]), with secrets that never
//!   appear in `Debug` output; [`base64`] and [`xtext`] codecs.
//! - [`downgrade`]: [`to_7bit`](downgrade::to_7bit) re-encodes the 8-bit parts of a
//!   message as quoted-printable for a server without 8BITMIME; what it cannot convert
//!   is a [`DowngradeError`] (bounce with 5.6.3).
//!
//! ## How a server drives it
//!
//! The server keeps one input buffer per session. In command mode it gives the buffer
//! to [`LineReader::read`](command::LineReader::read), parses each complete line and
//! answers with the [`Reply`] of the command or of its error. After `354` it gives the
//! buffer to a [`DataReader`], writing the produced bytes to the queue file as they come,
//! until the reader reports the end; whatever the reader did not consume is the start of
//! the next pipelined command. BDAT works the same way with a [`BdatReader`]. Every
//! reader returns a [`Progress`]: how many input bytes it consumed and, when one is
//! complete, the item it produced.
//!
//! Session state (which command is allowed when, recipient limits, policy) belongs to the
//! server; this crate only says what the peer sent and how to answer in SMTP.
//!
//! ```
//! use smtp_proto::command::LineReader;
//! use smtp_proto::{Command, DataOptions, DataReader, Reply, parse_command};
//!
//! // One read from the socket: a pipelined batch.
//! let input: &[u8] = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n";
//! let mut lines = LineReader::new();
//! let mut rest = input;
//! let mut answers = Vec::new();
//! loop {
//!     let progress = lines.read(rest);
//!     rest = &rest[progress.consumed..];
//!     let Some(line) = progress.output else { break };
//!     let reply = match line.map(|line| parse_command(&line.bytes)) {
//!         Err(_too_long) => Reply::line_too_long(),
//!         Ok(Err(error)) => error.reply(),
//!         Ok(Ok(Command::Mail(_))) => Reply::sender_ok(),
//!         Ok(Ok(Command::Rcpt(_))) => Reply::recipient_ok(),
//!         Ok(Ok(Command::Data)) => Reply::start_data(),
//!         Ok(Ok(_)) => Reply::bad_sequence("unexpected command"),
//!     };
//!     reply.write_to(&mut answers);
//! }
//! assert_eq!(answers, b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
//!
//! // After 354: the content goes to the queue file as it arrives.
//! let mut reader = DataReader::new(DataOptions::default());
//! let mut content = Vec::new();
//! let input: &[u8] = b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
//! let progress = reader.feed(input, &mut content);
//! assert_eq!(content, b"Subject: hi\r\n\r\n.dot\r\n");
//! assert_eq!(progress.output, Some(Ok(21)));
//! // What follows the message is the next command.
//! assert_eq!(&input[progress.consumed..], b"QUIT\r\n");
//! ```
//!
//! # Security
//!
//! Every input is hostile. Every parser here takes untrusted bytes and:
//! - bounds what it keeps: command lines ([`command::MAX_LINE`] and per-verb limits),
//!   reply lines and line counts, SASL responses, addresses (64-octet local part,
//!   255-octet domain, 256-octet path), DSN parameters; message content is streamed,
//!   never collected;
//! - never panics (the workspace denies `unwrap`, `expect`, `panic` and slice indexing in
//!   this crate, and property tests feed arbitrary bytes to every parser);
//! - ends DATA only at `<CRLF>.<CRLF>`, whatever bare CR or LF the peer sends, so SMTP
//!   smuggling cannot end a message early or inject a second one;
//! - sanitises reply text (no CR, LF or other control characters reach the wire);
//! - keeps passwords and SASL responses in [`sasl::Secret`], whose `Debug` prints
//!   `[redacted]`.
//!
//! # Errors
//!
//! Each module has its own error enum ([`CommandError`], [`AddressError`],
//! [`DataError`], [`ReplyError`], [`SaslError`], ...). Errors caused by the peer carry
//! a `reply()` method that gives the SMTP reply the server sends for them, so reply text
//! is written only in [`reply`].
//!
//! # Configuration
//!
//! None is read here. Limits that are Postfix parameters (`message_size_limit`,
//! `smtpd_forbid_bare_newline`) are passed in by the caller through
//! [`DataOptions`].

pub mod address;
pub mod base64;
pub mod command;
pub mod data;
pub mod downgrade;
pub mod ehlo;
mod progress;
pub mod reply;
pub mod sasl;
pub mod xtext;

pub use address::{AddressError, Domain, DomainName, ForwardPath, LocalPart, Mailbox, ReversePath};
pub use command::{Command, CommandError, HeloName, MailFrom, RcptTo, Verb, parse_command};
pub use data::{BareNewline, BdatReader, DataError, DataOptions, DataReader, Stuffer};
pub use downgrade::DowngradeError;
pub use ehlo::{Capability, EhloReply};
pub use progress::Progress;
pub use reply::{EnhancedStatus, Reply, ReplyCode, ReplyError, ReplyParser};
pub use sasl::{AuthExchange, AuthStep, Credentials, Mechanism, SaslError, Secret};
