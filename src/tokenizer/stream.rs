//! Stage 1, decoding while generating: ids arrive one at a time, text must never be broken.
//!
//! A token is a run of *bytes*, not characters: "é" may arrive as one token ending in `0xC3`
//! and the next one starting with `0xA9`. Printing each token's bytes as text would print two
//! garbage characters. The streaming decoder keeps an incomplete UTF-8 tail (at most 3 bytes)
//! until the bytes that complete it arrive:
//!
//! ```text
//! push([0x48 0x69 0xC3])  → "Hi"     (0xC3 held: it starts a 2-byte character)
//! push([0xA9 0x21])       → "é!"
//! flush()                 → ""       (a tail still held at the end becomes U+FFFD)
//! ```
//!
//! Bytes that can never become valid UTF-8 (e.g. `0xFF`, or `0xC3` followed by `0x41`) are
//! replaced by U+FFFD right away, as `String::from_utf8_lossy` would.

use super::Tokenizer;
use crate::{Error, Result};

/// Turns a stream of ids into valid UTF-8 pieces.
pub struct StreamDecoder<'a> {
    tok: &'a Tokenizer,
    /// bytes received but not yet emitted: an incomplete UTF-8 sequence (≤ 3 bytes)
    pending: Vec<u8>,
}

impl<'a> StreamDecoder<'a> {
    pub fn new(tok: &'a Tokenizer) -> Self {
        StreamDecoder {
            tok,
            pending: Vec::with_capacity(8),
        }
    }

    /// Add one id; returns the text it completed ("" if it only extended an incomplete tail).
    pub fn push(&mut self, id: u32) -> Result<String> {
        let bytes = self
            .tok
            .token_bytes(id)
            .ok_or_else(|| Error::invalid(format!("token id {id} is not in the vocabulary")))?;
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(s) => {
                    out.push_str(s);
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // SAFETY-free: from_utf8 just proved this prefix valid
                    out.push_str(
                        std::str::from_utf8(&self.pending[start..start + valid]).unwrap_or(""),
                    );
                    match e.error_len() {
                        // an incomplete sequence at the end: wait for more bytes
                        None => {
                            start += valid;
                            break;
                        }
                        // bytes that can never be valid: replace them, go on
                        Some(n) => {
                            out.push('\u{FFFD}');
                            start += valid + n;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
        Ok(out)
    }

    /// The text still held (an incomplete tail becomes U+FFFD); the decoder is empty after.
    pub fn flush(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        s
    }
}

impl Tokenizer {
    /// A streaming decoder over this tokenizer.
    pub fn stream_decoder(&self) -> StreamDecoder<'_> {
        StreamDecoder::new(self)
    }
}
