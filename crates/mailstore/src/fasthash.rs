//! A fast hash for the maps a folder scan builds (one entry per message file,
//! keyed by base names Postern or another delivery agent made up, so nobody
//! can choose keys that collide on purpose). std's SipHash was a sixth of a
//! 100,000-message scan.

use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a over 64 bits, eight bytes at a time.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { OFFSET } else { self.0 };
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            hash = (hash ^ u64::from_le_bytes(word)).wrapping_mul(PRIME);
        }
        for &b in chunks.remainder() {
            hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
        }
        // Mix the high bits down: hashbrown takes its control bits from the top.
        self.0 = hash ^ (hash >> 29);
    }
}

/// A HashMap keyed with [`Fnv`].
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fnv>>;
/// A HashSet keyed with [`Fnv`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, BuildHasherDefault<Fnv>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_work_and_spread_keys() {
        let mut map: FastMap<String, u32> = FastMap::default();
        for i in 0..10_000u32 {
            map.insert(format!("1796308464.M{i}P1Q0R00.host"), i);
        }
        assert_eq!(map.len(), 10_000);
        assert_eq!(map.get("1796308464.M42P1Q0R00.host"), Some(&42));
        let mut set: FastSet<u64> = FastSet::default();
        for i in 0..10_000u32 {
            let mut h = Fnv::default();
            h.write(format!("name{i}").as_bytes());
            set.insert(h.finish());
        }
        assert_eq!(set.len(), 10_000);
    }
}
