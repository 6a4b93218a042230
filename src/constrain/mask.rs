//! Stage 6c · the token mask: which ids may come next without breaking the schema.
//!
//! A token is allowed iff the recognizer accepts *all* of its bytes, in order, from the current
//! state; end-of-sequence is allowed iff the text so far is a complete instance. Two ways to
//! compute the same set:
//!
//! * [`mask_naive`], the reference: for each of the 49,152 ids, copy the state and feed it the
//!   token's bytes.
//! * [`Masker::mask`], the fast one: walk the [`TokenTrie`] depth-first, keeping the state of
//!   each depth (a copy per trie node, no undo), and skip a subtree as soon as a byte is
//!   refused. Inside a string, where nearly every token is allowed, it does not walk at all for
//!   the tokens that are plain string content (no `"`, no control byte, whole UTF-8 characters):
//!   those are one precomputed set per length budget (`plain_upto`); only the others (tokens
//!   with a quote, a backslash, a split character) are walked, in a second, smaller trie.
//!
//! The sets are bitsets over the ids, `words[id / 64] >> (id % 64) & 1`, the layout the
//! sampler's mask step takes.

use super::grammar::{Grammar, Node};
use super::recognizer::{Frame, Recognizer};
use super::string::{string_byte, StrByte, StrState};
use super::trie::{TokenTrie, NO_TOKEN};
use crate::tokenizer::Tokenizer;

/// A set of token ids, as a bitset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSet {
    words: Vec<u64>,
    len: usize,
}

impl TokenSet {
    /// The empty set over ids `0..len`.
    pub fn new(len: usize) -> TokenSet {
        TokenSet {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }
    pub fn clear(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }
    #[inline]
    pub fn insert(&mut self, id: u32) {
        self.words[id as usize / 64] |= 1 << (id % 64);
    }
    #[inline]
    pub fn contains(&self, id: u32) -> bool {
        (id as usize) < self.len && self.words[id as usize / 64] >> (id % 64) & 1 == 1
    }
    pub fn union_with(&mut self, other: &TokenSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }
    /// How many ids are in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }
    /// The ids in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len as u32).filter(|&i| self.contains(i))
    }
    /// The bitset words (what `Sampler::sample_masked` takes).
    pub fn words(&self) -> &[u64] {
        &self.words
    }
}

/// The vocabulary, prepared once per tokenizer for masking.
#[derive(Clone, Debug)]
pub struct Vocab {
    /// `tokens[id]`: the bytes of an ordinary token; empty for special tokens and holes.
    pub tokens: Vec<Vec<u8>>,
    /// The end-of-sequence ids (allowed once the value is complete).
    pub eos: Vec<u32>,
    /// Every ordinary token.
    pub trie: TokenTrie,
    /// The tokens that are not plain string content.
    pub inner: TokenTrie,
    /// `plain_upto[c]`: the tokens that are plain string content of at most `c` characters.
    pub plain_upto: Vec<TokenSet>,
}

/// The characters of `bytes` if, read inside a string between two characters, they are whole
/// characters that keep the string open (no closing quote, no control byte, nothing split).
pub fn plain_chars(bytes: &[u8]) -> Option<u32> {
    let (mut s, mut chars) = (StrState::Idle, 0);
    for &b in bytes {
        s = match string_byte(s, b) {
            StrByte::Char(next) => {
                chars += 1;
                next
            }
            StrByte::More(next) => next,
            StrByte::Close | StrByte::Bad => return None,
        };
    }
    (s == StrState::Idle && !bytes.is_empty()).then_some(chars)
}

impl Vocab {
    /// From a tokenizer: every ordinary token (special tokens are never allowed inside JSON),
    /// with `eos` the ids that end a generation (`chat::stop_token_ids`).
    pub fn new(tok: &Tokenizer, eos: &[u32]) -> Vocab {
        let tokens = (0..tok.vocab_size() as u32)
            .map(|id| match tok.token_bytes(id) {
                Some(b) if !tok.is_special(id) => b.to_vec(),
                _ => Vec::new(),
            })
            .collect();
        Vocab::from_tokens(tokens, eos)
    }

