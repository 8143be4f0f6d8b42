//! reader - the DATA state machine.

use super::{DataError, DataOptions, Sink, split_line_text};
use crate::Progress;

/// How the current line began: after a real CRLF (or at the start of the message), or
/// after a bare CR or LF. Only a hard line start can end the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Hard,
    Soft,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    LineStart(Start),
    /// A `.` first on a line, not yet output.
    Dot(Start),
    /// `<CRLF>.<CR>`: one LF from the end.
    DotCr,
    /// Inside a line.
    Text,
    /// A CR inside a line, not yet output.
    Cr,
    /// After `<CRLF>.<CRLF>`.
    Done,
}

/// Reads the content of DATA: from after the `354` reply to `<CRLF>.<CRLF>` inclusive.
///
/// Output is the message with dot-stuffing removed (RFC 5321 4.5.2: a dot first on a
/// line is deleted when more characters follow it), ending with the CRLF of its last
/// line. See the [module docs](super) for errors and bare newlines.
#[derive(Debug, Clone)]
pub struct DataReader {
    state: State,
    sink: Sink,
}

impl DataReader {
    /// A reader for one message.
    #[must_use]
    pub fn new(options: DataOptions) -> Self {
        Self {
            state: State::LineStart(Start::Hard),
            sink: Sink::new(options, true),
        }
    }

    /// Consumes `input` up to the end of the message, appending content to `out`.
    ///
    /// When the end is reached, `output` is the message size (octets appended to `out`
    /// over all calls) or the first error; `consumed` then stops just after the final
    /// LF. Calling again after the end consumes nothing and repeats the result.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress<Result<u64, DataError>> {
        let mut pos = 0;
        while self.state != State::Done {
            let rest = input.get(pos..).unwrap_or_default();
            let Some(&byte) = rest.first() else {
                break;
            };
            if self.state == State::Text {
                let (text, _) = split_line_text(rest);
                if !text.is_empty() {
                    self.sink.text(out, text);
                    pos += text.len();
                    continue;
                }
            }
            pos += 1;
            self.step(byte, out);
        }
        if self.state == State::Done {
            Progress::done(pos, self.sink.result())
        } else {
            Progress::pending(pos)
        }
    }

    /// The first error seen so far. Once there is one, nothing more is appended to the
    /// output and the message will be refused at its end.
    #[must_use]
    pub fn error(&self) -> Option<&DataError> {
        self.sink.error.as_ref()
    }

    /// Octets of content so far (counted even after an error).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.sink.size
    }

    /// Whether the end of the message was reached.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn step(&mut self, byte: u8, out: &mut Vec<u8>) {
        match self.state {
            State::LineStart(start) => {
                if byte == b'.' {
                    self.state = State::Dot(start);
                } else {
                    self.state = State::Text;
                    self.text_byte(byte, out);
                }
            }
            State::Dot(start) => match byte {
                b'\r' if start == Start::Hard => self.state = State::DotCr,
                // A lone dot after a bare newline is content, never the end.
                b'\r' => {
                    self.sink.text(out, b".");
                    self.state = State::Cr;
                }
                b'\n' => {
                    self.sink.text(out, b".");
                    self.bare_newline(out, DataError::BareLf);
                }
                // The dot was stuffing: drop it, keep what follows.
                _ => {
                    self.state = State::Text;
                    self.text_byte(byte, out);
                }
            },
            State::DotCr => {
                if byte == b'\n' {
                    self.state = State::Done;
                } else {
                    // `<CRLF>.<CR>x`: a lone dot line ended by a bare CR.
                    self.sink.text(out, b".");
                    self.bare_newline(out, DataError::BareCr);
                    self.step(byte, out);
                }
            }
            State::Cr => {
                if byte == b'\n' {
                    self.sink.line_end(out, None);
                    self.state = State::LineStart(Start::Hard);
                } else {
                    self.bare_newline(out, DataError::BareCr);
                    self.step(byte, out);
                }
            }
            State::Text => self.text_byte(byte, out),
            State::Done => {}
        }
    }

    fn text_byte(&mut self, byte: u8, out: &mut Vec<u8>) {
        match byte {
            b'\r' => self.state = State::Cr,
            b'\n' => self.bare_newline(out, DataError::BareLf),
            _ => self.sink.text(out, &[byte]),
        }
    }

    /// A bare CR or LF ends the line as CRLF would, except that the next line starts
    /// soft: it is unstuffed, but a dot alone on it does not end the message.
    fn bare_newline(&mut self, out: &mut Vec<u8>, kind: DataError) {
        self.sink.line_end(out, Some(kind));
        self.state = State::LineStart(Start::Soft);
    }
}
