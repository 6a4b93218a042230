//! # Stage 2 · the KV-cache: the keys and values of every position seen so far
//!
//! Generating token `t + 1` needs the keys and values of tokens `0..=t` in every layer. They
//! do not change once computed (a token's K and V depend only on the tokens before it), so
//! each is computed once, when its token goes through the model, and kept here:
//!
//! ```text
//! k, v: [layer, max_seq, kv_dim]      kv_dim = n_kv_heads × head_dim
//! prefill  rows 0 .. prompt_len written at once (the projections write straight into them)
//! decode   one row per new token; attention reads rows 0 ..= pos
//! ```
//!
//! With GQA only the `n_kv_heads` heads are stored (SmolLM2: 3 instead of 9), a third of the
//! memory multi-head attention would need. Chapter 8 measures what the cache saves.

// ANCHOR: kv_cache
/// Keys and values of every layer for every position seen so far, preallocated once.
///
/// `k, v: [layer, max_seq, kv_dim]`, `kv_dim = n_kv_heads × head_dim`, in f32. Memory:
///
/// ```text
/// bytes = 2 (K and V) × n_layers × n_kv_heads × head_dim × seq_len × bytes_per_element
/// SmolLM2-135M, f32: 2 × 30 × 3 × 64 × 4 = 46,080 bytes per token of context
/// ```
///
/// `len` counts the positions already written; the model advances it after each forward pass
/// and [`KvCache::reset`] starts a new sequence (stale rows are simply overwritten later).
#[derive(Clone, Debug)]
pub struct KvCache {
    n_layers: usize,
    max_seq: usize,
    kv_dim: usize,
    k: Vec<f32>, // k: [layer, max_seq, kv_dim]
    v: Vec<f32>, // v: [layer, max_seq, kv_dim]
    len: usize,
}
// ANCHOR_END: kv_cache

impl KvCache {
    /// Allocate (zeroed) room for `max_seq` positions of `n_layers` layers.
    pub fn new(n_layers: usize, max_seq: usize, kv_dim: usize) -> Self {
        let n = n_layers * max_seq * kv_dim;
        KvCache {
            n_layers,
            max_seq,
            kv_dim,
            k: vec![0.0; n],
            v: vec![0.0; n],
            len: 0,
        }
    }

    /// The formula: `2 × n_layers × n_kv_heads × head_dim × seq_len × bytes_per_elem`.
    pub fn bytes_for(
        n_layers: usize,
        n_kv_heads: usize,
        head_dim: usize,
        seq_len: usize,
        bytes_per_elem: usize,
    ) -> usize {
        2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_elem
    }

    /// Bytes really allocated for K and V (the whole `max_seq`, whether used or not).
    pub fn bytes(&self) -> usize {
        (self.k.capacity() + self.v.capacity()) * std::mem::size_of::<f32>()
    }

    pub fn n_layers(&self) -> usize {
        self.n_layers
    }
    pub fn max_seq(&self) -> usize {
        self.max_seq
    }
    pub fn kv_dim(&self) -> usize {
        self.kv_dim
    }
    /// Positions written so far.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Record that positions `0..len` are valid (panics past `max_seq`).
    pub fn set_len(&mut self, len: usize) {
        assert!(
            len <= self.max_seq,
            "kv-cache: len {len} > max_seq {}",
            self.max_seq
        );
        self.len = len;
    }
    /// Forget the sequence: the next one starts at position 0.
    pub fn reset(&mut self) {
        self.len = 0;
    }

    fn row_range(&self, layer: usize, pos: usize, rows: usize) -> std::ops::Range<usize> {
        assert!(
            layer < self.n_layers,
            "kv-cache: layer {layer} >= {}",
            self.n_layers
        );
        assert!(
            pos + rows <= self.max_seq,
            "kv-cache: positions {pos}..{} exceed max_seq {}",
            pos + rows,
            self.max_seq
        );
        let start = (layer * self.max_seq + pos) * self.kv_dim;
        start..start + rows * self.kv_dim
    }

    /// Write the key and value of one position: `k_row, v_row: [kv_dim]`.
    pub fn write(&mut self, layer: usize, pos: usize, k_row: &[f32], v_row: &[f32]) {
        self.write_rows(layer, pos, k_row, v_row);
    }

    /// Write `seq` consecutive positions from `start_pos`: `k, v: [seq, kv_dim]`.
    pub fn write_rows(&mut self, layer: usize, start_pos: usize, k: &[f32], v: &[f32]) {
        assert_eq!(k.len(), v.len(), "kv-cache: k and v lengths differ");
        assert!(
            k.len().is_multiple_of(self.kv_dim),
            "kv-cache: rows are not [seq, kv_dim={}]",
            self.kv_dim
        );
        let r = self.row_range(layer, start_pos, k.len() / self.kv_dim);
        self.k[r.clone()].copy_from_slice(k);
        self.v[r].copy_from_slice(v);
    }

    /// Mutable K and V rows `[seq, kv_dim]` from `start_pos`, to project straight into the cache.
    pub fn rows_mut(
        &mut self,
        layer: usize,
        start_pos: usize,
        seq: usize,
    ) -> (&mut [f32], &mut [f32]) {
        let r = self.row_range(layer, start_pos, seq);
        (&mut self.k[r.clone()], &mut self.v[r])
    }

    /// The key of one position: `[kv_dim]`.
    pub fn k_row(&self, layer: usize, pos: usize) -> &[f32] {
        &self.k[self.row_range(layer, pos, 1)]
    }
    /// The value of one position: `[kv_dim]`.
    pub fn v_row(&self, layer: usize, pos: usize) -> &[f32] {
        &self.v[self.row_range(layer, pos, 1)]
    }
    /// All keys of a layer: `[max_seq, kv_dim]`.
    pub fn k_layer(&self, layer: usize) -> &[f32] {
        &self.k[self.row_range(layer, 0, self.max_seq)]
    }
    /// All values of a layer: `[max_seq, kv_dim]`.
    pub fn v_layer(&self, layer: usize) -> &[f32] {
        &self.v[self.row_range(layer, 0, self.max_seq)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_bytes_formula_smollm2() {
        assert_eq!(KvCache::bytes_for(30, 3, 64, 1, 4), 46_080);
        let c = KvCache::new(30, 16, 192);
        assert_eq!(c.bytes(), KvCache::bytes_for(30, 3, 64, 16, 4));
    }
}