    /// From the bytes of each id (empty: never allowed).
    pub fn from_tokens(tokens: Vec<Vec<u8>>, eos: &[u32]) -> Vocab {
        let n = tokens.len();
        let eos: Vec<u32> = eos.iter().copied().filter(|&e| (e as usize) < n).collect();
        let all: Vec<(u32, &[u8])> = (0..n as u32)
            .map(|i| (i, tokens[i as usize].as_slice()))
            .collect();
        let plain: Vec<Option<u32>> = tokens.iter().map(|t| plain_chars(t)).collect();
        let inner: Vec<(u32, &[u8])> = all
            .iter()
            .copied()
            .filter(|&(i, _)| plain[i as usize].is_none())
            .collect();
        let longest = plain.iter().flatten().copied().max().unwrap_or(0) as usize;
        let mut plain_upto = vec![TokenSet::new(n); longest + 1];
        for (id, c) in plain.iter().enumerate() {
            if let Some(c) = c {
                plain_upto[*c as usize].insert(id as u32);
            }
        }
        for c in 1..plain_upto.len() {
            let (lo, hi) = plain_upto.split_at_mut(c);
            hi[0].union_with(&lo[c - 1]);
        }
        Vocab {
            trie: TokenTrie::new(&all),
            inner: TokenTrie::new(&inner),
            plain_upto,
            eos,
            tokens,
        }
    }

    /// Ids `0..size` (the length of every mask).
    pub fn size(&self) -> usize {
        self.tokens.len()
    }
}

// ANCHOR: naive
/// The reference: every id, one by one.
pub fn mask_naive(g: &Grammar, v: &Vocab, state: &Recognizer, out: &mut TokenSet) {
    out.clear();
    let (mut a, mut b) = (Recognizer::default(), Recognizer::default());
    for (id, bytes) in v.tokens.iter().enumerate() {
        if bytes.is_empty() {
            continue;
        }
        a.clone_from(state);
        let ok = bytes.iter().all(|&byte| {
            let ok = a.step(g, byte, &mut b);
            std::mem::swap(&mut a, &mut b);
            ok
        });
        if ok {
            out.insert(id as u32);
        }
    }
    if state.is_accepting(g) {
        v.eos.iter().for_each(|&e| out.insert(e));
    }
}
// ANCHOR_END: naive

/// Scratch space of the fast mask, reused from step to step.
#[derive(Default)]
pub struct Masker {
    /// `depth[d]`: the recognizer after the first `d` bytes of the trie path being walked.
    depth: Vec<Recognizer>,
    /// The stacks that take the general walk.
    general: Recognizer,
    one: Recognizer,
}

impl Masker {
    pub fn new() -> Masker {
        Masker::default()
    }

    // ANCHOR: mask
    /// The allowed ids after `state` (the same set as [`mask_naive`]).
    pub fn mask(&mut self, g: &Grammar, v: &Vocab, state: &Recognizer, out: &mut TokenSet) {
        out.clear();
        self.general.clear();
        for stack in state.stacks() {
            match stack.last() {
                // Between two characters of a string: plain tokens by length, the rest walked.
                Some(&Frame::String {
                    node,
                    len,
                    sub: StrState::Idle,
                }) => {
                    let Node::String { max, .. } = g.nodes[node as usize] else {
                        unreachable!("a string frame's node is a string")
                    };
                    let room = (max - len) as usize;
                    out.union_with(&v.plain_upto[room.min(v.plain_upto.len() - 1)]);
                    self.one.clear();
                    self.one.push_stack(stack);
                    walk(g, &v.inner, &self.one, &mut self.depth, out);
                }
                _ => self.general.push_stack(stack),
            }
        }
        if !self.general.is_dead() {
            walk(g, &v.trie, &self.general, &mut self.depth, out);
        }
        for trie in [&v.trie, &v.inner] {
            for &(id, twin) in &trie.twins {
                if out.contains(id) {
                    out.insert(twin);
                }
            }
        }
        if state.is_accepting(g) {
            v.eos.iter().for_each(|&e| out.insert(e));
        }
    }
    // ANCHOR_END: mask
}

// ANCHOR: walk
/// Depth-first over the trie: node `i` at depth `d` is read from the state at depth `d − 1`
/// (its parent's, the last one written there in preorder); a refused byte skips the subtree.
fn walk(
    g: &Grammar,
    trie: &TokenTrie,
    start: &Recognizer,
    depth: &mut Vec<Recognizer>,
    out: &mut TokenSet,
) {
    if depth.len() < trie.max_depth + 1 {
        depth.resize_with(trie.max_depth + 1, Recognizer::default);
    }
    depth[0].clone_from(start);
    let nodes = &trie.nodes;
    let mut i = 1;
    while i < nodes.len() {
        let n = nodes[i];
        let d = n.depth as usize;
        let (parents, here) = depth.split_at_mut(d);
        if parents[d - 1].step(g, n.byte, &mut here[0]) {
            if n.token != NO_TOKEN {
                out.insert(n.token);
            }
            i += 1;
        } else {
            i = n.end as usize;
        }
    }
}
// ANCHOR_END: walk
