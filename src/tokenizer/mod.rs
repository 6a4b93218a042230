//! # Stage 1: the tokenizer — text ⇄ token ids
//!
//! A language model reads integers, not text. Byte-level BPE (GPT-2, GPT-4's cl100k, GPT-4o's
//! o200k, Llama 3, SmolLM2) turns text into ids in three steps:
//!
//! ```text
//! "Hello world!"  ──pre-tokenize──▶ ["Hello", " world", "!"]          (pretokenize/)
//!                 ──UTF-8 bytes───▶ [72 101 108 108 111] [32 119 ...] (every byte is a token)
//!                 ──BPE merges────▶ [9906] [1917] [0]                 (bpe.rs: lowest rank first)
//! ```
//!
//! and decoding is concatenating each id's bytes (then UTF-8 decoding the whole). Gemma and
//! Llama 2 use the other common BPE, SentencePiece's (`sentencepiece.rs`): no pre-tokenizer,
//! `▁` for spaces, merges chosen by a score per token, and bytes as `<0xNN>` tokens only when
//! a character has no token of its own. Special
//! tokens (`<|endoftext|>`, `<|im_start|>`) are ids whose text is matched *before* the three
//! steps, and only when the caller asks for it ([`Tokenizer::encode_with_special`]): text typed
//! by a user must not be able to forge a control token.
//!
//! ```text
//! mod.rs          the Tokenizer: encode (specials, pre-tokens, merges), decode
//! pretokenize/    the published split patterns (regex reference) and their fast scanners
//! bpe.rs          the merge loop, three ways;  fxhash.rs  the hash its tables use
//! vocab.rs        assembling a vocabulary from any format, checked (Tokenizer::assemble)
//! load.rs         Tokenizer::load: which format a path is
//! sentencepiece.rs  SentencePiece BPE (Gemma): merges by score, ▁, byte fallback
//! tiktoken_file.rs, hf_json.rs, gguf_vocab.rs   the formats; bytes.rs  GPT-2's byte alphabet
//! stream.rs       UTF-8-safe streaming decode
//! train_naive.rs  the trainer the lesson teaches; train.rs  the fast one, built on it,
//!                 counting its corpus in corpus.rs
//! ```

pub mod bert_normalizer;
pub mod bpe;
pub mod bytes;
pub mod corpus;
pub mod fxhash;
pub mod gguf_vocab;
pub mod hf_json;
mod load;
pub mod pretokenize;
mod sentencepiece;
pub mod stream;
pub mod tiktoken_file;
mod token_store;
pub mod train;
pub mod train_naive;
mod vocab;
pub mod wordpiece;

pub use pretokenize::Pretokenizer;
pub use stream::StreamDecoder;
pub use vocab::WHOLE_PIECES_MIN_TEXT;
pub use wordpiece::WordPiece;

use std::sync::OnceLock;

use crate::{Error, Result};
use bpe::{merge_heap, merge_small, MergeMap, HEAP_THRESHOLD};
use token_store::TokenStore;
use vocab::{MergeRules, WholePieces};

/// `byte_ids[b]` for a byte the vocabulary has no token for.
const NO_TOKEN: u32 = u32::MAX;

/// What an id is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// No token has this id (tiktoken's vocabularies have holes before the specials).
    Missing,
    Normal,
    Special,
}

