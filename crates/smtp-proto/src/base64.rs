//! base64 - the standard alphabet with padding (RFC 4648 section 4), for SASL.
//!
//! Decoding is strict, because a lenient decoder lets two different strings mean the
//! same credentials: the length must be a multiple of four, `=` may appear only as one
//! or two final padding characters, unused trailing bits must be zero, and white space
//! or any character outside the alphabet is an error. Input longer than
//! [`MAX_ENCODED`] is refused before decoding.

/// The longest encoded input [`decode`] accepts (RFC 4954's 12288-octet line limit).
pub const MAX_ENCODED: usize = 12_288;

/// Why a string is not acceptable base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// Longer than [`MAX_ENCODED`].
    #[error("base64 input longer than {MAX_ENCODED} octets")]
    TooLong,
    /// Length not a multiple of four.
    #[error("base64 length is not a multiple of 4")]
    InvalidLength,
    /// A character outside the alphabet (or `=` in the wrong place).
    #[error("invalid character in base64")]
    InvalidCharacter,
    /// Padding with non-zero leftover bits (not the canonical encoding).
    #[error("non-canonical base64 padding")]
    InvalidPadding,
}

/// Encodes `input` with padding.
#[must_use]
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for group in input.chunks(3) {
        let (a, b, c, n) = match *group {
            [a] => (a, 0, 0, 1),
            [a, b] => (a, b, 0, 2),
            [a, b, c] => (a, b, c, 3),
            _ => continue,
        };
        out.push(symbol(a >> 2));
        out.push(symbol((a & 0x03) << 4 | b >> 4));
        out.push(if n > 1 {
            symbol((b & 0x0f) << 2 | c >> 6)
        } else {
            '='
        });
        out.push(if n > 2 { symbol(c & 0x3f) } else { '=' });
    }
    out
}

/// Decodes strictly (see the module docs).
///
/// # Errors
///
/// [`Base64Error`] naming the first problem.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    if input.len() > MAX_ENCODED {
        return Err(Base64Error::TooLong);
    }
    if !input.len().is_multiple_of(4) {
        return Err(Base64Error::InvalidLength);
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let quads = input.len() / 4;
    for (index, quad) in input.chunks_exact(4).enumerate() {
        let &[a, b, c, d] = quad else {
            return Err(Base64Error::InvalidLength);
        };
        let last = index + 1 == quads;
        let (a, b) = (value(a)?, value(b)?);
        match (c, d) {
            (b'=', b'=') if last => {
                if b & 0x0f != 0 {
                    return Err(Base64Error::InvalidPadding);
                }
                out.push(a << 2 | b >> 4);
            }
            (_, b'=') if last && c != b'=' => {
                let c = value(c)?;
                if c & 0x03 != 0 {
                    return Err(Base64Error::InvalidPadding);
                }
                out.extend_from_slice(&[a << 2 | b >> 4, b << 4 | c >> 2]);
            }
            _ => {
                let (c, d) = (value(c)?, value(d)?);
                out.extend_from_slice(&[a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d]);
            }
        }
    }
    Ok(out)
}

fn symbol(v: u8) -> char {
    char::from(match v {
        0..=25 => b'A' + v,
        26..=51 => b'a' + (v - 26),
        52..=61 => b'0' + (v - 52),
        62 => b'+',
        _ => b'/',
    })
}

fn value(b: u8) -> Result<u8, Base64Error> {
    match b {
        b'A'..=b'Z' => Ok(b - b'A'),
        b'a'..=b'z' => Ok(b - b'a' + 26),
        b'0'..=b'9' => Ok(b - b'0' + 52),
        b'+' => Ok(62),
        b'/' => Ok(63),
        _ => Err(Base64Error::InvalidCharacter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("Username:", "VXNlcm5hbWU6"),
            ("Password:", "UGFzc3dvcmQ6"),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded, "encode {plain:?}");
            assert_eq!(
                decode(encoded.as_bytes()).unwrap(),
                plain.as_bytes(),
                "decode {encoded:?}"
            );
        }
    }

    #[test]
    fn decode_rejects() {
        for (name, input, want) in [
            ("short", "Zm9", Base64Error::InvalidLength),
            ("five", "Zm9vY", Base64Error::InvalidLength),
            ("space", "Zm 9", Base64Error::InvalidCharacter),
            ("newline", "Zm9\n", Base64Error::InvalidCharacter),
            ("url alphabet", "Zm-_", Base64Error::InvalidCharacter),
            (
                "padding in middle",
                "Zg==Zm9v",
                Base64Error::InvalidCharacter,
            ),
            ("three pads", "Z===", Base64Error::InvalidCharacter),
            ("four pads", "====", Base64Error::InvalidCharacter),
            ("pad then char", "Zm=v", Base64Error::InvalidCharacter),
            (
                "non-canonical one byte",
                "Zh==",
                Base64Error::InvalidPadding,
            ),
            (
                "non-canonical two bytes",
                "Zm9=",
                Base64Error::InvalidPadding,
            ),
        ] {
            assert_eq!(decode(input.as_bytes()), Err(want), "{name}");
        }
    }

    #[test]
    fn length_limit() {
        let ok = "A".repeat(MAX_ENCODED);
        assert!(decode(ok.as_bytes()).is_ok());
        let long = "A".repeat(MAX_ENCODED + 4);
        assert_eq!(decode(long.as_bytes()), Err(Base64Error::TooLong));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(decode(encode(&data).as_bytes()).unwrap(), data);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&data);
        }
    }
}
