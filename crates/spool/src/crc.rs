//! crc - CRC-32 (IEEE 802.3, reflected, the zlib/PNG polynomial).
//!
//! The queue file needs an error-detecting checksum, not a cryptographic
//! one: it guards against torn writes and media rot, never against an
//! attacker (an attacker who can write the spool can write a valid file).
//! A table-driven implementation is a few lines, so the crate carries its
//! own rather than a dependency.

/// The reflected form of the generator polynomial 0x04C11DB7.
const POLY: u32 = 0xEDB8_8320;

/// One entry per byte value: the CRC contribution of that byte.
const TABLE: [u32; 256] = build_table();

/// build_table - compute the byte table at compile time.
const fn build_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0u32;
    while n < 256 {
        let mut c = n;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 { POLY ^ (c >> 1) } else { c >> 1 };
            bit += 1;
        }
        // Evaluated at compile time only (TABLE is a const): an index out of
        // range would fail the build, so it cannot panic at run time.
        #[allow(
            clippy::indexing_slicing,
            reason = "const evaluation, checked by the compiler"
        )]
        {
            table[n as usize] = c;
        }
        n += 1;
    }
    table
}

/// A running CRC-32 over bytes fed in any number of pieces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crc32 {
    /// The register, kept inverted between updates as the algorithm wants.
    state: u32,
}

impl Crc32 {
    /// new - start a checksum over no bytes yet.
    pub(crate) const fn new() -> Self {
        Self { state: !0 }
    }

    /// update - feed more bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let mut c = self.state;
        for &b in bytes {
            let [low, ..] = c.to_le_bytes();
            // Always in range: the index is a byte and the table has 256 entries.
            let entry = TABLE.get(usize::from(low ^ b)).copied().unwrap_or(0);
            c = entry ^ (c >> 8);
        }
        self.state = c;
    }

    /// finish - the checksum of everything fed so far.
    pub(crate) const fn finish(self) -> u32 {
        !self.state
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