/// A byte-level BPE tokenizer: token bytes, merge rules, special tokens and a pre-tokenizer.
#[derive(Clone)]
pub struct Tokenizer {
    /// id → the token's bytes (a special token's bytes are its text), and bytes → id for the
    /// ordinary tokens (whole-piece lookups, `token_id`): one arena and an id table
    /// (`token_store.rs`).
    tokens: TokenStore,
    kinds: Vec<Kind>,
    /// byte value → the id of the one-byte token.
    byte_ids: [u32; 256],
    /// `(left, right)` → `(rank, merged id)`.
    merges: MergeMap,
    /// The merge rules in rank order (what a tokenizer.json stores).
    merge_list: Vec<(u32, u32)>,
    /// The tokens BPE produces whole from their own bytes (all of them for tiktoken, which
    /// defines it so): a pre-token equal to one skips the merge loop. For BPE merge rules only a
    /// shortcut (the merge loop gives the same ids), built the first time a long text is
    /// encoded ([`Tokenizer::whole_pieces_for`]): loading a model does not wait for it.
    whole: OnceLock<WholePieces>,
    /// Every ordinary token is a whole piece (tiktoken's definition of its ranks).
    whole_piece_always: bool,
    pretokenizer: Pretokenizer,
    /// (text, id), longest text first so the longest special wins at a position.
    specials: Vec<(String, u32)>,
    /// `special_first[b]`: some special token starts with byte `b`.
    special_first: [bool; 256],
    bos: Option<u32>,
    eos: Vec<u32>,
    /// Whether the model reads a BOS id before every prompt (the file says; [`Tokenizer::with_bos`]).
    add_bos: bool,
    /// `Some` for a SentencePiece BPE: then `encode` merges by score, not by the rules above.
    sentencepiece: Option<Box<sentencepiece::SentencePiece>>,
}

/// Walk `text`, calling `each(Ok(stretch))` for the text between special tokens and
/// `each(Err(id))` for each special token found (`specials` longest first, so the longest
/// special wins at a position; `first[b]`: some special starts with byte `b`).
fn split_specials<'t>(
    text: &'t str,
    specials: &[(String, u32)],
    first: &[bool; 256],
    mut each: impl FnMut(std::result::Result<&'t str, u32>),
) {
    let b = text.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if first[b[i] as usize] {
            if let Some((sp, id)) = specials
                .iter()
                .find(|(sp, _)| b[i..].starts_with(sp.as_bytes()))
            {
                if start < i {
                    each(Ok(&text[start..i]));
                }
                each(Err(*id));
                i += sp.len();
                start = i;
                continue;
            }
        }
        i += 1;
    }
    if start < b.len() {
        each(Ok(&text[start..]));
    }
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("merges", &self.merge_list.len())
            .field("pretokenizer", &self.pretokenizer)
            .field("specials", &self.specials.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish()
    }
}

/// Reusable buffers for the merge loop, so encoding does not allocate per piece.
#[derive(Default)]
struct Scratch {
    ids: Vec<u32>,
    ranks: Vec<u64>,
}

impl Tokenizer {
    /// Set the beginning- and end-of-sequence ids (from a GGUF or a model's config).
    pub fn set_bos_eos(&mut self, bos: Option<u32>, eos: Vec<u32>) {
        self.bos = bos;
        self.eos = eos;
    }

    /// The pre-tokenizer this tokenizer splits text with (a SentencePiece BPE has none and
    /// never consults it: see [`Self::is_sentencepiece`]).
    pub fn pretokenizer(&self) -> Pretokenizer {
        self.pretokenizer
    }

