//! Stage 6d · one constrained generation: the recognizer's state, advanced token by token,
//! and the mask asked for before every draw.
//!
//! ```text
//! state ──mask──▶ allowed ids ──sampler (−∞ elsewhere, then T, top-k, top-p, min-p)──▶ id
//!   ▲                                                                                   │
//!   └──────────────────────── feed the id's bytes (or finish on end-of-sequence) ───────┘
//! ```

use super::grammar::Grammar;
use super::mask::{Masker, TokenSet, Vocab};
use super::recognizer::Recognizer;
use crate::generate::TokenConstraint;
use crate::{Error, Result};
use std::sync::Arc;

/// A JSON value being generated under a grammar.
pub struct JsonConstraint {
    grammar: Arc<Grammar>,
    vocab: Arc<Vocab>,
    state: Recognizer,
    masker: Masker,
    mask: TokenSet,
    finished: bool,
}

impl JsonConstraint {
    /// Before the first token. The grammar and vocabulary are shared (a server compiles a
    /// schema once and prepares the vocabulary once per model).
    pub fn new(grammar: Arc<Grammar>, vocab: Arc<Vocab>) -> JsonConstraint {
        let mask = TokenSet::new(vocab.size());
        JsonConstraint {
            grammar,
            vocab,
            state: Recognizer::new(),
            masker: Masker::new(),
            mask,
            finished: false,
        }
    }

    /// The ids allowed next. Never empty: every state the recognizer reaches can be finished,
    /// and once the value is complete with no byte allowed after it, only end-of-sequence is.
    pub fn allowed(&mut self) -> Result<&TokenSet> {
        if self.finished {
            return Err(Error::invalid(
                "the JSON value is finished: nothing may follow it",
            ));
        }
        self.masker
            .mask(&self.grammar, &self.vocab, &self.state, &mut self.mask);
        if self.mask.is_empty() {
            return Err(Error::invalid(
                "constrained decoding reached a state no token can continue (a bug: please report the schema)",
            ));
        }
        Ok(&self.mask)
    }

    /// Take the id the sampler drew.
    pub fn advance(&mut self, id: u32) -> Result<()> {
        if self.finished {
            return Err(Error::invalid(
                "the JSON value is finished: nothing may follow it",
            ));
        }
        if self.vocab.eos.contains(&id) {
            if !self.state.is_accepting(&self.grammar) {
                return Err(Error::invalid(format!(
                    "end-of-sequence id {id} before the JSON value is complete"
                )));
            }
            self.finished = true;
            return Ok(());
        }
        let bytes = self
            .vocab
            .tokens
            .get(id as usize)
            .map(|b| b.as_slice())
            .unwrap_or(&[]);
        let mut next = self.state.clone();
        if bytes.is_empty() || !next.try_bytes(&self.grammar, bytes) {
            return Err(Error::invalid(format!(
                "token {id} ({:?}) does not continue the JSON value",
                String::from_utf8_lossy(bytes)
            )));
        }
        self.state = next;
        Ok(())
    }

    /// The text so far is a complete value (end-of-sequence is allowed).
    pub fn is_complete(&self) -> bool {
        self.finished || self.state.is_accepting(&self.grammar)
    }

    /// End-of-sequence was taken.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    pub fn state(&self) -> &Recognizer {
        &self.state
    }

    pub fn grammar(&self) -> &Grammar {
        &self.grammar
    }
}

impl TokenConstraint for JsonConstraint {
    fn allowed(&mut self) -> Result<&[u64]> {
        Ok(JsonConstraint::allowed(self)?.words())
    }
    fn advance(&mut self, id: u32) -> Result<()> {
        JsonConstraint::advance(self, id)
    }
}
