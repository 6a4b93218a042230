//! Stage 1 helper: the GPT-2 byte ↔ unicode alphabet.
//!
//! Byte-level BPE works on raw bytes, but GPT-2's `encoder.json` (and every Hugging Face
//! `tokenizer.json` and GGUF vocabulary descended from it) stores tokens as *strings*. To make
//! every byte printable, GPT-2 maps the 188 bytes that are already visible Latin-1 characters
//! (`!`..=`~`, `¡`..=`¬`, `®`..=`ÿ`) to themselves, and the other 68 (control bytes, space,
//! 0x7f..0xa0, 0xad) to U+0100, U+0101, ... in byte order. So a space becomes `Ġ` (U+0120) and
//! a newline `Ċ` (U+010A): the token " the" is stored as "Ġthe".
//!
//! Reference: `bytes_to_unicode()` in openai/gpt-2 `src/encoder.py`.

/// `true` for the bytes GPT-2 keeps as their own Latin-1 character.
const fn printable(b: u8) -> bool {
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

/// `HIDDEN[n]`: the n-th byte GPT-2 does not keep as itself (stored as U+0100 + n).
const HIDDEN: [u8; 68] = {
    let mut t = [0u8; 68];
    let (mut b, mut n) = (0usize, 0usize);
    while b < 256 {
        if !printable(b as u8) {
            t[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    t
};

/// The inverse mapping: the byte a GPT-2 alphabet character stands for, `None` outside it.
/// (Called for every character of every token when a vocabulary loads: a table, not a scan.)
pub fn char_to_byte(c: char) -> Option<u8> {
    let u = c as u32;
    if u < 256 && printable(u as u8) {
        return Some(u as u8);
    }
    HIDDEN.get(u.checked_sub(256)? as usize).copied()
}

/// Token bytes → their GPT-2 alphabet string (`b" the"` → `"Ġthe"`).
pub fn bytes_to_gpt2(bytes: &[u8], table: &[char; 256]) -> String {
    bytes.iter().map(|&b| table[b as usize]).collect()
}

/// GPT-2 alphabet string → token bytes; `None` if a character is outside the alphabet.
pub fn gpt2_to_bytes(s: &str) -> Option<Vec<u8>> {
    s.chars().map(char_to_byte).collect()
}

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
        assert_eq!(char_to_byte('\u{144}'), None); // one past the alphabet
        assert_eq!(char_to_byte('€'), None);
    }
}
