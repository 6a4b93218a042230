//! Stage 1 helper: FxHash, the one fast hash every tokenizer table uses (token lookups, merge
//! rules, the trainers' pre-token and pair counts).
//!
//! The keys are our own tokens, pre-tokens and `u64` pair keys, hashed millions of times per
//! second, where SipHash's resistance to hash flooding buys nothing and costs ~3×.
//!
//! Reference: rustc-hash 2 (`FxHasher`).

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (the hash rustc uses): one multiply and rotate per 8 bytes. Token lookups hash short
/// byte strings and `u64` pair keys millions of times per second, where SipHash's DoS
/// resistance buys nothing and costs ~3×.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("chunk of 8")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The low bits of a product depend only on the low bits of the key, and the hash table
        // picks the bucket from the low bits: a pair key `(a << 32) | b` would then bucket by
        // `b` alone. Rotating brings the well-mixed high bits down (as rustc-hash 2 does).
        self.hash.rotate_left(26)
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Heap bytes of a table: hashbrown keeps a power of two of buckets, at most 7/8 of them full,
/// each an entry and one control byte (the entries' own heap blocks are not counted).
pub fn table_bytes<K, V>(map: &FxHashMap<K, V>) -> usize {
    let buckets = match map.capacity() {
        0 => 0,
        c => (c * 8 / 7).next_power_of_two(),
    };
    buckets * (std::mem::size_of::<(K, V)>() + 1)
}
