//! Stage 1 helper: the vocabulary's bytes in one arena, and an id-only table from bytes to id.
//!
//! A vocabulary is tens of thousands of short byte strings (SmolLM2: 49,152 of them, 7 bytes
//! long on average). Kept as one `Vec<u8>` per token, and again as the keys of a
//! `HashMap<Vec<u8>, u32>`, every token cost two heap blocks (32 bytes at least, each) plus a
//! 24-byte header and a 32-byte table entry: ~6 MB for SmolLM2's ~0.35 MB of text, resident for
//! as long as the model is loaded (issue 10 bounds the resident memory while decoding). Here
//! the bytes sit back to back in one arena, and the table holds ids only:
//!
//! ```text
//! arena   b"!\"#$%…"                 every token's bytes, in id order               [Σ len] u8
//! starts  [0, 1, 2, …, arena.len()]  id's bytes = arena[starts[id]..starts[id + 1]]  [n + 1] u32
//! slots   [EMPTY, 1043, EMPTY, …]    open addressing: FxHash(bytes) picks a slot, then the next
//!                                    ones in turn (linear probing) until the slot whose id has
//!                                    these bytes (found) or an EMPTY one (absent)    [2^k ≥ 2·n] u32
//! ```
//!
//! With at most half the slots full, a lookup reads ~1.5 slots on average; each candidate's
//! bytes are compared in the arena. Nothing is ever removed, so no tombstones are needed.

use std::hash::Hasher;

use super::fxhash::FxHasher;

const EMPTY: u32 = u32::MAX;

// ANCHOR: store
/// Every id's bytes, and the ids [`TokenStore::id_of`] finds by their bytes.
#[derive(Clone, Default)]
pub(super) struct TokenStore {
    arena: Vec<u8>,
    starts: Vec<u32>,
    /// A power of two of slots, each an id or `EMPTY`.
    slots: Vec<u32>,
    /// Bytes → id for an indexed token whose id a special token later took with other text
    /// (its bytes are then not `get(id)`); empty for every real vocabulary.
    aside: Vec<(Box<[u8]>, u32)>,
}
// ANCHOR_END: store

impl TokenStore {
    /// Store `tokens[id]` for every id, and index `indexed` (id, bytes) pairs in order: the
    /// first id with given bytes is the one `id_of` returns. Errors if the text passes 4 GiB.
    pub(super) fn new<'a>(
        tokens: &[Vec<u8>],
        indexed: impl IntoIterator<Item = (u32, &'a [u8])>,
    ) -> Result<TokenStore, String> {
        let total: usize = tokens.iter().map(Vec::len).sum();
        if u32::try_from(total).is_err() || u32::try_from(tokens.len()).is_err() {
            return Err(format!(
                "the vocabulary's {} tokens hold {total} bytes of text, more than 4 GiB",
                tokens.len()
            ));
        }
        let mut arena = Vec::with_capacity(total);
        let mut starts = Vec::with_capacity(tokens.len() + 1);
        for t in tokens {
            starts.push(arena.len() as u32);
            arena.extend_from_slice(t);
        }
        starts.push(arena.len() as u32);
        let indexed: Vec<(u32, &[u8])> = indexed.into_iter().collect();
        let n_slots = (2 * indexed.len()).next_power_of_two().max(8);
        let mut store = TokenStore {
            arena,
            starts,
            slots: vec![EMPTY; n_slots],
            aside: Vec::new(),
        };
        for (id, bytes) in indexed {
            // one probe finds the bytes (an earlier id has them: the first id wins) or the
            // empty slot where they go
            let Err(slot) = store.probe(bytes) else {
                continue;
            };
            if store.aside.iter().any(|a| &*a.0 == bytes) {
                continue;
            }
            if tokens.get(id as usize).map(Vec::as_slice) == Some(bytes) {
                store.slots[slot] = id;
            } else {
                store.aside.push((bytes.into(), id));
            }
        }
        Ok(store)
    }

