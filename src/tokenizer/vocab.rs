//! Stage 1: assembling a vocabulary — every format's tokens, merge rules and special tokens
//! become one [`Tokenizer`], checked, through [`Tokenizer::assemble`].
//!
//! ```text
//! tokens[id]  the bytes of each ordinary token (None: a hole or a special id)
//! specials    (text, id), matched before pre-tokenization when asked for
//! rules       explicit pairs in rank order (tokenizer.json, GGUF, a trainer), or tiktoken's
//!             "every split of a token into two tokens" (the rank of a token is its id)
//! ```
//!
//! Besides checking (no empty token, no merge that makes a token the vocabulary lacks), it
//! precomputes what encoding needs: the id of each single byte and the merge map. The table
//! of pre-tokens that are whole tokens (so most words skip the merge loop) is a shortcut that
//! costs one merge loop per token to build: [`WholePieces::build`] runs the first time a long
//! text is encoded, not at load.

use std::sync::OnceLock;

use super::bpe::{pair_key, MergeMap};
use super::fxhash::FxHashMap;
use super::token_store::TokenStore;
use super::{Kind, Pretokenizer, Scratch, Tokenizer, NO_TOKEN};
use crate::{Error, Result};

/// Texts at least this long (bytes) build the whole-piece table before they are encoded
/// (`Tokenizer::whole_pieces_for`). Building it runs the merge loop on every token, ≈ 0.35 MB
/// of text for SmolLM2 (≈ 40 ms on one thread, under load): a cost paid once, which
/// a document being encoded, and every text after it, earns back; no prompt a user types is
/// this long.
pub const WHOLE_PIECES_MIN_TEXT: usize = 1 << 16;

/// Pre-tokens that are themselves tokens: one hash lookup instead of the merge loop. Keys of
/// up to 7 bytes (most words) are packed into a `u64` (the bytes, then the length in the top
/// byte), so a lookup reads one table slot instead of following a pointer to the key's bytes:
/// on a 200k-token vocabulary that halves the cache misses per piece. A longer piece is looked
/// up among all tokens (`TokenStore::id_of`) and is whole if that id is marked so in `long`.
#[derive(Clone, Default)]
pub(super) struct WholePieces {
    short: FxHashMap<u64, u32>,
    /// `long[id]`: the token `id`, 8 bytes or longer, is a whole piece.
    long: Vec<bool>,
}

impl WholePieces {
    #[inline(always)]
    fn pack(b: &[u8]) -> u64 {
        let mut k = [0u8; 8];
        k[..b.len()].copy_from_slice(b);
        k[7] = b.len() as u8;
        u64::from_le_bytes(k)
    }

    /// Heap bytes held (see `Tokenizer::heap_bytes`).
    pub(super) fn heap_bytes(&self) -> usize {
        super::fxhash::table_bytes(&self.short) + self.long.capacity()
    }

    /// The table of `tok`: a token is a whole piece if BPE on its own bytes gives back exactly
    /// it (every token, for tiktoken) and its bytes find it (the first of two equal tokens):
    /// one merge loop per token (49,152 for SmolLM2), in id order (the first id wins).
    ///
    /// On one thread, on purpose: it runs inside `OnceLock::get_or_init`, and a rayon thread
    /// waiting for its own parallel loop may pick up another job that encodes with this same
    /// tokenizer, which would re-enter the initialisation and deadlock.
    pub(super) fn build(tok: &Tokenizer) -> WholePieces {
        let mut whole = WholePieces::default();
        let (mut scratch, mut out) = (Scratch::default(), Vec::new());
        for id in 0..tok.kinds.len() as u32 {
            if tok.kinds[id as usize] != Kind::Normal {
                continue;
            }
            let t = tok.tokens.get(id);
            let ok = tok.whole_piece_always || {
                out.clear();
                tok.merge_piece(t, &mut out, &mut scratch);
                out.len() == 1 && out[0] == id
            };
            if ok && tok.tokens.id_of(t) == Some(id) {
                whole.insert(t, id);
            }
        }
        whole
    }

    /// Mark token `id` (bytes `b`, which `TokenStore::id_of` maps to `id`) as a whole piece.
    fn insert(&mut self, b: &[u8], id: u32) {
        if b.len() <= 7 {
            self.short.entry(Self::pack(b)).or_insert(id);
        } else {
            if self.long.len() <= id as usize {
                self.long.resize(id as usize + 1, false);
            }
            self.long[id as usize] = true;
        }
    }

