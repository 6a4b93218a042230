//! Stage 1 · SentencePiece BPE (Gemma, Llama 2): merges chosen by score, `▁` for spaces,
//! bytes as `<0xNN>` tokens when nothing else fits.
//!
//! Byte-level BPE (`bpe.rs`) starts from bytes, cuts the text into pre-tokens first, and
//! merges by the *rank* of a learned rule. SentencePiece's BPE, as llama.cpp runs it from a
//! GGUF (`tokenizer.ggml.model = "llama"`), has neither merge rules nor a pre-tokenizer:
//!
//! ```text
//! "Hi there"  ──spaces → ▁──────▶ "Hi▁there"                    (and "▁Hi▁there" with add_space_prefix)
//!             ──one symbol/char─▶ [H] [i] [▁] [t] [h] [e] [r] [e]
//!             ──merge by score──▶ repeatedly join the adjacent pair whose concatenation is a
//!                                 token with the highest score (ties: the leftmost pair)
//!             ──look up─────────▶ [Hi] [▁there]   → ids; a symbol that is no token (an emoji the
//!                                 vocabulary lacks) becomes its UTF-8 bytes as <0xF0> <0x9F> …
//! ```
//!
//! The vocabulary is every piece with a score (`tokenizer.ggml.scores`: higher = merged
//! earlier). Tokens of type *user-defined* (Gemma: runs of spaces, tabs, newlines, HTML tags)
//! are cut out of the text first, even in ordinary text; *control* tokens (`<bos>`,
//! `<start_of_turn>`) only when special tokens are asked for — llama.cpp's
//! `tokenizer_st_partition` with `parse_special` false or true.
//!
//! Reference: Kudo & Richardson, "SentencePiece" (2018); llama.cpp `src/llama-vocab.cpp`
//! (`llm_tokenizer_spm_session::tokenize`, `resegment`, `try_add_bigram`). Checked id for id
//! against llama.cpp on the Gemma 3 file in `tests/tokenizer_sentencepiece.rs`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::fxhash::FxHashMap;
use super::token_store::TokenStore;
use super::{Kind, Pretokenizer, Tokenizer, NO_TOKEN};

/// GGUF `tokenizer.ggml.token_type` values.
const UNKNOWN: i64 = 2;
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;
const BYTE: i64 = 6;

/// Token texts llama.cpp treats as end-of-turn whatever the file's type says
/// (`llama_vocab::impl::load`: a user-defined token spelled like this becomes a control token,
/// with the warning "control-looking token ... its type will be overridden"). Gemma 3's
/// user-defined `</s>` (id 212) is one: llama.cpp never cuts it out of ordinary text, so
/// neither do we (`tests/tokenizer_sentencepiece.rs` has a string with it).
const END_OF_TURN_TEXTS: [&str; 8] = [
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<|end_of_text|>",
];

/// What a SentencePiece tokenizer adds to [`Tokenizer`].
#[derive(Clone, Debug)]
pub(super) struct SentencePiece {
    /// Every token's text as stored (spaces as `▁`) → (id, score), as llama.cpp's
    /// `token_to_id` (the last id wins for a text stored twice).
    pieces: FxHashMap<Box<[u8]>, (u32, f32)>,
    /// Put a `▁` before the text and after each special token (`add_space_prefix`; Gemma: no).
    add_space_prefix: bool,
    /// The user-defined tokens (text, id), longest first: cut out of any text.
    user_defined: Vec<(String, u32)>,
    user_first: [bool; 256],
}

impl SentencePiece {
    /// Heap bytes held (see `Tokenizer::heap_bytes`): the table and each text's block.
    pub(super) fn heap_bytes(&self) -> usize {
        let texts: usize = self
            .pieces
            .keys()
            .map(|k| k.len().next_multiple_of(16))
            .sum();
        super::fxhash::table_bytes(&self.pieces) + texts
    }
}

/// A merge candidate: symbols `left` and `right` (adjacent when pushed) make a token of
/// `score`, `len` bytes long.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl Ord for Candidate {
    /// The heap pops the highest score first; on a tie, the leftmost pair.
    fn cmp(&self, o: &Self) -> Ordering {
        self.score
            .total_cmp(&o.score)
            .then_with(|| o.left.cmp(&self.left))
    }
}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Candidate {}

/// One symbol of the text: bytes `start .. start + len` (`len` 0 once merged into its left
/// neighbour), linked to its live neighbours.
#[derive(Clone, Copy, Debug)]
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

/// `"▁the"` → `b" the"`; `"<0x0A>"` (a byte token) → `[0x0A]`.
fn byte_of_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    (hex.len() == 2).then(|| u8::from_str_radix(hex, 16).ok())?
}

