//! Stage 2 · RoPE: rotary position embeddings.
//!
//! Attention compares a query with keys by dot products, which know nothing about order.
//! RoPE injects the position `m` by rotating each pair of coordinates of a query or key head
//! by the angle `m · θ_i`, with one frequency per pair:
//!
//! ```text
//! θ_i = base^(−2i/d)                         i = 0 .. d/2−1   (d = head_dim, base = rope_theta)
//! (a, b) ↦ (a·cos(mθ_i) − b·sin(mθ_i),  b·cos(mθ_i) + a·sin(mθ_i))
//! ```
//!
//! A rotation keeps lengths, and ⟨rot(q, m), rot(k, n)⟩ = ⟨q, rot(k, n − m)⟩ depends only on the
//! offset `m − n`: attention sees *relative* positions.
//!
//! ## Which coordinates form a pair: two layouts
//!
//! * [`RopeLayout::HalfSplit`] (Hugging Face `rotate_half`): pair `(i, i + d/2)`.
//! * [`RopeLayout::Interleaved`] (Meta's original code, GGUF/llama.cpp): pair `(2i, 2i + 1)`.
//!
//! Both are the same model once the Q and K weight rows are permuted: llama.cpp's converter
//! turns HF rows into GGUF rows with `w.reshape(n_head, 2, d/2, cols).swapaxes(1, 2)`, i.e.
//! GGUF row `h·d + 2i + j` is HF row `h·d + j·d/2 + i` ([`hf_row_of_gguf_row`]). glassbox keeps
//! one internal convention, HalfSplit, and permutes GGUF Q/K rows once, at load time.
//!
//! ## Llama 3.1 frequency scaling (`rope_type: "llama3"`)
//!
//! Long-context Llama 3.1 slows the low frequencies down by `factor`, keeps the high ones, and
//! blends in between, exactly as `transformers`' `_compute_llama3_parameters`:
//!
//! ```text
//! wavelen_i = 2π / θ_i
//! wavelen < L/high_freq_factor  → θ_i                    (L = original_max_position_embeddings)
//! wavelen > L/low_freq_factor   → θ_i / factor
//! otherwise, s = (L/wavelen − low) / (high − low):  (1 − s)·θ_i/factor + s·θ_i
//! ```
//!
//! Reference: Su et al., "RoFormer" (2021); `transformers.models.llama.modeling_llama`
//! (`LlamaRotaryEmbedding`, `rotate_half`, `apply_rotary_pos_emb`), `modeling_rope_utils`.

/// Which coordinates of a head are rotated together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeLayout {
    /// Hugging Face: pair `(i, i + head_dim/2)`. glassbox's internal convention.
    HalfSplit,
    /// Meta / GGUF: pair `(2i, 2i + 1)`.
    Interleaved,
}

/// Llama 3.1 `rope_scaling` with `rope_type = "llama3"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Llama3RopeScaling {
    pub factor: f32,
    pub low_freq_factor: f32,
    pub high_freq_factor: f32,
    pub original_max_position_embeddings: usize,
}

// ANCHOR: inv_freq
/// The per-pair frequencies θ_i (`inv_freq` in Hugging Face), in f32 as HF computes them,
/// with the llama3 scaling applied when given.
pub fn inv_freq(head_dim: usize, theta: f32, scaling: Option<&Llama3RopeScaling>) -> Vec<f32> {
    assert!(
        head_dim.is_multiple_of(2),
        "rope: head_dim {head_dim} must be even"
    );
    let half = head_dim / 2;
    // θ_i = 1 / base^(2i/d)
    let mut f: Vec<f32> = (0..half)
        .map(|i| {
            let exponent = (2 * i) as f32 / head_dim as f32;
            1.0 / (theta as f64).powf(exponent as f64) as f32
        })
        .collect();
    if let Some(s) = scaling {
        let old_ctx = s.original_max_position_embeddings as f32;
        let low_freq_wavelen = old_ctx / s.low_freq_factor;
        let high_freq_wavelen = old_ctx / s.high_freq_factor;
        for fi in f.iter_mut() {
            let wavelen = 2.0 * std::f32::consts::PI / *fi;
            if wavelen < high_freq_wavelen {
                // high frequency: unchanged
            } else if wavelen > low_freq_wavelen {
                *fi /= s.factor; // low frequency: slowed down by `factor`
            } else {
                // in between: blend the two smoothly
                let smooth = (old_ctx / wavelen - s.low_freq_factor)
                    / (s.high_freq_factor - s.low_freq_factor);
                *fi = (1.0 - smooth) * *fi / s.factor + smooth * *fi;
            }
        }
    }
    f
}
// ANCHOR_END: inv_freq

