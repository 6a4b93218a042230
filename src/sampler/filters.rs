//! Stage 4a: the steps of the sampler chain (see `mod.rs` for the order and the math), each a
//! plain function over the logits or the candidate list.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::{candidates, Candidate};

fn by_logit_desc(a: &Candidate, b: &Candidate) -> Ordering {
    let key = |x: f32| if x.is_nan() { f32::NEG_INFINITY } else { x };
    key(b.logit).total_cmp(&key(a.logit)).then(a.id.cmp(&b.id))
}

// ANCHOR: mask
/// Step 0. Every id outside `allowed` gets logit `−∞`. `allowed` is a bitset over the
/// vocabulary: id `i` is allowed iff bit `i % 64` of `allowed[i / 64]` is set (ids past its
/// end are not).
pub fn apply_mask(logits: &mut [f32], allowed: &[u64]) {
    for (w, chunk) in logits.chunks_mut(64).enumerate() {
        let bits = allowed.get(w).copied().unwrap_or(0);
        for (j, l) in chunk.iter_mut().enumerate() {
            if bits >> j & 1 == 0 {
                *l = f32::NEG_INFINITY;
            }
        }
    }
}
// ANCHOR_END: mask

// ANCHOR: bias
/// Step 0. `l[id] += b` for each `(id, b)`; ids outside the vocabulary are ignored.
pub fn apply_logit_bias(logits: &mut [f32], bias: &[(u32, f32)]) {
    for &(id, b) in bias {
        if let Some(l) = logits.get_mut(id as usize) {
            *l += b;
        }
    }
}
// ANCHOR_END: bias

// ANCHOR: penalties
/// Step 1. Repetition penalty (HF) then frequency/presence penalties (OpenAI) over `history`.
/// `logits: [vocab]`; ids in `history` outside the vocabulary are ignored.
pub fn apply_penalties(
    logits: &mut [f32],
    history: &[u32],
    repeat: f32,
    frequency: f32,
    presence: f32,
) {
    if history.is_empty() || (repeat == 1.0 && frequency == 0.0 && presence == 0.0) {
        return;
    }
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for &id in history {
        *counts.entry(id).or_insert(0) += 1;
    }
    for (&id, &count) in &counts {
        let Some(l) = logits.get_mut(id as usize) else {
            continue;
        };
        // HF: score < 0 ? score * r : score / r — once per distinct id, however often it was seen
        if repeat != 1.0 {
            *l = if *l < 0.0 { *l * repeat } else { *l / repeat };
        }
        // OpenAI: mu[j] − c[j]·α_frequency − 1[c[j] > 0]·α_presence
        *l -= count as f32 * frequency + presence;
    }
}
// ANCHOR_END: penalties

// ANCHOR: temperature
/// Step 2. `l ← l / T` for `T > 0` (T = 0 is handled by the caller as argmax).
pub fn apply_temperature(logits: &mut [f32], temperature: f32) {
    if temperature > 0.0 && temperature != 1.0 {
        for l in logits.iter_mut() {
            *l /= temperature; // a division, not a multiply by 1/T: bit-equal to transformers
        }
    }
}

/// Greedy: the id of the largest logit (the smallest id on ties; NaN never wins).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] || logits[best].is_nan() {
            best = i;
        }
    }
    best as u32
}
// ANCHOR_END: temperature

// ANCHOR: top_k
/// Step 3. Keep the `k` largest candidates, sorted descending. `k = 0` or `k ≥ len`: keep all.
/// Partial selection: O(V) to find the k-th largest, then O(k log k) to sort only those k.
pub fn top_k(cands: &mut Vec<Candidate>, k: usize) {
    if k == 0 || k >= cands.len() {
        return;
    }
    cands.select_nth_unstable_by(k - 1, by_logit_desc);
    cands.truncate(k);
    cands.sort_unstable_by(by_logit_desc);
}
// ANCHOR_END: top_k

/// The `k` largest logits as candidates, highest first (ties: lower id first): what
/// `glassbox logits --top K` and the lessons print. Unlike [`top_k`], `k = 0` keeps none.
pub fn largest(logits: &[f32], k: usize) -> Vec<Candidate> {
    let mut cands = candidates(logits);
    sort_prefix(&mut cands, k);
    cands.truncate(k);
    cands
}

/// Make `cands[..m]` the `m` largest, sorted descending (the rest is left in any order).
fn sort_prefix(cands: &mut [Candidate], m: usize) {
    let m = m.min(cands.len());
    if m == 0 {
        return;
    }
    if m < cands.len() {
        cands.select_nth_unstable_by(m - 1, by_logit_desc);
    }
    cands[..m].sort_unstable_by(by_logit_desc);
}

/// `(max logit, Σ exp(l − max))` over the candidates: the softmax normaliser.
fn softmax_norm(cands: &[Candidate]) -> (f32, f64) {
    let max = cands
        .iter()
        .map(|c| c.logit)
        .fold(f32::NEG_INFINITY, f32::max);
    let sum = cands.iter().map(|c| ((c.logit - max) as f64).exp()).sum();
    (max, sum)
}

// ANCHOR: top_p
/// Step 4. Nucleus: keep the smallest most-likely prefix whose probability mass reaches `p`
/// (at least one token). As in HF, a token is kept iff the mass strictly before it is `< p`.
/// Sorts a growing prefix (64, 256, 1024, …) instead of the whole vocabulary.
pub fn top_p(cands: &mut Vec<Candidate>, p: f32) {
    if p >= 1.0 || cands.len() <= 1 {
        return;
    }
    let (max, sum) = softmax_norm(cands);
    let mut m = 64;
    loop {
        sort_prefix(cands, m);
        let mut cum = 0.0f64;
        for i in 0..m.min(cands.len()) {
            if cum >= p as f64 && i > 0 {
                cands.truncate(i);
                return;
            }
            cum += ((cands[i].logit - max) as f64).exp() / sum;
        }
        if m >= cands.len() {
            return; // the whole list is needed to reach p
        }
        m *= 4;
    }
}
// ANCHOR_END: top_p

// ANCHOR: min_p
/// Step 5. Keep tokens with `p ≥ min_p · p_max`, i.e. `l ≥ l_max + ln(min_p)`; the best token
/// always survives. The order of the survivors is preserved.
pub fn min_p(cands: &mut Vec<Candidate>, min_p: f32) {
    if min_p <= 0.0 || cands.is_empty() {
        return;
    }
    let max = cands
        .iter()
        .map(|c| c.logit)
        .fold(f32::NEG_INFINITY, f32::max);
    if max.is_nan() || max == f32::NEG_INFINITY {
        return; // all NaN or −∞: no best token to measure against (and none may be removed)
    }
    let threshold = max + min_p.ln();
    cands.retain(|c| c.logit >= threshold);
}
// ANCHOR_END: min_p

// ANCHOR: draw
/// Step 6. Draw one id from softmax(logits of the candidates), using `u ∈ [0, 1)`.
/// Walk the cumulative distribution until it passes `u · Σ`.
pub fn draw(cands: &[Candidate], u: f64) -> u32 {
    let (max, sum) = softmax_norm(cands);
    let target = u * sum;
    let mut cum = 0.0f64;
    for c in cands {
        cum += ((c.logit - max) as f64).exp();
        if cum > target {
            return c.id;
        }
    }
    // Rounding can leave `target` a hair above the final sum: take the last finite candidate.
    cands
        .iter()
        .rev()
        .find(|c| c.logit.is_finite())
        .unwrap_or(&cands[0])
        .id
}
// ANCHOR_END: draw
