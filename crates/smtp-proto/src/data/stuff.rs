//! stuff - dot-stuffing for sending a message with DATA.

/// Turns stored message content into DATA wire form, streaming.
///
/// Every line that starts with `.` gets one more (RFC 5321 4.5.2), every bare CR or LF
/// is sent as CRLF (bare ones are not allowed on the wire and receivers refuse them),
/// and [`finish`](Self::finish) adds a final CRLF if the content lacks one, then the
/// `.<CR><LF>` terminator. Feeding the result to a [`DataReader`](super::DataReader)
/// gives back content with CRLF line ends.
#[derive(Debug, Clone)]
pub struct Stuffer {
    line_start: bool,
    pending_cr: bool,
}

impl Default for Stuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl Stuffer {
    /// A stuffer at the start of a message.
    #[must_use]
    pub fn new() -> Self {
        Self {
            line_start: true,
            pending_cr: false,
        }
    }

    /// Appends the wire form of `input` to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        while let Some((&byte, tail)) = rest.split_first() {
            if self.pending_cr {
                self.pending_cr = false;
                out.extend_from_slice(b"\r\n");
                self.line_start = true;
                if byte == b'\n' {
                    rest = tail;
                    continue;
                }
            }
            match byte {
                b'\r' => {
                    self.pending_cr = true;
                    rest = tail;
                }
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.line_start = true;
                    rest = tail;
                }
                _ => {
                    if self.line_start && byte == b'.' {
                        out.push(b'.');
                    }
                    self.line_start = false;
                    let run = rest
                        .iter()
                        .position(|&b| b == b'\r' || b == b'\n')
                        .unwrap_or(rest.len());
                    let (text, tail) = rest.split_at_checked(run).unwrap_or((rest, &[]));
                    out.extend_from_slice(text);
                    rest = tail;
                }
            }
        }
    }

    /// Ends the message: a CRLF if the last line lacks one, then `.<CR><LF>`.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// The whole DATA wire form of `message`, terminator included.
#[must_use]
pub fn stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut stuffer = Stuffer::new();
    stuffer.push(message, &mut out);
    stuffer.finish(&mut out);
    out
}
