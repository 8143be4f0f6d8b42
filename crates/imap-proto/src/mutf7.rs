//! Modified UTF-7 (RFC 3501 section 5.1.3), the mailbox name encoding of IMAP4rev1.
//!
//! Printable US-ASCII (0x20..=0x7e) stands for itself, except `&`, which is written
//! `&-`. Everything else is UTF-16, in a BASE64 variant that uses `,` instead of `/`
//! and no padding, between `&` and `-`.
//!
//! [`decode`] accepts only the canonical form, the one [`encode`] produces, so that
//! every mailbox has exactly one spelling on the wire and
//! `encode(&decode(s)?) == s` always holds. Rejected:
//! - bytes outside printable US-ASCII (they must be encoded);
//! - a `&` shift without its closing `-`;
//! - characters outside the modified BASE64 alphabet inside a shift;
//! - printable US-ASCII encoded in BASE64 (it must stand for itself);
//! - leftover bits that are not zero, or a superfluous BASE64 character;
//! - two shifts back to back (`&AOQ-&APY-`; one shift must hold both);
//! - UTF-16 that does not decode (a lone surrogate).

/// Why a name is not canonical modified UTF-7; `at` is the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mutf7Error {
    /// A byte outside printable US-ASCII, which would have to be encoded.
    #[error("byte {at}: not printable US-ASCII (must be encoded)")]
    NotPrintable {
        /// Byte offset.
        at: usize,
    },
    /// A `&` shift that is not closed by `-`.
    #[error("byte {at}: '&' shift not closed by '-'")]
    Unterminated {
        /// Byte offset of the `&`.
        at: usize,
    },
    /// A character that is not in the modified BASE64 alphabet.
    #[error("byte {at}: not a modified BASE64 character")]
    BadBase64 {
        /// Byte offset.
        at: usize,
    },
    /// A valid but non-canonical encoding (see the module documentation).
    #[error("byte {at}: not the canonical encoding")]
    NonCanonical {
        /// Byte offset of the shift.
        at: usize,
    },
    /// UTF-16 that does not decode, such as a lone surrogate.
    #[error("byte {at}: invalid UTF-16")]
    BadUtf16 {
        /// Byte offset of the shift.
        at: usize,
    },
}

/// The modified BASE64 alphabet: standard BASE64 with `,` in place of `/`.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// is_direct - whether `c` stands for itself (printable US-ASCII other than `&`).
fn is_direct(c: char) -> bool {
    matches!(c, ' '..='~') && c != '&'
}

/// sextet - the value of a modified BASE64 character.
fn sextet(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// alphabet_char - the modified BASE64 character for the low six bits of `v`.
fn alphabet_char(v: u32) -> char {
    let i = usize::try_from(v & 0x3f).unwrap_or(0);
    ALPHABET.get(i).map_or('A', |&b| char::from(b))
}

/// encode - writes `name` in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) {
            flush_shift(&mut out, &mut pending);
            out.push(c);
        } else if c == '&' {
            flush_shift(&mut out, &mut pending);
            out.push_str("&-");
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush_shift(&mut out, &mut pending);
    out
}

/// flush_shift - writes the pending UTF-16 units as one `&...-` shift.
fn flush_shift(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut bits: u32 = 0;
    let mut nbits: u32 = 0;
    for &unit in units.iter() {
        bits = (bits << 16) | u32::from(unit);
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            out.push(alphabet_char(bits >> nbits));
        }
        bits &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        out.push(alphabet_char(bits << (6 - nbits)));
    }
    out.push('-');
    units.clear();
}

