//! Framing: the client's byte stream cut into whole commands, without I/O.
//!
//! The session pushes what it reads with [`Framer::push`] and then takes events with
//! [`Framer::next`] until it returns `None`, which means "read more". An IMAP command is
//! one or more lines with literals (`{N}\r\n` followed by N bytes) between them;
//! imap-codec's `Fragmentizer` finds the line and literal boundaries, and this module
//! adds the server's side of literal handling and the size limit.
//!
//! # Literals and the size limit
//!
//! Every command is bounded by `max_command` bytes (lines and literals together, line
//! endings included). [`Event::Command`] never carries more.
//!
//! - Synchronizing literal `{N}`: the client waits for a `+` continuation before sending
//!   the N bytes. If the command would stay within the limit the framer yields
//!   [`Event::Continue`] and the session writes `+ Ready for literal data\r\n`. If not,
//!   the framer yields [`Event::TooBig`] instead and forgets the command: the client,
//!   getting a tagged reply (`tag NO [TOOBIG] ...` or `tag BAD ...`) where it expected
//!   `+`, abandons the command and never sends the literal (RFC 3501 7.5, RFC 9051 7.1).
//! - Non-synchronizing literal `{N+}` (LITERAL+/LITERAL-, RFC 7888): the client sends
//!   the bytes without waiting, so they must be consumed whatever we think of them.
//!   Past the limit the framer keeps framing but stores nothing more; the bytes are
//!   read and dropped, and when the command ends it yields [`Event::TooBig`]. Reading
//!   and dropping is bounded as well: if a command announces more than `max_command`
//!   plus the discard limit ([`Framer::set_discard_limit`], by default `max_command`),
//!   the framer yields [`Event::Fatal`] at once and the session says BYE and closes.
//!   Framing stays in step in both cases because the fragmentizer counts literal bytes
//!   instead of looking at them, so literal data is never taken for a command.
//! - A line longer than the limit is read and dropped up to its end, then reported as
//!   [`Event::TooBig`] with the tag if the kept prefix shows it; past the discard limit
//!   it is [`Event::Fatal`].
//!
//! # Raw lines
//!
//! Some exchanges are not commands: AUTHENTICATE's client responses and IDLE's `DONE`.
//! For those the session calls [`Framer::next_line`], which takes one line from the
//! same buffer with no literal processing. The framer only ever hands the fragmentizer
//! bytes up to the end of the current line or literal, so everything after the last
//! complete command is still in the framer's own queue and either method can take it:
//! switching modes between commands loses nothing.
//!
//! # Security
//!
//! Everything here comes from an unauthenticated peer. Memory is bounded by
//! `max_command` plus what the session pushes at once; nothing panics on any input (a
//! property test feeds arbitrary bytes). After STARTTLS the session must drop anything
//! the client sent in plaintext behind the command ([`Framer::reset`]), or an attacker
//! could inject commands into the TLS session.

use std::collections::VecDeque;

use imap_codec::fragmentizer::{FragmentInfo, Fragmentizer, LiteralAnnouncement};
use imap_codec::imap_types::core::LiteralMode;

/// What the framer found in the received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete command: every line (with its line ending) and literal, as received.
    /// At most `max_command` bytes; hand it to [`crate::parse::parse_command`].
    Command(Vec<u8>),
    /// The client announced a synchronizing literal and waits: write
    /// `+ Ready for literal data\r\n`, then keep calling [`Framer::next`].
    Continue,
    /// A command over the limit; it has been dropped. Answer `tag NO [TOOBIG] ...` when
    /// the tag is known, else `* BAD ...`, and go on reading.
    TooBig {
        /// The command's tag, if the bytes kept show one.
        tag: Option<String>,
    },
    /// A non-synchronizing literal or a line too large even to skip: say BYE and
    /// close. The framer yields nothing after this.
    Fatal,
}

/// A line longer than the limit, dropped (see [`Framer::next_line`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line longer than {limit} bytes")]
pub struct TooLong {
    /// The limit that was exceeded.
    pub limit: u32,
}

/// What the fragmentizer expects next, so that it is never given more than that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Bytes of a line, up to and including its `\n`.
    Line,
    /// The rest of a literal.
    Literal {
        /// Bytes of it not yet handed over.
        remaining: u32,
    },
}

