//! Stage 1 helper: the GPT-2 byte ↔ unicode alphabet, and a fast hash for token lookups.
//!
//! Byte-level BPE works on raw bytes, but GPT-2's `encoder.json` (and every Hugging Face
//! `tokenizer.json` and GGUF vocabulary descended from it) stores tokens as *strings*. To make
//! every byte printable, GPT-2 maps the 188 bytes that are already visible Latin-1 characters
//! (`!`..=`~`, `¡`..=`¬`, `®`..=`ÿ`) to themselves, and the other 68 (control bytes, space,
//! 0x7f..0xa0, 0xad) to U+0100, U+0101, ... in byte order. So a space becomes `Ġ` (U+0120) and
//! a newline `Ċ` (U+010A): the token " the" is stored as "Ġthe".
//!
//! Reference: `bytes_to_unicode()` in openai/gpt-2 `src/encoder.py`.

use std::hash::{BuildHasherDefault, Hasher};

/// `true` for the bytes GPT-2 keeps as their own Latin-1 character.
fn printable(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff)
}

/// The character GPT-2 uses to store byte `b`.
///
/// `byte_to_char(b'a') == 'a'`, `byte_to_char(b' ') == 'Ġ'`, `byte_to_char(b'\n') == 'Ċ'`.
pub fn byte_to_char(b: u8) -> char {
    if printable(b) {
        return b as char;
    }
    // the n-th non-printable byte (in byte order) maps to U+0100 + n
    let n = (0..b).filter(|&x| !printable(x)).count() as u32;
    char::from_u32(256 + n).expect("U+0100..U+0143 are valid chars")
}

/// The table of all 256 characters, built once per call (cheap: 256 entries).
pub fn byte_to_char_table() -> [char; 256] {
    let mut t = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        t[b as usize] = if printable(b) {
            b as char
        } else {
            n += 1;
            char::from_u32(256 + n - 1).expect("valid char")
        };
    }
    t
}

/// The inverse mapping: the byte a GPT-2 alphabet character stands for, `None` outside it.
pub fn char_to_byte(c: char) -> Option<u8> {
    let u = c as u32;
    if u < 256 && printable(u as u8) {
        return Some(u as u8);
    }
    if (256..256 + 68).contains(&u) {
        let n = (u - 256) as usize;
        return (0..=255u8).filter(|&x| !printable(x)).nth(n);
    }
    None
}

/// Token bytes → their GPT-2 alphabet string (`b" the"` → `"Ġthe"`).
pub fn bytes_to_gpt2(bytes: &[u8], table: &[char; 256]) -> String {
    bytes.iter().map(|&b| table[b as usize]).collect()
}

/// GPT-2 alphabet string → token bytes; `None` if a character is outside the alphabet.
pub fn gpt2_to_bytes(s: &str) -> Option<Vec<u8>> {
    s.chars().map(char_to_byte).collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_alphabet_is_a_bijection() {
        let t = byte_to_char_table();
        for b in 0..=255u8 {
            assert_eq!(t[b as usize], byte_to_char(b));
            assert_eq!(char_to_byte(t[b as usize]), Some(b));
        }
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(bytes_to_gpt2(b" the", &t), "Ġthe");
        assert_eq!(gpt2_to_bytes("Ġthe").as_deref(), Some(&b" the"[..]));
        assert_eq!(char_to_byte('é'), Some(0xe9));
        assert_eq!(char_to_byte('\u{143}'), Some(0xad)); // 0xad is the 68th (last) hidden byte
        assert_eq!(char_to_byte('€'), None);
    }
}