    /// Number of ids (with or without bytes).
    pub(super) fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// The bytes of `id` (empty for a hole). Panics if `id` is not below [`Self::len`].
    #[inline]
    pub(super) fn get(&self, id: u32) -> &[u8] {
        let id = id as usize;
        &self.arena[self.starts[id] as usize..self.starts[id + 1] as usize]
    }

    /// The indexed id whose bytes are `bytes`, if any.
    #[inline]
    pub(super) fn id_of(&self, bytes: &[u8]) -> Option<u32> {
        match self.probe(bytes) {
            Ok(slot) => Some(self.slots[slot]),
            Err(_) if self.aside.is_empty() => None,
            Err(_) => self.aside.iter().find(|a| &*a.0 == bytes).map(|a| a.1),
        }
    }

    // ANCHOR: probe
    /// `Ok(slot)` holding the id with these bytes, or `Err(slot)`: the empty slot where they
    /// would go.
    #[inline]
    fn probe(&self, bytes: &[u8]) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut h = FxHasher::default();
        h.write_usize(bytes.len());
        h.write(bytes);
        let mut slot = h.finish() as usize & mask;
        loop {
            match self.slots[slot] {
                EMPTY => return Err(slot),
                id if self.get(id) == bytes => return Ok(slot),
                _ => slot = (slot + 1) & mask,
            }
        }
    }
    // ANCHOR_END: probe

    /// Heap bytes held (what `glassbox bench` reports as the tokenizer's share).
    pub(super) fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + 4 * (self.starts.capacity() + self.slots.capacity())
            + self.aside.iter().map(|a| a.0.len() + 24).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_by_id_and_ids_by_bytes() {
        let tokens: Vec<Vec<u8>> = vec![b"a".to_vec(), b"bc".to_vec(), vec![], b"a".to_vec()];
        // id 3 repeats id 0's bytes: the first wins; id 2 is a hole (not indexed)
        let indexed = [0u32, 1, 3].map(|id| (id, tokens[id as usize].as_slice()));
        let s = TokenStore::new(&tokens, indexed).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s.get(1), b"bc");
        assert_eq!(s.get(2), b"");
        assert_eq!(s.id_of(b"a"), Some(0));
        assert_eq!(s.id_of(b"bc"), Some(1));
        assert_eq!(s.id_of(b"b"), None);
        assert_eq!(s.id_of(b""), None);
    }

    #[test]
    fn many_tokens_against_a_hash_map() {
        // every 1- and 2-byte string over 40 letters, indexed in a scrambled id order
        let mut tokens = Vec::new();
        for a in 0..40u8 {
            tokens.push(vec![a]);
            for b in 0..40u8 {
                tokens.push(vec![a, b]);
            }
        }
        let order: Vec<u32> = (0..tokens.len() as u32)
            .map(|i| (i * 7919) % tokens.len() as u32)
            .collect();
        let s = TokenStore::new(
            &tokens,
            order.iter().map(|&id| (id, tokens[id as usize].as_slice())),
        )
        .unwrap();
        let naive: std::collections::HashMap<&[u8], u32> = tokens
            .iter()
            .enumerate()
            .map(|(id, t)| (t.as_slice(), id as u32))
            .collect();
        for (t, &id) in &naive {
            assert_eq!(s.id_of(t), Some(id));
            assert_eq!(s.get(id), *t);
        }
        assert_eq!(s.id_of(&[41, 0]), None);
    }

    #[test]
    fn indexed_bytes_that_differ_from_the_stored_ones_are_kept_aside() {
        // id 1's stored bytes became a special's text; its vocabulary bytes still find it
        let tokens = vec![b"x".to_vec(), b"<|s|>".to_vec()];
        let s = TokenStore::new(&tokens, [(0, &b"x"[..]), (1, &b"yz"[..])]).unwrap();
        assert_eq!(s.id_of(b"yz"), Some(1));
        assert_eq!(s.id_of(b"<|s|>"), None);
        assert_eq!(s.get(1), b"<|s|>");
    }
}