/// Splits received bytes into commands, continuation requests and raw lines.
#[derive(Debug)]
pub struct Framer {
    /// Received bytes not yet handed to the fragmentizer.
    queue: VecDeque<u8>,
    /// Finds lines and literals of the current command and keeps at most `max` bytes.
    fragmentizer: Fragmentizer,
    /// The command size limit in force for the current command.
    max: u32,
    /// The limit to use from the next command on ([`Framer::set_max_command`]).
    next_max: u32,
    /// How far past `max` a command may run, as bytes read and dropped, before the
    /// framer gives up on the connection.
    discard_limit: u32,
    /// What the fragmentizer expects next.
    expect: Expect,
    /// Bytes of the current command handed over so far, including dropped ones; zero
    /// between commands.
    consumed: u64,
    /// `next_line` is dropping an over-long line up to its end.
    discarding_line: bool,
    /// [`Event::Fatal`] was yielded.
    failed: bool,
}

impl Framer {
    /// new - a framer for commands of at most `max_command` bytes.
    pub fn new(max_command: u32) -> Self {
        Self {
            queue: VecDeque::new(),
            fragmentizer: Fragmentizer::new(max_command),
            max: max_command,
            next_max: max_command,
            discard_limit: max_command,
            expect: Expect::Line,
            consumed: 0,
            discarding_line: false,
            failed: false,
        }
    }

    /// set_max_command - changes the command size limit from the next command on
    /// (e.g. a small limit before authentication, a large one after).
    pub fn set_max_command(&mut self, max_command: u32) {
        self.next_max = max_command;
        if self.consumed == 0 {
            self.start_command();
        }
    }

    /// set_discard_limit - how many bytes past the command limit the framer reads and
    /// drops (over-long lines, unwanted `{N+}` literals) before yielding
    /// [`Event::Fatal`]. Defaults to the command limit.
    pub fn set_discard_limit(&mut self, bytes: u32) {
        self.discard_limit = bytes;
    }

