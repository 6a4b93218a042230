//! # Stage 1: the tokenizer — text ⇄ token ids
//!
//! A language model reads integers, not text. Byte-level BPE (GPT-2, GPT-4's cl100k, GPT-4o's
//! o200k, Llama 3, SmolLM2) turns text into ids in three steps:
//!
//! ```text
//! "Hello world!"  ──pre-tokenize──▶ ["Hello", " world", "!"]          (pretokenize.rs)
//!                 ──UTF-8 bytes───▶ [72 101 108 108 111] [32 119 ...] (every byte is a token)
//!                 ──BPE merges────▶ [9906] [1917] [0]                 (bpe.rs: lowest rank first)
//! ```
//!
//! and decoding is concatenating each id's bytes (then UTF-8 decoding the whole). Special
//! tokens (`<|endoftext|>`, `<|im_start|>`) are ids whose text is matched *before* the three
//! steps, and only when the caller asks for it ([`Tokenizer::encode_with_special`]): text typed
//! by a user must not be able to forge a control token.
//!
//! Formats: `.tiktoken` rank files ([`tiktoken_file`]), Hugging Face `tokenizer.json`
//! ([`hf_json`]), the vocabulary inside a GGUF ([`gguf_vocab`]); streaming decode in
//! [`stream`]; the trainers in `train_naive.rs` (the lesson) and `train.rs` (the fast one).

pub mod bpe;
pub mod bytes;
pub mod fxhash;
pub mod gguf_vocab;
pub mod hf_json;
pub mod pretokenize;
pub mod stream;
pub mod tiktoken_file;
pub mod train;
pub mod train_naive;

pub use pretokenize::Pretokenizer;
pub use stream::StreamDecoder;

use crate::formats::gguf;
use crate::{Error, Result};
use bpe::{merge_heap, merge_small, pair_key, MergeMap, HEAP_THRESHOLD};
use fxhash::FxHashMap;
use std::path::Path;

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
    /// id → the token's bytes (a special token's bytes are its text).
    tokens: Vec<Vec<u8>>,
    kinds: Vec<Kind>,
    /// bytes → id for the ordinary tokens (whole-piece lookups, `token_id`).
    encoder: FxHashMap<Vec<u8>, u32>,
    /// byte value → the id of the one-byte token.
    byte_ids: [u32; 256],
    /// `(left, right)` → `(rank, merged id)`.
    merges: MergeMap,
    /// The merge rules in rank order (what a tokenizer.json stores).
    merge_list: Vec<(u32, u32)>,
    /// The tokens BPE produces whole from their own bytes (all of them for tiktoken, which
    /// defines it so): a pre-token equal to one skips the merge loop.
    whole: WholePieces,
    pretokenizer: Pretokenizer,
    /// (text, id), longest text first so the longest special wins at a position.
    specials: Vec<(String, u32)>,
    /// `special_first[b]`: some special token starts with byte `b`.
    special_first: [bool; 256],
    bos: Option<u32>,
    eos: Vec<u32>,
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

/// Pre-tokens that are themselves tokens: one hash lookup instead of the merge loop. Keys of
/// up to 7 bytes (most words) are packed into a `u64` (the bytes, then the length in the top
/// byte), so a lookup reads one table slot instead of following a pointer to the key's bytes:
/// on a 200k-token vocabulary that halves the cache misses per piece.
#[derive(Clone, Default)]
struct WholePieces {
    short: FxHashMap<u64, u32>,
    long: FxHashMap<Box<[u8]>, u32>,
}

impl WholePieces {
    #[inline(always)]
    fn pack(b: &[u8]) -> u64 {
        let mut k = [0u8; 8];
        k[..b.len()].copy_from_slice(b);
        k[7] = b.len() as u8;
        u64::from_le_bytes(k)
    }

    fn insert(&mut self, b: &[u8], id: u32) {
        if b.len() <= 7 {
            self.short.entry(Self::pack(b)).or_insert(id);
        } else {
            self.long.entry(b.into()).or_insert(id);
        }
    }

    #[inline(always)]
    fn get(&self, b: &[u8]) -> Option<u32> {
        if b.len() <= 7 {
            self.short.get(&Self::pack(b)).copied()
        } else {
            self.long.get(b).copied()
        }
    }
}

/// How the merge rules are given to [`Tokenizer::assemble`].
enum MergeRules {
    /// Explicit pairs in rank order (tokenizer.json, GGUF, a trained tokenizer).
    Pairs(Vec<(u32, u32)>),
    /// tiktoken: the rank of a token is its id; every split of a token into two tokens is a rule.
    AllSplits,
}

/// Reusable buffers for the merge loop, so encoding does not allocate per piece.
#[derive(Default)]
struct Scratch {
    ids: Vec<u32>,
    ranks: Vec<u64>,
}

