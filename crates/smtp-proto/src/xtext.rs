//! xtext - the encoding of DSN and AUTH= parameter values (RFC 3461 section 4).
//!
//! Printable ASCII other than `+` and `=` stands for itself; anything else is `+`
//! followed by two **upper-case** hex digits. Decoding is strict: lower-case hex, a
//! truncated `+X`, raw `=`, spaces, controls or non-ASCII characters are errors. Decoded
//! values must not contain control characters (they end up in DSN headers), and must be
//! UTF-8.

use std::fmt::Write as _;

/// Why a parameter value is not valid xtext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XtextError {
    /// A character that may not appear raw in xtext.
    #[error("character not allowed in xtext")]
    InvalidCharacter,
    /// `+` not followed by two upper-case hex digits.
    #[error("malformed +XX escape in xtext")]
    InvalidEscape,
    /// The decoded value holds a control character.
    #[error("decoded xtext holds a control character")]
    ControlCharacter,
    /// The decoded value is not UTF-8.
    #[error("decoded xtext is not UTF-8")]
    InvalidUtf8,
}

/// Decodes xtext strictly.
///
/// # Errors
///
/// [`XtextError`] naming the first problem.
pub fn decode(text: &str) -> Result<String, XtextError> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => {
                let (Some(high), Some(low)) = (bytes.next(), bytes.next()) else {
                    return Err(XtextError::InvalidEscape);
                };
                let (Some(high), Some(low)) = (upper_hex(high), upper_hex(low)) else {
                    return Err(XtextError::InvalidEscape);
                };
                let value = high << 4 | low;
                if value < 0x20 || value == 0x7f {
                    return Err(XtextError::ControlCharacter);
                }
                out.push(value);
            }
            b'!'..=b'~' if b != b'=' => out.push(b),
            _ => return Err(XtextError::InvalidCharacter),
        }
    }
    String::from_utf8(out).map_err(|_| XtextError::InvalidUtf8)
}

/// Encodes `value` as xtext (`+`, `=`, space, controls and non-ASCII octets as `+XX`).
#[must_use]
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "+{b:02X}");
        }
    }
    out
}

fn upper_hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_cases() {
        let cases: &[(&str, &str, Result<&str, XtextError>)] = &[
            ("plain", "abc", Ok("abc")),
            ("empty", "", Ok("")),
            ("escaped plus", "a+2Bb", Ok("a+b")),
            ("escaped equals", "+3D", Ok("=")),
            ("escaped space", "a+20b", Ok("a b")),
            ("needless escape", "+41", Ok("A")),
            ("utf-8 escapes", "+C3+A9", Ok("\u{e9}")),
            ("lower-case hex", "+2b", Err(XtextError::InvalidEscape)),
            ("one hex digit", "+2", Err(XtextError::InvalidEscape)),
            ("bare plus", "+", Err(XtextError::InvalidEscape)),
            ("non-hex", "+G0", Err(XtextError::InvalidEscape)),
            ("raw equals", "a=b", Err(XtextError::InvalidCharacter)),
            ("raw space", "a b", Err(XtextError::InvalidCharacter)),
            ("raw non-ascii", "\u{e9}", Err(XtextError::InvalidCharacter)),
            ("escaped LF", "a+0Ab", Err(XtextError::ControlCharacter)),
            ("escaped NUL", "+00", Err(XtextError::ControlCharacter)),
            ("escaped DEL", "+7F", Err(XtextError::ControlCharacter)),
            ("bad utf-8", "+FF", Err(XtextError::InvalidUtf8)),
        ];
        for (name, input, want) in cases {
            assert_eq!(decode(input).as_deref(), want.as_deref(), "{name}");
        }
    }

    #[test]
    fn encode_cases() {
        for (value, want) in [
            ("abc", "abc"),
            ("a+b=c d", "a+2Bb+3Dc+20d"),
            ("\u{e9}", "+C3+A9"),
            ("rfc822;a@b", "rfc822;a@b"),
        ] {
            assert_eq!(encode(value), want, "{value}");
            assert_eq!(decode(&encode(value)).unwrap(), value, "round trip {value}");
        }
    }
}