/// decode - reads a canonical modified UTF-7 name.
pub fn decode(wire: &str) -> Result<String, Mutf7Error> {
    let bytes = wire.as_bytes();
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    // Where the last base64 shift ended, to refuse a second one right after it.
    let mut shift_ended_at: Option<usize> = None;
    while let Some(&b) = bytes.get(i) {
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                return Err(Mutf7Error::NotPrintable { at: i });
            }
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let start = i;
        if bytes.get(i + 1) == Some(&b'-') {
            out.push('&');
            i += 2;
            continue;
        }
        if shift_ended_at == Some(start) {
            return Err(Mutf7Error::NonCanonical { at: start });
        }
        i += 1;
        let mut units: Vec<u16> = Vec::new();
        let mut bits: u32 = 0;
        let mut nbits: u32 = 0;
        loop {
            let Some(&c) = bytes.get(i) else {
                return Err(Mutf7Error::Unterminated { at: start });
            };
            i += 1;
            if c == b'-' {
                break;
            }
            let v = sextet(c).ok_or(Mutf7Error::BadBase64 { at: i - 1 })?;
            bits = (bits << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(u16::try_from((bits >> nbits) & 0xffff).unwrap_or(0));
                bits &= (1 << nbits) - 1;
            }
        }
        // The encoder pads the last unit with at most four zero bits.
        if nbits >= 6 || bits != 0 || units.is_empty() {
            return Err(Mutf7Error::NonCanonical { at: start });
        }
        for c in char::decode_utf16(units.iter().copied()) {
            let c = c.map_err(|_| Mutf7Error::BadUtf16 { at: start })?;
            if matches!(c, ' '..='~') {
                return Err(Mutf7Error::NonCanonical { at: start });
            }
            out.push(c);
        }
        shift_ended_at = Some(i);
    }
    Ok(out)
}

/// is_valid - whether `wire` is canonical modified UTF-7 (what [`decode`] accepts).
pub fn is_valid(wire: &str) -> bool {
    decode(wire).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_3501_example() {
        // RFC 3501 5.1.3: "~peter/mail/台北/日本語".
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), name);
    }

    #[test]
    fn known_encodings() {
        let cases: &[(&str, &str)] = &[
            ("INBOX", "INBOX"),
            ("", ""),
            ("&", "&-"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Gelöschte Elemente", "Gel&APY-schte Elemente"),
            ("äö", "&AOQA9g-"),
            ("\u{1f600}", "&2D3eAA-"),
            ("\t", "&AAk-"),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
        ];
        for (plain, wire) in cases {
            assert_eq!(encode(plain), *wire, "encode {plain:?}");
            assert_eq!(decode(wire).as_deref(), Ok(*plain), "decode {wire:?}");
        }
    }

    #[test]
    fn rejects_bad_encodings() {
        let cases: &[(&str, Mutf7Error)] = &[
            ("&", Mutf7Error::Unterminated { at: 0 }),
            ("a&U,BTFw", Mutf7Error::Unterminated { at: 1 }),
            ("&U/BTFw-", Mutf7Error::BadBase64 { at: 2 }),
            ("&U=-", Mutf7Error::BadBase64 { at: 2 }),
            // "a" (U+0061) in base64: must stand for itself.
            ("&AGE-", Mutf7Error::NonCanonical { at: 0 }),
            // "&" itself in base64 (U+0026): must be "&-".
            ("&ACY-", Mutf7Error::NonCanonical { at: 0 }),
            // Non-zero padding bits.
            ("&APx-", Mutf7Error::NonCanonical { at: 0 }),
            // A superfluous character.
            ("&APwA-", Mutf7Error::NonCanonical { at: 0 }),
            // Too few bits for one unit.
            ("&AA-", Mutf7Error::NonCanonical { at: 0 }),
            // Adjacent shifts.
            ("&AOQ-&APY-", Mutf7Error::NonCanonical { at: 5 }),
            // A lone high surrogate.
            ("&2D0-", Mutf7Error::BadUtf16 { at: 0 }),
            ("caf\u{e9}", Mutf7Error::NotPrintable { at: 3 }),
            ("a\tb", Mutf7Error::NotPrintable { at: 1 }),
        ];
        for (wire, err) in cases {
            assert_eq!(decode(wire), Err(err.clone()), "{wire:?}");
        }
    }

    #[test]
    fn ampersand_then_shift_is_allowed() {
        assert_eq!(decode("&-&APw-").as_deref(), Ok("&\u{fc}"));
        assert_eq!(encode("&\u{fc}"), "&-&APw-");
    }

    proptest! {
        #[test]
        fn round_trip(name in any::<String>()) {
            let wire = encode(&name);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(&wire), Ok(name));
        }

        #[test]
        fn decode_is_canonical(wire in "[ -~]{0,24}") {
            if let Ok(name) = decode(&wire) {
                prop_assert_eq!(encode(&name), wire);
            }
        }

        #[test]
        fn decode_never_panics(wire in "(&|-|[A-Za-z0-9+,/]|[ -~]|\\PC){0,40}") {
            let _ = decode(&wire);
        }
    }
}