/// Precomputed `cos(m·θ_i)` and `sin(m·θ_i)` for every position `m < max_pos`.
#[derive(Clone, Debug)]
pub struct RopeTable {
    head_dim: usize,
    max_pos: usize,
    cos: Vec<f32>, // cos: [max_pos, head_dim/2]
    sin: Vec<f32>, // sin: [max_pos, head_dim/2]
}

impl RopeTable {
    // ANCHOR: table
    /// Build the table. The angle `m·θ_i` is an f32 product as in Hugging Face (so positions in
    /// the thousands round the same way); its cos/sin are then correctly rounded to f32.
    pub fn new(
        head_dim: usize,
        max_pos: usize,
        theta: f32,
        scaling: Option<&Llama3RopeScaling>,
    ) -> Self {
        let freqs = inv_freq(head_dim, theta, scaling);
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(max_pos * half);
        let mut sin = Vec::with_capacity(max_pos * half);
        for m in 0..max_pos {
            for &f in &freqs {
                let angle = (m as f32 * f) as f64;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        RopeTable {
            head_dim,
            max_pos,
            cos,
            sin,
        }
    }
    // ANCHOR_END: table

    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    pub fn max_pos(&self) -> usize {
        self.max_pos
    }

    /// `(cos, sin)` rows for position `pos`, each `[head_dim/2]`.
    pub fn cos_sin(&self, pos: usize) -> (&[f32], &[f32]) {
        assert!(
            pos < self.max_pos,
            "rope: position {pos} >= table size {}",
            self.max_pos
        );
        let half = self.head_dim / 2;
        (
            &self.cos[pos * half..(pos + 1) * half],
            &self.sin[pos * half..(pos + 1) * half],
        )
    }

    // ANCHOR: apply
    /// Rotate one head `x: [head_dim]` in place to position `pos`.
    pub fn apply(&self, x: &mut [f32], pos: usize, layout: RopeLayout) {
        assert_eq!(
            x.len(),
            self.head_dim,
            "rope: head has {} values, want {}",
            x.len(),
            self.head_dim
        );
        let half = self.head_dim / 2;
        let (cos, sin) = self.cos_sin(pos);
        for i in 0..half {
            // the pair (a, b) rotated by the angle pos·θ_i
            let (ia, ib) = match layout {
                RopeLayout::HalfSplit => (i, i + half),
                RopeLayout::Interleaved => (2 * i, 2 * i + 1),
            };
            let (a, b) = (x[ia], x[ib]);
            x[ia] = a * cos[i] - b * sin[i];
            x[ib] = b * cos[i] + a * sin[i];
        }
    }
    // ANCHOR_END: apply

    /// Rotate every head of one token, `x: [n_heads * head_dim]`, to position `pos`.
    pub fn apply_heads(&self, x: &mut [f32], n_heads: usize, pos: usize, layout: RopeLayout) {
        assert_eq!(
            x.len(),
            n_heads * self.head_dim,
            "rope: x is not [n_heads * head_dim]"
        );
        for head in x.chunks_exact_mut(self.head_dim) {
            self.apply(head, pos, layout);
        }
    }

    /// Rotate a block of tokens, `x: [seq, n_heads * head_dim]`, row `t` to `start_pos + t`
    /// (prefill writes the whole prompt at once; decode is `seq = 1`).
    pub fn apply_rows(&self, x: &mut [f32], n_heads: usize, start_pos: usize, layout: RopeLayout) {
        let width = n_heads * self.head_dim;
        assert!(
            x.len().is_multiple_of(width),
            "rope: x is not [seq, n_heads * head_dim]"
        );
        for (t, row) in x.chunks_exact_mut(width).enumerate() {
            self.apply_heads(row, n_heads, start_pos + t, layout);
        }
    }
}

/// The reference: rotate one head with the angle computed on the spot (no table), in f64.
pub fn rope_naive(
    x: &mut [f32],
    pos: usize,
    theta: f32,
    scaling: Option<&Llama3RopeScaling>,
    layout: RopeLayout,
) {
    let d = x.len();
    let freqs = inv_freq(d, theta, scaling);
    let half = d / 2;
    for (i, &f) in freqs.iter().enumerate() {
        let (ia, ib) = if layout == RopeLayout::HalfSplit {
            (i, i + half)
        } else {
            (2 * i, 2 * i + 1)
        };
        let angle = (pos as f32 * f) as f64;
        let (a, b) = (x[ia] as f64, x[ib] as f64);
        x[ia] = (a * angle.cos() - b * angle.sin()) as f32;
        x[ib] = (b * angle.cos() + a * angle.sin()) as f32;
    }
}

// ANCHOR: permute
/// Which Hugging Face (half-split) row a GGUF (interleaved) Q/K row holds.
///
/// Within each head of `head_dim` rows, GGUF row `2i + j` (pair `i`, member `j ∈ {0, 1}`) is
/// HF row `j·head_dim/2 + i`. Heads stay in place. E.g. head_dim 4: GGUF rows [0, 1, 2, 3] hold
/// HF rows [0, 2, 1, 3].
pub fn hf_row_of_gguf_row(gguf_row: usize, head_dim: usize) -> usize {
    let (head, r) = (gguf_row / head_dim, gguf_row % head_dim);
    let (i, j) = (r / 2, r % 2);
    head * head_dim + j * (head_dim / 2) + i
}

/// The inverse of [`hf_row_of_gguf_row`]: which GGUF row an HF row ends up in.
pub fn gguf_row_of_hf_row(hf_row: usize, head_dim: usize) -> usize {
    let (head, r) = (hf_row / head_dim, hf_row % head_dim);
    let (j, i) = (r / (head_dim / 2), r % (head_dim / 2));
    head * head_dim + 2 * i + j
}
// ANCHOR_END: permute

/// Reorder the rows of `w: [rows, cols]` so that output row `r` is input row `src_of(r)`.
fn gather_rows(w: &[f32], rows: usize, src_of: impl Fn(usize) -> usize) -> Vec<f32> {
    assert!(
        rows > 0 && w.len().is_multiple_of(rows),
        "rope permute: len {} is not rows × cols",
        w.len()
    );
    let cols = w.len() / rows;
    let mut out = Vec::with_capacity(w.len());
    for r in 0..rows {
        let s = src_of(r);
        out.extend_from_slice(&w[s * cols..(s + 1) * cols]);
    }
    out
}

/// Convert HF (half-split) Q/K weight rows `w: [n_heads * head_dim, cols]` to GGUF
/// (interleaved) order — what llama.cpp's converter does. Also works on one activation
/// vector (`cols = 1`).
pub fn hf_to_interleaved_rows(w: &[f32], n_heads: usize, head_dim: usize) -> Vec<f32> {
    gather_rows(w, n_heads * head_dim, |g| hf_row_of_gguf_row(g, head_dim))
}

/// Convert GGUF (interleaved) Q/K weight rows `w: [n_heads * head_dim, cols]` back to HF
/// (half-split) order: what glassbox does when it loads a GGUF.
pub fn interleaved_to_hf_rows(w: &[f32], n_heads: usize, head_dim: usize) -> Vec<f32> {
    gather_rows(w, n_heads * head_dim, |h| gguf_row_of_hf_row(h, head_dim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_by_hand() {
        let g: Vec<usize> = (0..4).map(|r| hf_row_of_gguf_row(r, 4)).collect();
        assert_eq!(g, [0, 2, 1, 3]);
        for r in 0..24 {
            assert_eq!(gguf_row_of_hf_row(hf_row_of_gguf_row(r, 8), 8), r);
        }
    }

    #[test]
    fn position_zero_is_identity() {
        let t = RopeTable::new(8, 4, 10000.0, None);
        let mut x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        t.apply(&mut x, 0, RopeLayout::HalfSplit);
        assert_eq!(x, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    }
}