    /// The merge rules in rank order.
    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merge_list
    }

    /// BPE on one piece, without the whole-piece shortcut.
    #[inline]
    fn merge_piece(&self, piece: &[u8], out: &mut Vec<u32>, s: &mut Scratch) {
        s.ids.clear();
        s.ids.extend(
            piece
                .iter()
                .map(|&b| self.byte_ids[b as usize])
                .filter(|&id| id != NO_TOKEN),
        );
        if piece.len() < HEAP_THRESHOLD {
            merge_small(&self.merges, &mut s.ids, &mut s.ranks);
        } else {
            merge_heap(&self.merges, &mut s.ids);
        }
        out.extend_from_slice(&s.ids);
    }

    // ANCHOR: whole_pieces_for
    /// The whole-piece table for encoding a text of `len` bytes: built (once, ≈ 40 ms of CPU
    /// for SmolLM2's 49,152 tokens) when the text is long enough to repay it; a shorter text
    /// uses it only if it is already there. A prompt is encoded by the merge loop alone (a few
    /// microseconds for a few dozen pieces), so the first token never waits for the table.
    /// A `.tiktoken` table always uses it: there a piece that is a rank *is* that rank, whether
    /// or not merges reach it (and building it runs no merge loop, only the table inserts).
    fn whole_pieces_for(&self, len: usize) -> Option<&WholePieces> {
        if len >= WHOLE_PIECES_MIN_TEXT || self.whole_piece_always {
            Some(self.whole.get_or_init(|| WholePieces::build(self)))
        } else {
            self.whole.get()
        }
    }
    // ANCHOR_END: whole_pieces_for

    /// Encode one pre-token: a piece that is itself a token is looked up once (when the table
    /// `whole` is given); otherwise merge.
    #[inline]
    fn encode_piece(
        &self,
        piece: &[u8],
        whole: Option<&WholePieces>,
        out: &mut Vec<u32>,
        s: &mut Scratch,
    ) {
        if piece.len() == 1 {
            let id = self.byte_ids[piece[0] as usize];
            if id != NO_TOKEN {
                out.push(id);
            }
            return;
        }
        if let Some(id) = whole.and_then(|w| w.get(&self.tokens, piece)) {
            out.push(id);
            return;
        }
        self.merge_piece(piece, out, s);
    }

    fn encode_ordinary_into(
        &self,
        text: &str,
        whole: Option<&WholePieces>,
        out: &mut Vec<u32>,
        s: &mut Scratch,
    ) {
        self.pretokenizer.split(text, |piece| {
            self.encode_piece(piece.as_bytes(), whole, out, s)
        });
    }

    /// Encode text; special-token text is treated as ordinary text (tiktoken's
    /// `encode_ordinary`): `"<|endoftext|>"` becomes `<`, `|`, `endoftext`, ... pieces.
    /// (A SentencePiece vocabulary's user-defined tokens, such as Gemma's newline and space
    /// runs, are text and still recognised, as llama.cpp does.)
    pub fn encode(&self, text: &str) -> Vec<u32> {
        if let Some(sp) = &self.sentencepiece {
            return sp.encode(self, text, false);
        }
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let whole = self.whole_pieces_for(text.len());
        self.encode_ordinary_into(text, whole, &mut out, &mut Scratch::default());
        out
    }

    /// Encode text, turning the text of each special token into its id first.
    pub fn encode_with_special(&self, text: &str) -> Vec<u32> {
        if let Some(sp) = &self.sentencepiece {
            return sp.encode(self, text, true);
        }
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut s = Scratch::default();
        let whole = self.whole_pieces_for(text.len());
        // longest special first at each position (the list is sorted by length)
        split_specials(
            text,
            &self.specials,
            &self.special_first,
            |part| match part {
                Ok(stretch) => self.encode_ordinary_into(stretch, whole, &mut out, &mut s),
                Err(id) => out.push(id),
            },
        );
        out
    }

    // ANCHOR: with_bos
    /// The ids a model reads for a prompt: `ids` with the BOS id first when the model's
    /// tokenizer adds one (the file's `add_bos_token`: Gemma and Llama 3 do, SmolLM2 does
    /// not), unless `ids` already starts with it (a chat template that writes `<bos>` itself).
    pub fn with_bos(&self, mut ids: Vec<u32>) -> Vec<u32> {
        if let (true, Some(bos)) = (self.add_bos, self.bos) {
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        ids
    }

    /// A prompt as the model reads it: special-token text recognised, then [`Self::with_bos`].
    pub fn encode_prompt(&self, text: &str) -> Vec<u32> {
        self.with_bos(self.encode_with_special(text))
    }
    // ANCHOR_END: with_bos

    /// Whether prompts start with the BOS id ([`Self::with_bos`]).
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Set the add-BOS policy (from the model file).
    pub fn set_add_bos(&mut self, add_bos: bool) {
        self.add_bos = add_bos;
    }

    /// "byte-level BPE" or "SentencePiece BPE".
    pub fn algorithm(&self) -> &'static str {
        match self.sentencepiece {
            None => "byte-level BPE",
            Some(_) => "SentencePiece BPE",
        }
    }

    /// Whether this is a SentencePiece BPE (then [`Self::pretokenizer`] means nothing).
    pub fn is_sentencepiece(&self) -> bool {
        self.sentencepiece.is_some()
    }

    /// The bytes of a sequence of ids (special tokens as their text).
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for (pos, &id) in ids.iter().enumerate() {
            match self.token_bytes(id) {
                Some(t) => out.extend_from_slice(t),
                None => {
                    return Err(Error::invalid(format!(
                        "token id {id} at position {pos} is not in the vocabulary (size {})",
                        self.vocab_size()
                    )))
                }
            }
        }
        Ok(out)
    }

    /// Decode to a string; ids whose bytes do not form valid UTF-8 are an error naming the
    /// offset (use [`Tokenizer::decode_bytes`] or a [`stream::StreamDecoder`] to get the bytes).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let bytes = self.decode_bytes(ids)?;
        String::from_utf8(bytes).map_err(|e| {
            Error::invalid(format!(
                "the decoded bytes are not valid UTF-8 at byte offset {}",
                e.utf8_error().valid_up_to()
            ))
        })
    }

    /// The bytes of one token (a special token's text), `None` for an unknown id.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        match self.kinds.get(id as usize) {
            Some(Kind::Normal | Kind::Special) => Some(self.tokens.get(id)),
            _ => None,
        }
    }

    /// Whether every byte of `text` has a token (else `encode` drops the bytes that do not,
    /// as Hugging Face does, and `decode(encode(text)) != text`).
    pub fn covers(&self, text: &str) -> bool {
        text.bytes().all(|b| self.byte_ids[b as usize] != NO_TOKEN)
    }

    /// Whether `id` is a special token.
    pub fn is_special(&self, id: u32) -> bool {
        self.kinds.get(id as usize) == Some(&Kind::Special)
    }

    /// Heap bytes this tokenizer holds (hash tables counted by their slots, so an estimate
    /// within a few percent): its share of the resident memory `glassbox bench` reports.
    pub fn heap_bytes(&self) -> usize {
        let specials: usize = self.specials.iter().map(|(s, _)| s.capacity() + 32).sum();
        let sentencepiece = self.sentencepiece.as_ref().map_or(0, |sp| sp.heap_bytes());
        self.tokens.heap_bytes()
            + self.kinds.capacity()
            + fxhash::table_bytes(&self.merges)
            + 8 * self.merge_list.capacity()
            + self.whole.get().map_or(0, WholePieces::heap_bytes)
            + specials
            + sentencepiece
    }

    /// Number of ids, including the specials (and any holes before them).
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The id of a token given by its exact text: a special token's text, or an ordinary
    /// token's text (e.g. `" the"`); also accepts the GPT-2 alphabet spelling (`"Ġthe"`).
    pub fn token_id(&self, token_text: &str) -> Option<u32> {
        if let Some((_, id)) = self.specials.iter().find(|(s, _)| s == token_text) {
            return Some(*id);
        }
        if self.sentencepiece.is_some() {
            // SentencePiece spells spaces ▁: accept either
            let text = token_text.replace('▁', " ");
            return self.tokens.id_of(text.as_bytes());
        }
        self.tokens
            .id_of(token_text.as_bytes())
            .or_else(|| bytes::gpt2_to_bytes(token_text).and_then(|b| self.tokens.id_of(&b)))
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    pub fn eos_ids(&self) -> &[u32] {
        &self.eos
    }

    /// The special tokens as (text, id), in id order.
    pub fn special_tokens(&self) -> impl Iterator<Item = (&str, u32)> {
        let mut v: Vec<(&str, u32)> = self
            .specials
            .iter()
            .map(|(s, id)| (s.as_str(), *id))
            .collect();
        v.sort_by_key(|x| x.1);
        v.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_merges_worked_example() {
        // "aaabdaaabac" with minbpe's merges (a,a)→256, (256,a)→257, (257,b)→258 (its tie-break
        // takes the first pair seen; train_naive.rs takes the smallest pair and reaches the same
        // ids through (a,b)→257): minbpe's test_wikipedia_example expects these ids.
        let t = Tokenizer::from_merges(
            &[(97, 97), (256, 97), (257, 98)],
            Pretokenizer::Gpt2,
            &["<|end|>".to_string()],
        );
        assert_eq!(t.vocab_size(), 260);
        assert_eq!(t.token_bytes(258), Some(&b"aaab"[..]));
        assert_eq!(t.encode("aaabdaaabac"), vec![258, 100, 258, 97, 99]);
        assert_eq!(t.decode(&[258, 100, 258, 97, 99]).unwrap(), "aaabdaaabac");
        assert_eq!(t.encode_with_special("a<|end|>a"), vec![97, 259, 97]);
        assert!(!t.encode("<|end|>").contains(&259)); // ordinary encode: no special
        assert!(t.decode(&[9999]).is_err());
        assert!(Tokenizer::try_from_merges(&[(97, 300)], Pretokenizer::Gpt2, &[]).is_err());
    }

    /// tiktoken encodes a pre-token that is itself a rank as that rank, even when no chain of
    /// merges reaches it (a file's ranks need not be BPE-consistent): for a `.tiktoken` table
    /// the whole pieces are the definition, not a shortcut, so a short text uses them too.
    #[test]
    fn tiktoken_ranks_no_merge_reaches_are_whole_in_short_texts_too() {
        let mut tokens: Vec<Option<Vec<u8>>> = (0..=255u8).map(|b| Some(vec![b])).collect();
        tokens.push(Some(b"abc".to_vec())); // 256: no "ab" or "bc" to merge through
        let t = Tokenizer::from_ranks(tokens, Vec::new(), Pretokenizer::Cl100k).unwrap();
        assert_eq!(t.encode("abc"), vec![256], "a short text");
        let long = "abc\n".repeat(vocab::WHOLE_PIECES_MIN_TEXT / 4 + 1);
        assert!(
            t.encode(&long).iter().step_by(2).all(|&id| id == 256),
            "a long text"
        );
        assert_eq!(t.encode("abc"), vec![256], "a short text after a long one");
    }

    #[test]
    fn the_whole_piece_table_is_built_for_long_texts_only_and_changes_no_id() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(10);
        for round in 0..4 {
            // random merge rules over "abcd": many tokens are not whole pieces (BPE on their
            // bytes takes another path), and some repeat an earlier token's bytes
            let mut merges = Vec::new();
            for next in 256u32..556 {
                // a letter, or an earlier merged token
                let mut pick = || {
                    if next == 256 || rng.random_bool(0.5) {
                        rng.random_range(97..101)
                    } else {
                        rng.random_range(256..next)
                    }
                };
                merges.push((pick(), pick()));
            }
            let t = Tokenizer::from_merges(&merges, Pretokenizer::Gpt2, &[]);
            let word = |rng: &mut rand::rngs::StdRng| -> String {
                let n = rng.random_range(1..12);
                (0..n)
                    .map(|_| (b'a' + rng.random_range(0..4)) as char)
                    .collect()
            };
            let mut text = String::new();
            while text.len() < vocab::WHOLE_PIECES_MIN_TEXT + 1000 {
                text.push(' ');
                text.push_str(&word(&mut rng));
            }
            // the reference: the definition of BPE (bpe::merge_naive) on each pre-token
            let naive = |s: &str| -> Vec<u32> {
                let mut out = Vec::new();
                for piece in t.pretokenizer.split_vec(s) {
                    let mut ids: Vec<u32> = piece.bytes().map(|b| t.byte_ids[b as usize]).collect();
                    bpe::merge_naive(&t.merges, &mut ids);
                    out.extend(ids);
                }
                out
            };
            let short = &text[..2000];
            assert_eq!(
                t.encode(short),
                naive(short),
                "round {round}: merge loop alone"
            );
            assert!(
                t.whole.get().is_none(),
                "a short text must not build the table"
            );
            assert_eq!(
                t.encode(&text),
                naive(&text),
                "round {round}: with the table"
            );
            let whole = t.whole.get().expect("a long text builds the table");
            assert_eq!(
                t.encode(short),
                naive(short),
                "round {round}: short, table built"
            );
            // every token on its own: looked up in the table, or merged, the same ids
            let mut wholes = 0;
            for id in 0..t.vocab_size() as u32 {
                let b = t.tokens.get(id);
                let (mut with, mut without) = (Vec::new(), Vec::new());
                t.encode_piece(b, Some(whole), &mut with, &mut Scratch::default());
                t.encode_piece(b, None, &mut without, &mut Scratch::default());
                assert_eq!(with, without, "round {round}: token {id} {b:?}");
                wholes += usize::from(whole.get(&t.tokens, b) == Some(id));
            }
            // not a vacuous check: some tokens are whole pieces and some are not
            assert!(
                wholes > 256 && wholes < t.vocab_size(),
                "{wholes} whole pieces"
            );
        }
    }
}
