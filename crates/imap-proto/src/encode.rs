//! Writing IMAP strings: quoted where that is safe, a literal otherwise.

/// Longest value sent as a quoted string; longer ones go as literals.
const QUOTED_MAX: usize = 1024;

/// Whether `bytes` may be sent as a quoted string.
fn quotable(bytes: &[u8]) -> bool {
    bytes.len() <= QUOTED_MAX
        && bytes
            .iter()
            .all(|&b| b != b'\r' && b != b'\n' && b != 0 && b < 0x80)
}

/// Writes `bytes` as a string: `"..."` with `\` and `"` escaped, or `{N}\r\n...`.
pub fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    if quotable(bytes) {
        out.push(b'"');
        for &b in bytes {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, bytes);
    }
}

/// Writes `bytes` as a literal, `{N}\r\n` then the bytes.
pub fn literal(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

/// Writes `NIL` for `None`, else the string.
pub fn nstring(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => string(out, bytes),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Whether `bytes` is an IMAP atom (no specials, not empty).
pub fn is_atom(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.iter().all(|&b| {
            b > 0x20
                && b < 0x7f
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

/// Writes `bytes` as an atom where it is one, else as a string (astring).
pub fn astring(out: &mut Vec<u8>, bytes: &[u8]) {
    if is_atom(bytes) && !bytes.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(bytes);
    } else {
        string(out, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: fn(&mut Vec<u8>, &[u8]), bytes: &[u8]) -> String {
        let mut out = Vec::new();
        f(&mut out, bytes);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn strings_are_quoted_or_literal() {
        assert_eq!(s(string, b"plain"), "\"plain\"");
        assert_eq!(s(string, b"a \"q\" \\"), "\"a \\\"q\\\" \\\\\"");
        assert_eq!(s(string, b"two\r\nlines"), "{10}\r\ntwo\r\nlines");
        assert_eq!(s(string, "ü".as_bytes()), "{2}\r\nü");
    }

    #[test]
    fn astrings_use_atoms_when_they_can() {
        assert_eq!(s(astring, b"INBOX"), "INBOX");
        assert_eq!(s(astring, b"with space"), "\"with space\"");
        assert_eq!(s(astring, b"nil"), "\"nil\"");
        assert_eq!(s(astring, b""), "\"\"");
    }
}
