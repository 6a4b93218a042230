//! Stage 8 · the training data: a corpus as one stream of token ids, a held-out part, and
//! batches of windows.
//!
//! ```text
//! files ──tokenizer──▶ ids (an end-of-text id between files, when the tokenizer has one)
//!       ──blocks of 4096 ids: every k-th to validation (k = 1/val_fraction)──▶ train, val
//! step s, micro-batch j ──PCG32(seed, s, j)──▶ `batch` random windows of seq + 1 ids
//!       inputs = window[0..seq], targets = window[1..seq + 1]
//! ```
//!
//! Validation blocks are spread over the whole corpus (the Brown corpus is sorted by genre: a
//! held-out tail would be all one genre). A batch depends only on the seed and the step, so a
//! run resumed from a checkpoint sees exactly the batches the uninterrupted run would have.

use std::path::PathBuf;

use crate::sampler::Pcg32;
use crate::tokenizer::Tokenizer;
use crate::train::model::Batch;
use crate::{Error, Result};

/// Ids per block when splitting off the validation set.
pub const SPLIT_BLOCK: usize = 4096;

/// A tokenized corpus, split.
#[derive(Clone, Debug)]
pub struct TokenData {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
}

/// Read and tokenize `files` (UTF-8), and split off about `val_fraction` of the ids.
pub fn load_corpus(files: &[PathBuf], tok: &Tokenizer, val_fraction: f64) -> Result<TokenData> {
    if !(0.0..0.5).contains(&val_fraction) {
        return Err(Error::invalid(format!(
            "--val-fraction {val_fraction}: must be in [0, 0.5)"
        )));
    }
    let mut ids = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::format(
                f,
                format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            )
        })?;
        ids.extend(tok.encode(&text));
        ids.extend(tok.eos_ids().first());
    }
    let mut data = TokenData {
        train: Vec::with_capacity(ids.len()),
        val: Vec::new(),
    };
    let every = if val_fraction > 0.0 {
        (1.0 / val_fraction).round() as usize
    } else {
        usize::MAX
    };
    for (i, block) in ids.chunks(SPLIT_BLOCK).enumerate() {
        let dst = if i % every == every - 1 {
            &mut data.val
        } else {
            &mut data.train
        };
        dst.extend_from_slice(block);
    }
    Ok(data)
}

/// Check that `ids` hold at least one window of `seq + 1`; `what` names the set in the error.
pub fn check_len(ids: &[u32], seq: usize, what: &str) -> Result<()> {
    if ids.len() < seq + 1 {
        return Err(Error::invalid(format!(
            "the {what} set has {} tokens, fewer than one window of --ctx {seq} + 1: \
             give more text or a smaller --ctx",
            ids.len()
        )));
    }
    Ok(())
}

/// The window starting at each of `starts`, as a batch.
fn windows(ids: &[u32], starts: impl Iterator<Item = usize>, seq: usize) -> Batch {
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    let mut batch = 0;
    for s in starts {
        inputs.extend_from_slice(&ids[s..s + seq]);
        targets.extend_from_slice(&ids[s + 1..s + seq + 1]);
        batch += 1;
    }
    Batch {
        inputs,
        targets,
        batch,
        seq,
    }
}

// ANCHOR: sample_batch
/// Micro-batch `micro` of step `step`: `batch` windows at random starts, from a generator
/// seeded by (seed, step, micro) alone. `ids` must hold at least `seq + 1` ids.
pub fn sample_batch(
    ids: &[u32],
    batch: usize,
    seq: usize,
    seed: u64,
    step: u64,
    micro: u64,
) -> Batch {
    let mix =
        seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ micro.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut rng = Pcg32::new(mix);
    let span = ids.len() - seq; // starts 0 ..= len − seq − 1
    let starts: Vec<usize> = (0..batch)
        .map(|_| ((rng.next_f64() * span as f64) as usize).min(span - 1))
        .collect();
    windows(ids, starts.into_iter(), seq)
}
// ANCHOR_END: sample_batch

/// The validation batches: `n_batches × batch` windows at evenly spaced starts (the same
/// windows at every evaluation, so the curve compares like with like).
pub fn val_batches(ids: &[u32], batch: usize, seq: usize, n_batches: usize) -> Vec<Batch> {
    let span = ids.len() - seq;
    let total = (batch * n_batches).max(1);
    let stride = (span / total).max(1);
    let starts: Vec<usize> = (0..total).map(|i| (i * stride).min(span - 1)).collect();
    starts
        .chunks(batch)
        .map(|c| windows(ids, c.iter().copied(), seq))
        .collect()
}
