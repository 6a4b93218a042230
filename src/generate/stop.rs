//! Stage 4c: stop strings — text that could still become a stop string is held back until it
//! is known not to be one, and a stop string itself is never emitted.

use super::{Flow, TokenLogprob};

// ANCHOR: holdback
/// Bytes at the end of `text` that could be the beginning of a stop string (held back).
fn held_back(text: &str, stops: &[String]) -> usize {
    let mut keep = 0;
    for s in stops {
        for k in (1..s.len()).rev() {
            if k > keep && s.is_char_boundary(k) && text.ends_with(&s[..k]) {
                keep = k;
                break;
            }
        }
    }
    keep
}

/// The first stop string occurring in `text`: (byte offset, the string).
fn find_stop<'s>(text: &str, stops: &'s [String]) -> Option<(usize, &'s String)> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()).map(|i| (i, s)))
        .min_by_key(|(i, _)| *i)
}
// ANCHOR_END: holdback

/// Text between the decoder and the caller: emits what can no longer be part of a stop string,
/// with the tokens generated since the last emit (a token goes out with the first text at or
/// after it; tokens whose text is never shown — an end token, a stop string — are dropped).
pub(super) struct Emitter<'c> {
    pub(super) pending: String,
    pub(super) text: String,
    pub(super) tokens: Vec<TokenLogprob>,
    pub(super) flow: Flow,
    pub(super) on_piece: &'c mut dyn FnMut(&str, &[TokenLogprob]) -> Flow,
}

impl Emitter<'_> {
    pub(super) fn emit(&mut self, s: &str) {
        if !s.is_empty() {
            self.text.push_str(s);
            if (self.on_piece)(s, &self.tokens) == Flow::Stop {
                self.flow = Flow::Stop;
            }
            self.tokens.clear();
        }
    }
    /// Add a piece; returns the stop string if one is now complete.
    pub(super) fn push(&mut self, piece: &str, stops: &[String]) -> Option<String> {
        self.pending.push_str(piece);
        if let Some((at, s)) = find_stop(&self.pending, stops) {
            let before = self.pending[..at].to_string();
            self.emit(&before);
            self.pending.clear();
            return Some(s.clone());
        }
        let keep = held_back(&self.pending, stops);
        let cut = self.pending.len() - keep;
        let ready: String = self.pending.drain(..cut).collect();
        self.emit(&ready);
        None
    }
}