    #[inline(always)]
    pub(super) fn get(&self, tokens: &TokenStore, b: &[u8]) -> Option<u32> {
        if b.len() <= 7 {
            self.short.get(&Self::pack(b)).copied()
        } else {
            let id = tokens.id_of(b)?;
            self.long
                .get(id as usize)
                .copied()
                .unwrap_or(false)
                .then_some(id)
        }
    }
}

/// How the merge rules are given to [`Tokenizer::assemble`].
pub(super) enum MergeRules {
    /// Explicit pairs in rank order (tokenizer.json, GGUF, a trained tokenizer).
    Pairs(Vec<(u32, u32)>),
    /// tiktoken: the rank of a token is its id; every split of a token into two tokens is a rule.
    AllSplits,
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
    pub(super) fn assemble(
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
        let mut ordinary = Vec::with_capacity(tokens.len()); // ids found by their bytes
        for (id, t) in tokens.into_iter().enumerate() {
            if let Some(t) = t {
                if t.is_empty() {
                    return Err(format!("token {id} is empty"));
                }
                ordinary.push(id as u32);
                kinds[id] = Kind::Normal;
                bytes_of[id] = t;
            }
        }
        let mut vocab_text = FxHashMap::default(); // an ordinary token's bytes a special replaced
        for (text, id) in &specials {
            if text.is_empty() {
                return Err(format!("special token {id} has empty text"));
            }
            // a special may also sit in the vocabulary with the same id (tokenizer.json does that)
            let id = *id as usize;
            if kinds[id] == Kind::Normal && bytes_of[id] != text.as_bytes() {
                vocab_text.insert(id as u32, std::mem::take(&mut bytes_of[id]));
            }
            kinds[id] = Kind::Special;
            bytes_of[id] = text.as_bytes().to_vec();
        }
        // bytes → id for the ordinary tokens, the first id winning if two have the same bytes
        let tokens_by_id = TokenStore::new(
            &bytes_of,
            ordinary.iter().map(|id| {
                let text = vocab_text.get(id).unwrap_or(&bytes_of[*id as usize]);
                (*id, text.as_slice())
            }),
        )?;
        drop((bytes_of, ordinary, vocab_text)); // one heap block per token: the store has them
        let encoder = &tokens_by_id;
        // A vocabulary may lack some bytes (SmolLM2 has no token for 0x04 or 0xff). Hugging
        // Face's BPE (byte_fallback off, no unk token) then drops those bytes; so do we.
        let mut byte_ids = [NO_TOKEN; 256];
        for b in 0..=255u8 {
            if let Some(id) = encoder.id_of(&[b]) {
                byte_ids[b as usize] = id;
            }
        }

        let mut merges = MergeMap::default();
        let merge_list = match rules {
            MergeRules::Pairs(list) => {
                merges.reserve(list.len());
                let mut joined = Vec::new();
                for (rank, &(a, b)) in list.iter().enumerate() {
                    let get = |x: u32| match kinds.get(x as usize) {
                        Some(Kind::Normal) => Ok(encoder.get(x)),
                        _ => Err(format!("merge {rank} refers to unknown token id {x}")),
                    };
                    joined.clear();
                    joined.extend_from_slice(get(a)?);
                    joined.extend_from_slice(get(b)?);
                    let Some(id) = encoder.id_of(&joined) else {
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
                for id in 0..n {
                    if kinds[id] != Kind::Normal {
                        continue;
                    }
                    let t = encoder.get(id as u32);
                    for k in 1..t.len() {
                        if let (Some(a), Some(b)) = (encoder.id_of(&t[..k]), encoder.id_of(&t[k..]))
                        {
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
        Ok(Tokenizer {
            tokens: tokens_by_id,
            kinds,
            byte_ids,
            merges,
            merge_list,
            whole: OnceLock::new(), // built when a long text needs it: WholePieces::build
            whole_piece_always,
            pretokenizer,
            specials,
            special_first,
            bos: None,
            eos: Vec::new(),
            add_bos: false,
            sentencepiece: None,
        })
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
}
