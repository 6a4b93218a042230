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

/// Most prompt tokens run through the model at once (bounds a session's scratch buffers, and
/// what a sliding-window layer's ring must hold beyond its window).
pub const PREFILL_CHUNK: usize = 512;

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
///
/// A **sliding-window** layer (Gemma 3's local layers, [`KvCache::with_windows`]) only ever
/// attends to its last `window` positions, so it keeps only `window − 1 + chunk` rows (the
/// window of a prefill chunk's first token, plus the chunk), used as a ring: position `p` lives
/// in row `p mod rows`. Its memory stops growing once the context passes that many positions.
#[derive(Clone, Debug)]
pub struct KvCache {
    n_layers: usize,
    max_seq: usize,
    kv_dim: usize,
    layers: Vec<LayerRows>, // where each layer's rows are, how many, its window
    k: Vec<f32>,            // k: [Σ rows, kv_dim], layer by layer
    v: Vec<f32>,            // v: [Σ rows, kv_dim]
    len: usize,
    written: usize, // the most positions ever held since `reset` (what a ring has overwritten)
}

/// One layer's part of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LayerRows {
    first: usize,          // its first row in `k` and `v`
    rows: usize,           // how many: max_seq, or the ring of a sliding-window layer
    window: Option<usize>, // None: full causal attention
}
// ANCHOR_END: kv_cache

impl KvCache {
    /// Allocate (zeroed) room for `max_seq` positions of `n_layers` layers, every layer with
    /// full causal attention.
    pub fn new(n_layers: usize, max_seq: usize, kv_dim: usize) -> Self {
        Self::with_windows(max_seq, kv_dim, &vec![None; n_layers], max_seq)
    }

    // ANCHOR: with_windows
    /// One entry of `windows` per layer: `None` for full causal attention (room for `max_seq`
    /// positions), `Some(w)` for a layer that attends to its last `w` positions only. Such a
    /// layer keeps `min(max_seq, w − 1 + chunk)` rows, where `chunk` is the most positions
    /// written at once (a prefill chunk): the first token of a chunk still needs the `w − 1`
    /// before it while the chunk's own rows go in.
    pub fn with_windows(
        max_seq: usize,
        kv_dim: usize,
        windows: &[Option<usize>],
        chunk: usize,
    ) -> Self {
        let mut layers = Vec::with_capacity(windows.len());
        let mut total = 0;
        for &window in windows {
            let rows = Self::rows_for(window, max_seq, chunk);
            layers.push(LayerRows {
                first: total,
                rows,
                window,
            });
            total += rows;
        }
        KvCache {
            n_layers: windows.len(),
            max_seq,
            kv_dim,
            layers,
            k: vec![0.0; total * kv_dim],
            v: vec![0.0; total * kv_dim],
            len: 0,
            written: 0,
        }
    }

    /// Rows one layer keeps: `max_seq`, or for a window `w`, `min(max_seq, w − 1 + chunk)`.
    pub fn rows_for(window: Option<usize>, max_seq: usize, chunk: usize) -> usize {
        match window {
            None => max_seq,
            Some(w) => max_seq.min(w.max(1) - 1 + chunk.clamp(1, max_seq.max(1))),
        }
    }
    // ANCHOR_END: with_windows