    /// push - adds received bytes.
    ///
    /// The framer keeps all of them until they are taken; call [`Framer::next`] (or
    /// [`Framer::next_line`]) until it returns `None` before reading and pushing more,
    /// which keeps the buffer bounded by one read.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.queue.extend(bytes);
        }
    }

    /// buffered - bytes received but not yet taken (including a partial command).
    pub fn buffered(&self) -> usize {
        let partial = usize::try_from(self.consumed).unwrap_or(usize::MAX);
        self.queue.len().saturating_add(partial)
    }

    /// reset - drops everything received and not yet taken, including a partial
    /// command, and returns how many bytes that was. Call it right after STARTTLS's
    /// OK: bytes pipelined behind STARTTLS were sent in the clear and must not be
    /// executed inside TLS.
    pub fn reset(&mut self) -> usize {
        let dropped = self.buffered();
        self.queue.clear();
        self.discarding_line = false;
        if self.consumed > 0 {
            self.fragmentizer.skip_message();
        }
        self.start_command();
        dropped
    }

    /// next - the next event, or `None` when more bytes are needed.
    // Not an Iterator: `None` means "push more", and events follow once bytes arrive.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Event> {
        if self.failed {
            return None;
        }
        loop {
            let take = match self.expect {
                Expect::Line => match self.queue.iter().position(|&b| b == b'\n') {
                    Some(end) => end + 1,
                    None => self.queue.len(),
                },
                Expect::Literal { remaining } => {
                    usize::try_from(remaining).map_or(self.queue.len(), |r| r.min(self.queue.len()))
                }
            };
            // A zero-length literal still has to be stepped over.
            if take == 0 && self.expect != (Expect::Literal { remaining: 0 }) {
                return None;
            }
            self.hand_over(take);

            let progress = self.fragmentizer.progress();
            // Checked after every step, including the one that completes a line: a
            // line past the discard limit is fatal however its bytes arrived, not
            // only when a read left it incomplete. (Literals never get here past the
            // limit: their announcements are checked.)
            if self.over_discard_limit(0) {
                return Some(self.fail());
            }
            match progress {
                None => {}
                Some(FragmentInfo::Literal { .. }) => self.expect = Expect::Line,
                Some(FragmentInfo::Line {
                    announcement: None, ..
                }) => return Some(self.finish_command()),
                Some(FragmentInfo::Line {
                    announcement: Some(announcement),
                    ..
                }) => {
                    if let Some(event) = self.literal_announced(announcement) {
                        return Some(event);
                    }
                }
            }
        }
    }

    /// next_line - the next raw line, without its line ending (`\r\n` or `\n`), or
    /// `None` when more bytes are needed.
    ///
    /// No literal processing is done: this is for AUTHENTICATE responses and IDLE's
    /// `DONE`. A line longer than the command limit is dropped up to its end and
    /// reported as [`TooLong`] once that end arrives. Call it only between commands,
    /// i.e. after [`Framer::next`] returned a command or `None` with nothing partial;
    /// a command in progress would be abandoned (its bytes so far dropped).
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, TooLong>> {
        if self.failed {
            return None;
        }
        if self.consumed > 0 {
            self.fragmentizer.skip_message();
            self.start_command();
        }
        let limit = usize::try_from(self.max).unwrap_or(usize::MAX);
        let Some(end) = self.queue.iter().position(|&b| b == b'\n') else {
            // The line may still end in a `\r` that does not count against the limit.
            if self.queue.len() > limit.saturating_add(1) {
                self.queue.clear();
                self.discarding_line = true;
            }
            return None;
        };
        let mut line: Vec<u8> = self.queue.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if std::mem::take(&mut self.discarding_line) || line.len() > limit {
            return Some(Err(TooLong { limit: self.max }));
        }
        Some(Ok(line))
    }

    /// hand_over - moves the first `take` queued bytes into the fragmentizer.
    fn hand_over(&mut self, take: usize) {
        let (front, back) = self.queue.as_slices();
        let from_front = take.min(front.len());
        if let Some(bytes) = front.get(..from_front) {
            self.fragmentizer.enqueue_bytes(bytes);
        }
        if let Some(bytes) = back.get(..take - from_front) {
            self.fragmentizer.enqueue_bytes(bytes);
        }
        self.queue.drain(..take);
        let taken = u64::try_from(take).unwrap_or(u64::MAX);
        self.consumed = self.consumed.saturating_add(taken);
        if let Expect::Literal { remaining } = &mut self.expect {
            *remaining = remaining.saturating_sub(u32::try_from(take).unwrap_or(u32::MAX));
        }
    }

    /// literal_announced - decides about the literal a line just announced.
    fn literal_announced(&mut self, announcement: LiteralAnnouncement) -> Option<Event> {
        self.expect = Expect::Literal {
            remaining: announcement.length,
        };
        let length = u64::from(announcement.length);
        match announcement.mode {
            LiteralMode::Sync => {
                let fits = !self.fragmentizer.is_max_message_size_exceeded()
                    && self.consumed.saturating_add(length) <= u64::from(self.max);
                if fits {
                    return Some(Event::Continue);
                }
                // Refused: the client will not send the literal, so the command ends here.
                let tag = crate::parse::leading_tag(self.fragmentizer.message_bytes());
                self.fragmentizer.skip_message();
                self.start_command();
                Some(Event::TooBig { tag })
            }
            LiteralMode::NonSync => {
                if self.over_discard_limit(length) {
                    return Some(self.fail());
                }
                None
            }
        }
    }

    /// over_discard_limit - whether the command, with `more` bytes still to come, runs
    /// past what we are willing to read.
    fn over_discard_limit(&self, more: u64) -> bool {
        let allowed = u64::from(self.max) + u64::from(self.discard_limit);
        self.consumed.saturating_add(more) > allowed
    }

    /// finish_command - the event for a command whose last line just arrived.
    fn finish_command(&mut self) -> Event {
        let event = if self.fragmentizer.is_max_message_size_exceeded() {
            Event::TooBig {
                tag: crate::parse::leading_tag(self.fragmentizer.message_bytes()),
            }
        } else {
            Event::Command(self.fragmentizer.message_bytes().to_vec())
        };
        self.start_command();
        event
    }

    /// start_command - resets the per-command state (the fragmentizer itself starts
    /// its next message on the next `progress`).
    fn start_command(&mut self) {
        self.expect = Expect::Line;
        self.consumed = 0;
        if self.next_max != self.max {
            self.max = self.next_max;
            self.fragmentizer = Fragmentizer::new(self.max);
        }
    }

    /// fail - gives up on the connection.
    fn fail(&mut self) -> Event {
        self.failed = true;
        self.queue = VecDeque::new();
        self.fragmentizer = Fragmentizer::new(0);
        Event::Fatal
    }
}

#[cfg(test)]
mod tests;