impl SentencePiece {
    // ANCHOR: spm_encode
    /// Encode one stretch of ordinary text (no special tokens in it), appending ids to `out`.
    fn encode_fragment(&self, tok: &Tokenizer, text: &str, prefix_space: bool, out: &mut Vec<u32>) {
        // 1. spaces become ▁ (U+2581), the way the vocabulary spells them
        let mut s = String::with_capacity(text.len() + text.len() / 2 + 3);
        if prefix_space {
            s.push('▁');
        }
        for ch in text.chars() {
            s.push(if ch == ' ' { '▁' } else { ch });
        }
        let b = s.as_bytes();
        // 2. one symbol per UTF-8 character, linked left and right
        let mut sym: Vec<Symbol> = Vec::with_capacity(s.len());
        for (i, (start, ch)) in s.char_indices().enumerate() {
            let prev = i.checked_sub(1);
            let next = Some(i + 1).filter(|_| start + ch.len_utf8() < b.len());
            let len = ch.len_utf8();
            sym.push(Symbol {
                start,
                len,
                prev,
                next,
            });
        }
        // 3. every adjacent pair whose concatenation is a token is a candidate
        let mut heap = BinaryHeap::with_capacity(sym.len());
        let candidate = |sym: &[Symbol], heap: &mut BinaryHeap<Candidate>, l: usize, r: usize| {
            let (start, len) = (sym[l].start, sym[l].len + sym[r].len);
            if let Some(&(_, score)) = self.pieces.get(&b[start..start + len]) {
                heap.push(Candidate {
                    score,
                    left: l,
                    right: r,
                    len,
                });
            }
        };
        for r in 1..sym.len() {
            candidate(&sym, &mut heap, r - 1, r);
        }
        // 4. merge the best pair, again and again; a candidate whose symbols changed since it
        //    was pushed is stale and skipped
        while let Some(c) = heap.pop() {
            let (l, r) = (c.left, c.right);
            if sym[l].len == 0 || sym[r].len == 0 || sym[l].len + sym[r].len != c.len {
                continue;
            }
            sym[l].len += sym[r].len;
            sym[r].len = 0;
            sym[l].next = sym[r].next;
            if let Some(n) = sym[r].next {
                sym[n].prev = Some(l);
            }
            if let Some(p) = sym[l].prev {
                candidate(&sym, &mut heap, p, l);
            }
            if let Some(n) = sym[l].next {
                candidate(&sym, &mut heap, l, n);
            }
        }
        // 5. each symbol left is a token (every merge made one), or a character the vocabulary
        //    lacks: then its bytes, as byte tokens
        let mut i = (!sym.is_empty()).then_some(0);
        while let Some(k) = i {
            let piece = &b[sym[k].start..sym[k].start + sym[k].len];
            match self.pieces.get(piece) {
                Some(&(id, _)) => out.push(id),
                None => out.extend(
                    piece
                        .iter()
                        .map(|&x| tok.byte_ids[x as usize])
                        .filter(|&id| id != NO_TOKEN),
                ),
            }
            i = sym[k].next;
        }
    }
    // ANCHOR_END: spm_encode

    /// Encode `text`: special tokens (all of them with `with_special`, else only the
    /// user-defined ones) are cut out first, each stretch between them is encoded on its own.
    pub(super) fn encode(&self, tok: &Tokenizer, text: &str, with_special: bool) -> Vec<u32> {
        let (list, first) = match with_special {
            true => (&tok.specials, &tok.special_first),
            false => (&self.user_defined, &self.user_first),
        };
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut after_special = true; // the first stretch gets the prefix space too
        super::split_specials(text, list, first, |part| match part {
            Ok(stretch) => {
                let prefix = self.add_space_prefix && after_special;
                self.encode_fragment(tok, stretch, prefix, &mut out);
                after_special = false;
            }
            Err(id) => {
                out.push(id);
                after_special = true;
            }
        });
        out
    }
}