    /// The formula for full attention: `2 × n_layers × n_kv_heads × head_dim × seq_len ×
    /// bytes_per_elem`.
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
        self.written = self.written.max(len);
    }

    /// Whether the cache can go back to `len` positions: a sliding-window layer's ring has
    /// overwritten positions before `written − rows`, and the next query (at `len`) needs the
    /// `window − 1` before it. Full-attention layers can always go back.
    pub fn can_rewind_to(&self, len: usize) -> bool {
        let lost_before = |l: &LayerRows| self.written.saturating_sub(l.rows);
        len == 0
            || self.layers.iter().all(|l| match l.window {
                None => true,
                Some(w) => len.saturating_sub(w.saturating_sub(1)) >= lost_before(l),
            })
    }
    /// Forget the sequence: the next one starts at position 0.
    pub fn reset(&mut self) {
        self.len = 0;
        self.written = 0;
    }

    fn layer(&self, layer: usize) -> LayerRows {
        assert!(
            layer < self.n_layers,
            "kv-cache: layer {layer} >= {}",
            self.n_layers
        );
        self.layers[layer]
    }

    /// The window of a layer: `None` for full causal attention.
    pub fn window(&self, layer: usize) -> Option<usize> {
        self.layer(layer).window
    }

    /// Rows a layer keeps (`max_seq`, or its ring).
    pub fn layer_rows(&self, layer: usize) -> usize {
        self.layer(layer).rows
    }

    // ANCHOR: first_visible
    /// The first position a query at `pos` attends to in this layer: 0, or with a window `w`,
    /// `pos + 1 − w` (the query sees `w` positions, itself included), as Hugging Face's
    /// sliding-window mask `kv_idx > q_idx − w` and llama.cpp's `p1 − p0 < n_swa`.
    pub fn first_visible(&self, layer: usize, pos: usize) -> usize {
        match self.layer(layer).window {
            None => 0,
            Some(w) => (pos + 1).saturating_sub(w),
        }
    }
    // ANCHOR_END: first_visible

    /// The row of position `pos` inside its layer's rows (`pos`, or `pos mod rows` in a ring).
    pub fn row_of(&self, layer: usize, pos: usize) -> usize {
        pos % self.layer(layer).rows
    }

    /// Element range of `rows` consecutive positions from `pos`, which must not wrap around
    /// the layer's ring.
    fn row_range(&self, layer: usize, pos: usize, rows: usize) -> std::ops::Range<usize> {
        let l = self.layer(layer);
        assert!(
            pos + rows <= self.max_seq,
            "kv-cache: positions {pos}..{} exceed max_seq {}",
            pos + rows,
            self.max_seq
        );
        let r = pos % l.rows;
        assert!(
            r + rows <= l.rows,
            "kv-cache: positions {pos}..{} wrap around layer {layer}'s {} rows",
            pos + rows,
            l.rows
        );
        let start = (l.first + r) * self.kv_dim;
        start..start + rows * self.kv_dim
    }

    /// Write the key and value of one position: `k_row, v_row: [kv_dim]`.
    pub fn write(&mut self, layer: usize, pos: usize, k_row: &[f32], v_row: &[f32]) {
        self.write_rows(layer, pos, k_row, v_row);
    }

    /// Write `seq` consecutive positions from `start_pos`: `k, v: [seq, kv_dim]`. In a ring the
    /// rows may wrap to its start (at most once: `seq` must not exceed the ring).
    pub fn write_rows(&mut self, layer: usize, start_pos: usize, k: &[f32], v: &[f32]) {
        assert_eq!(k.len(), v.len(), "kv-cache: k and v lengths differ");
        assert!(
            k.len().is_multiple_of(self.kv_dim),
            "kv-cache: rows are not [seq, kv_dim={}]",
            self.kv_dim
        );
        let seq = k.len() / self.kv_dim;
        let rows = self.layer(layer).rows;
        assert!(
            seq <= rows,
            "kv-cache: {seq} positions at once overwrite each other in layer {layer}'s {rows} rows"
        );
        // the rows up to the ring's end, then the rest from its start
        let first = seq.min(rows - start_pos % rows);
        let split = first * self.kv_dim;
        let r = self.row_range(layer, start_pos, first);
        self.k[r.clone()].copy_from_slice(&k[..split]);
        self.v[r].copy_from_slice(&v[..split]);
        if first < seq {
            let r = self.row_range(layer, start_pos + first, seq - first);
            self.k[r.clone()].copy_from_slice(&k[split..]);
            self.v[r].copy_from_slice(&v[split..]);
        }
    }

    /// Mutable K and V rows `[seq, kv_dim]` from `start_pos`, to project straight into the
    /// cache (panics if they would wrap around a sliding-window layer's ring).
    pub fn rows_mut(
        &mut self,
        layer: usize,
        start_pos: usize,
        seq: usize,
    ) -> (&mut [f32], &mut [f32]) {
        let r = self.row_range(layer, start_pos, seq);
        (&mut self.k[r.clone()], &mut self.v[r])
    }

    /// The key of one position: `[kv_dim]` (in a ring, whichever position last used its row).
    pub fn k_row(&self, layer: usize, pos: usize) -> &[f32] {
        &self.k[self.row_range(layer, pos, 1)]
    }
    /// The value of one position: `[kv_dim]`.
    pub fn v_row(&self, layer: usize, pos: usize) -> &[f32] {
        &self.v[self.row_range(layer, pos, 1)]
    }
    /// All keys of a layer: `[rows, kv_dim]` (`rows = max_seq` for a full-attention layer;
    /// position `p` is row [`KvCache::row_of`]`(p)`).
    pub fn k_layer(&self, layer: usize) -> &[f32] {
        let l = self.layer(layer);
        &self.k[l.first * self.kv_dim..(l.first + l.rows) * self.kv_dim]
    }
    /// All values of a layer: `[rows, kv_dim]`.
    pub fn v_layer(&self, layer: usize) -> &[f32] {
        let l = self.layer(layer);
        &self.v[l.first * self.kv_dim..(l.first + l.rows) * self.kv_dim]
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

    #[test]
    fn a_window_layer_is_a_ring() {
        // layer 0 full, layer 1 a window of 3 written 2 positions at a time: 3 − 1 + 2 = 4 rows
        let mut c = KvCache::with_windows(10, 1, &[None, Some(3)], 2);
        assert_eq!((c.layer_rows(0), c.layer_rows(1)), (10, 4));
        assert_eq!(c.bytes(), (10 + 4) * 2 * 4);
        for p in (0..10).step_by(2) {
            let (k, v) = ([p as f32, p as f32 + 1.0], [-(p as f32), -(p as f32) - 1.0]);
            c.write_rows(0, p, &k, &v);
            c.write_rows(1, p, &k, &v);
        }
        // positions 6..=9 are the last 4 written: rows 2, 3, 0, 1 of the ring
        for p in 6..10 {
            assert_eq!(c.k_row(1, p), &[p as f32]);
            assert_eq!(c.v_row(1, p), &[-(p as f32)]);
            assert_eq!(c.k_row(0, p), &[p as f32]);
        }
        assert_eq!(c.k_layer(1), &[8.0, 9.0, 6.0, 7.0]);
        assert_eq!((c.first_visible(1, 9), c.first_visible(0, 9)), (7, 0));
        // a write across the ring's end wraps: positions 3, 4 → rows 3, 0
        c.write_rows(1, 3, &[30.0, 40.0], &[0.0, 0.0]);
        assert_eq!(c.k_layer(1), &[40.0, 9.0, 6.0, 30.0]);
    }
}
