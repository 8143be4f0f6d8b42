//! crc - CRC-32 (IEEE 802.3, reflected, the zlib/PNG polynomial).
//!
//! The queue file needs an error-detecting checksum, not a cryptographic
//! one: it guards against torn writes and media rot, never against an
//! attacker (an attacker who can write the spool can write a valid file).
//! The standard CRC-32 of zlib and PNG, so any tool can check a file;
//! computed by crc32fast.

/// A running CRC-32 over bytes fed in any number of pieces.
#[derive(Debug, Clone)]
pub(crate) struct Crc32 {
    /// The running checksum (crc32fast: table-free with the CPU's
    /// carry-less multiply where there is one; whole messages go through
    /// it twice per delivery, so speed matters).
    hasher: crc32fast::Hasher,
}

impl Crc32 {
    /// new - start a checksum over no bytes yet.
    pub(crate) fn new() -> Self {
        Self {
            hasher: crc32fast::Hasher::new(),
        }
    }

    /// update - feed more bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// finish - the checksum of everything fed so far (more may be fed
    /// after).
    pub(crate) fn finish(&self) -> u32 {
        self.hasher.clone().finalize()
    }
}

/// crc32 - checksum of one contiguous buffer.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(bytes);
    crc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_matches_the_standard() {
        // The "check" value every CRC-32/ISO-HDLC implementation agrees on.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn pieces_equal_whole() {
        let data = b"The quick brown fox jumps over the lazy dog";
        let mut crc = Crc32::new();
        crc.update(&data[..10]);
        crc.update(&data[10..]);
        assert_eq!(crc.finish(), crc32(data));
        assert_eq!(crc32(data), 0x414F_A339);
    }
}