impl Tokenizer {
    /// Build from the merges a trainer learned: ids `0..256` are the single bytes in byte order,
    /// id `256 + i` is `merges[i]` (its bytes are the concatenation of the pair's bytes), then
    /// the special tokens in the order given.
    ///
    /// Panics if a merge refers to an id that does not exist yet (a trainer bug); use
    /// [`Tokenizer::try_from_merges`] for merges that come from a file.
    pub fn from_merges(
        merges: &[(u32, u32)],
        pattern: Pretokenizer,
        specials: &[String],
    ) -> Tokenizer {
        match Tokenizer::try_from_merges(merges, pattern, specials) {
            Ok(t) => t,
            Err(e) => panic!("from_merges: {e}"),
        }
    }

    /// [`Tokenizer::from_merges`] that returns an error for an unknown id or duplicate special.
    pub fn try_from_merges(
        merges: &[(u32, u32)],
        pattern: Pretokenizer,
        specials: &[String],
    ) -> Result<Tokenizer> {
        let mut tokens: Vec<Option<Vec<u8>>> = (0..=255u8).map(|b| Some(vec![b])).collect();
        for (i, &(a, b)) in merges.iter().enumerate() {
            let id = 256 + i;
            let (Some(Some(x)), Some(Some(y))) = (tokens.get(a as usize), tokens.get(b as usize))
            else {
                return Err(Error::invalid(format!(
                    "merge {i} ({a}, {b}) refers to a token that does not exist before id {id}"
                )));
            };
            let mut t = x.clone();
            t.extend_from_slice(y);
            tokens.push(Some(t));
        }
        let first_special = tokens.len() as u32;
        let specials: Vec<(String, u32)> = specials
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), first_special + i as u32))
            .collect();
        Tokenizer::assemble(
            tokens,
            specials,
            MergeRules::Pairs(merges.to_vec()),
            pattern,
            false,
        )
        .map_err(Error::invalid)
    }

    /// The one constructor every format goes through. `tokens[id]` is `None` for holes and for
    /// special ids. Errors are plain strings; the callers wrap them with the file name.
    fn assemble(
        tokens: Vec<Option<Vec<u8>>>,
        specials: Vec<(String, u32)>,
        rules: MergeRules,
        pretokenizer: Pretokenizer,
        whole_piece_always: bool,
    ) -> std::result::Result<Tokenizer, String> {
        let n = tokens
            .len()
            .max(specials.iter().map(|s| s.1 as usize + 1).max().unwrap_or(0));
        let mut kinds = vec![Kind::Missing; n];
        let mut bytes_of = vec![Vec::new(); n];
        let mut encoder = FxHashMap::default();
        encoder.reserve(tokens.len());
        for (id, t) in tokens.into_iter().enumerate() {
            if let Some(t) = t {
                if t.is_empty() {
                    return Err(format!("token {id} is empty"));
                }
                // the first id wins if two tokens have the same bytes
                encoder.entry(t.clone()).or_insert(id as u32);
                kinds[id] = Kind::Normal;
                bytes_of[id] = t;
            }
        }
        for (text, id) in &specials {
            if text.is_empty() {
                return Err(format!("special token {id} has empty text"));
            }
            // a special may also sit in the vocabulary with the same id (tokenizer.json does that)
            kinds[*id as usize] = Kind::Special;
            bytes_of[*id as usize] = text.as_bytes().to_vec();
        }
        // A vocabulary may lack some bytes (SmolLM2 has no token for 0x04 or 0xff). Hugging
        // Face's BPE (byte_fallback off, no unk token) then drops those bytes; so do we.
        let mut byte_ids = [NO_TOKEN; 256];
        for b in 0..=255u8 {
            if let Some(&id) = encoder.get(&[b][..]) {
                byte_ids[b as usize] = id;
            }
        }

        let mut merges = MergeMap::default();
        let merge_list = match rules {
            MergeRules::Pairs(list) => {
                merges.reserve(list.len());
                for (rank, &(a, b)) in list.iter().enumerate() {
                    let get = |x: u32| match kinds.get(x as usize) {
                        Some(Kind::Normal) => Ok(&bytes_of[x as usize]),
                        _ => Err(format!("merge {rank} refers to unknown token id {x}")),
                    };
                    let mut joined = get(a)?.clone();
                    joined.extend_from_slice(get(b)?);
                    let Some(&id) = encoder.get(&joined) else {
                        return Err(format!(
                            "merge {rank} ({a}, {b}) makes {:?}, which is not in the vocabulary",
                            String::from_utf8_lossy(&joined)
                        ));
                    };
                    // as in Hugging Face's BPE, a repeated pair keeps its last rank
                    merges.insert(pair_key(a, b), (rank as u32, id));
                }
                list
            }
            MergeRules::AllSplits => {
                let mut list = Vec::new();
                for (id, t) in bytes_of.iter().enumerate() {
                    if kinds[id] != Kind::Normal {
                        continue;
                    }
                    for k in 1..t.len() {
                        if let (Some(&a), Some(&b)) = (encoder.get(&t[..k]), encoder.get(&t[k..])) {
                            merges.insert(pair_key(a, b), (id as u32, id as u32));
                            list.push((a, b));
                        }
                    }
                }
                list
            }
        };

        let mut specials = specials;
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let mut special_first = [false; 256];
        for (s, _) in &specials {
            special_first[s.as_bytes()[0] as usize] = true;
        }
        let mut tok = Tokenizer {
            tokens: bytes_of,
            kinds,
            encoder,
            byte_ids,
            merges,
            merge_list,
            whole: WholePieces::default(),
            pretokenizer,
            specials,
            special_first,
            bos: None,
            eos: Vec::new(),
        };
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        let mut whole = WholePieces::default();
        for id in 0..n {
            if tok.kinds[id] != Kind::Normal {
                continue;
            }
            let t = &tok.tokens[id];
            let ok = whole_piece_always || {
                out.clear();
                tok.merge_piece(t, &mut out, &mut scratch);
                out.len() == 1 && out[0] == id as u32
            };
            if ok && tok.encoder.get(t) == Some(&(id as u32)) {
                whole.insert(t, id as u32);
            }
        }
        tok.whole = whole;
        Ok(tok)
    }

    /// Load a tokenizer from a path: a `.tiktoken`/`.tiktoken.gz` rank file (its encoding known
    /// by its name), a `tokenizer.json` (Hugging Face or trained by glassbox), a directory
    /// holding a `tokenizer.json`, or a `.gguf` model.
    pub fn load(spec: &Path) -> Result<Tokenizer> {
        if spec.is_dir() {
            let json = spec.join("tokenizer.json");
            if !json.is_file() {
                return Err(Error::invalid(format!(
                    "{}: a directory without tokenizer.json",
                    spec.display()
                )));
            }
            return Tokenizer::from_tokenizer_json_file(&json);
        }
        let name = spec.to_string_lossy().to_ascii_lowercase();
        let mut head = [0u8; 4];
        let n = {
            use std::io::Read;
            let mut f = std::fs::File::open(spec).map_err(|e| Error::io(spec, e))?;
            f.read(&mut head).map_err(|e| Error::io(spec, e))?
        };
        if gguf::looks_like_gguf(spec) {
            return Tokenizer::from_gguf(&gguf::GgufFile::open(spec)?);
        }
        if name.ends_with(".json") || head[..n].first() == Some(&b'{') {
            return Tokenizer::from_tokenizer_json_file(spec);
        }
        Tokenizer::from_tiktoken_file(spec)
    }

    /// Load a `.tiktoken` rank table: the rank of a token is its id, and a token's merge rule
    /// is every split of it into two tokens. `specials` are (text, id).
    pub(crate) fn from_ranks(
        tokens: Vec<Option<Vec<u8>>>,
        specials: Vec<(String, u32)>,
        pretokenizer: Pretokenizer,
    ) -> std::result::Result<Tokenizer, String> {
        Tokenizer::assemble(tokens, specials, MergeRules::AllSplits, pretokenizer, true)
    }

    /// Set the beginning- and end-of-sequence ids (from a GGUF or a model's config).
    pub fn set_bos_eos(&mut self, bos: Option<u32>, eos: Vec<u32>) {
        self.bos = bos;
        self.eos = eos;
    }

    /// The pre-tokenizer this tokenizer splits text with.
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

    /// Encode one pre-token: a piece that is itself a token is looked up once; otherwise merge.
    #[inline]
    fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>, s: &mut Scratch) {
        if piece.len() == 1 {
            let id = self.byte_ids[piece[0] as usize];
            if id != NO_TOKEN {
                out.push(id);
            }
            return;
        }
        if let Some(id) = self.whole.get(piece) {
            out.push(id);
            return;
        }
        self.merge_piece(piece, out, s);
    }

    fn encode_ordinary_into(&self, text: &str, out: &mut Vec<u32>, s: &mut Scratch) {
        self.pretokenizer
            .split(text, |piece| self.encode_piece(piece.as_bytes(), out, s));
    }

    /// Encode text; special-token text is treated as ordinary text (tiktoken's
    /// `encode_ordinary`): `"<|endoftext|>"` becomes `<`, `|`, `endoftext`, ... pieces.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_ordinary_into(text, &mut out, &mut Scratch::default());
        out
    }

    /// Encode text, turning the text of each special token into its id first.
    pub fn encode_with_special(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut s = Scratch::default();
        let b = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < b.len() {
            if self.special_first[b[i] as usize] {
                // longest special first (the list is sorted by length)
                if let Some((sp, id)) = self
                    .specials
                    .iter()
                    .find(|(sp, _)| b[i..].starts_with(sp.as_bytes()))
                {
                    self.encode_ordinary_into(&text[start..i], &mut out, &mut s);
                    out.push(*id);
                    i += sp.len();
                    start = i;
                    continue;
                }
            }
            i += 1;
        }
        self.encode_ordinary_into(&text[start..], &mut out, &mut s);
        out
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
            Some(Kind::Normal | Kind::Special) => Some(&self.tokens[id as usize]),
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
        self.encoder
            .get(token_text.as_bytes())
            .or_else(|| bytes::gpt2_to_bytes(token_text).and_then(|b| self.encoder.get(&b)))
            .copied()
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
        // "aaabdaaabac": merges (a,a)→256, (256,a)→257, (257,b)→258  (minbpe's example ids)
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
}