impl Tokenizer {
    /// A SentencePiece BPE from its vocabulary: `texts[id]` as stored (`▁` for spaces),
    /// `scores[id]`, `types[id]` (GGUF token types: 1 normal, 2 unknown, 3 control,
    /// 4 user-defined, 5 unused, 6 byte). Errors are plain strings; callers add the file name.
    pub(super) fn from_sentencepiece(
        texts: &[&str],
        scores: &[f32],
        types: &[i64],
        add_space_prefix: bool,
    ) -> std::result::Result<Tokenizer, String> {
        let n = texts.len();
        if scores.len() != n || types.len() != n {
            return Err(format!(
                "{n} tokens but {} scores and {} token types",
                scores.len(),
                types.len()
            ));
        }
        let mut tokens = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut pieces = FxHashMap::default();
        pieces.reserve(n);
        let mut specials = Vec::new();
        let mut user_defined = Vec::new();
        let mut byte_ids = [NO_TOKEN; 256];
        for (id, (&text, &ty)) in texts.iter().zip(types).enumerate() {
            if text.is_empty() {
                return Err(format!("token {id} is empty"));
            }
            let id32 = id as u32;
            pieces.insert(text.as_bytes().into(), (id32, scores[id]));
            let ty = match ty {
                USER_DEFINED if END_OF_TURN_TEXTS.contains(&text) => CONTROL,
                other => other,
            };
            let (kind, bytes) = match ty {
                UNKNOWN | CONTROL | USER_DEFINED => {
                    specials.push((text.to_string(), id32));
                    if ty == USER_DEFINED {
                        user_defined.push((text.to_string(), id32));
                    }
                    (Kind::Special, text.as_bytes().to_vec())
                }
                BYTE => {
                    let b = byte_of_token(text)
                        .ok_or_else(|| format!("byte token {id} is {text:?}, not <0xNN>"))?;
                    byte_ids[b as usize] = id32;
                    (Kind::Normal, vec![b])
                }
                _ => (Kind::Normal, text.replace('▁', " ").into_bytes()),
            };
            kinds.push(kind);
            tokens.push(bytes);
        }
        // without a <0xNN> token, a byte may still be a one-character token (llama.cpp's fallback)
        for b in 0..0x80u8 {
            if byte_ids[b as usize] == NO_TOKEN {
                if let Some(&(id, _)) = pieces.get(&[b][..]) {
                    byte_ids[b as usize] = id;
                }
            }
        }
        // text → id for `token_id`: ordinary tokens first, then the byte tokens
        let normal = &kinds;
        let indexed = [false, true].into_iter().flat_map(|pass| {
            (0..n).filter(move |&id| normal[id] == Kind::Normal && (types[id] == BYTE) == pass)
        });
        let store = TokenStore::new(
            &tokens,
            indexed.map(|id| (id as u32, tokens[id].as_slice())),
        )?;
        drop(tokens); // one heap block per token: the store has them
        let longest_first = |v: &mut Vec<(String, u32)>| -> [bool; 256] {
            v.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
            let mut first = [false; 256];
            for (s, _) in v.iter() {
                first[s.as_bytes()[0] as usize] = true;
            }
            first
        };
        let special_first = longest_first(&mut specials);
        let user_first = longest_first(&mut user_defined);
        Ok(Tokenizer {
            tokens: store,
            kinds,
            byte_ids,
            merges: Default::default(),
            merge_list: Vec::new(),
            whole: Default::default(), // never consulted: SentencePiece merges by score
            whole_piece_always: false,
            // never consulted: SentencePiece cuts no pre-tokens
            pretokenizer: Pretokenizer::Gpt2,
            specials,
            special_first,
            bos: None,
            eos: Vec::new(),
            add_bos: true,
            sentencepiece: Some(Box::new(SentencePiece {
                pieces,
                add_space_prefix,
                user_defined,
                user_first,
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vocabulary small enough to follow by hand.
    fn tiny() -> Tokenizer {
        let texts = [
            "<bos>", "<0x61>", "<0x62>", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>", "a", "b", "▁",
            "ab", "▁a", "▁ab", "\n", "bb",
        ];
        let scores = [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -10.0, -11.0, -12.0, -1.0, -2.0, -3.0, 0.0, -0.5,
        ];
        let types = [3, 6, 6, 6, 6, 6, 6, 1, 1, 1, 1, 1, 1, 4, 1];
        Tokenizer::from_sentencepiece(&texts, &scores, &types, false).unwrap()
    }

    #[test]
    fn merges_by_score_by_hand() {
        let t = tiny();
        // "▁ab": pairs ▁a (−2) and ab (−1): ab first (higher score), then ▁+ab = ▁ab (−3)
        assert_eq!(t.encode(" ab"), vec![12]);
        // "abb": ab (−1) vs bb (−0.5): bb wins, then a + bb is no token
        assert_eq!(t.encode("abb"), vec![7, 14]);
        // an emoji the vocabulary lacks: its four bytes as byte tokens
        assert_eq!(t.encode("😀"), vec![3, 4, 5, 6]);
        // user-defined "\n" is cut out of ordinary text; control "<bos>" only with specials
        assert_eq!(t.encode("a\nb"), vec![7, 13, 8]);
        assert!(!t.encode("<bos>a").contains(&0));
        assert_eq!(t.encode_with_special("<bos>a"), vec![0, 7]);
        assert_eq!(t.decode(&[12, 13, 3, 4, 5, 6]).unwrap(), " ab\n😀");
    }
}
