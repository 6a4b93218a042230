//! `glassbox bench --profile`: where one decode step's time goes, against the memory bound.
//!
//! Decoding one token reads every weight once (and the KV-cache of every layer), and does
//! about 2 FLOPs per weight: far too little arithmetic per byte to keep a core busy, so the
//! fastest a decode step can be is `bytes read per token ÷ memory bandwidth`. This report puts
//! the measured step times next to that bound:
//!
//! ```text
//! per step:  ms/token, share of the step, MB read per token, GB/s it reached
//! bound:     a read-only stream over 256 MiB on the same threads → GB/s → tok/s at most
//! ```
//!
//! The step times come from the session's [`Profile`]; the hand-off line is the part of the
//! matrix products' wall time that no thread spent computing (`wall − busy / threads`: waking
//! threads, handing out rows, waiting for the slowest).

use rayon::prelude::*;
use serde_json::{json, Value};
use std::time::Instant;

use crate::model::profile::{Profile, Step};
use crate::model::Llama;
use crate::swiglu::Activation;

/// The measured profile of the decode steps, per token.
pub struct DecodeProfile {
    /// (step, seconds per token, bytes read per token)
    pub rows: Vec<(Step, f64, f64)>,
    /// Seconds per token the matrix products spent not computing (hand-offs, waiting).
    pub handoff: f64,
    pub threads: usize,
    /// A read-only stream's bytes per second on `threads` threads.
    pub bandwidth: f64,
    /// The model's MLP activation, which names the gated-activation step (SwiGLU, GeGLU).
    pub activation: Activation,
}

impl DecodeProfile {
    /// Per-token times from `steps` (decode forwards only), the weights' bytes per step from
    /// the model, and the memory bandwidth measured now. `mean_ctx`: the mean number of
    /// cached positions a decode step attended to (its K and V rows are read once per token).
    pub fn new(
        model: &Llama,
        steps: &Profile,
        busy_ns: u64,
        threads: usize,
        mean_ctx: f64,
    ) -> DecodeProfile {
        let n = steps.forwards.max(1) as f64;
        let layer_bytes = |f: fn(&crate::weights::checkpoint::LayerWeights) -> usize| -> f64 {
            model.weights.layers.iter().map(f).sum::<usize>() as f64
        };
        let c = &model.config;
        let bytes = |s: Step| match s {
            Step::Qkv => layer_bytes(|w| {
                w.q_proj.bytes().len() + w.k_proj.bytes().len() + w.v_proj.bytes().len()
            }),
            Step::OProj => layer_bytes(|w| w.o_proj.bytes().len()),
            Step::GateUp => layer_bytes(|w| w.gate_proj.bytes().len() + w.up_proj.bytes().len()),
            Step::Down => layer_bytes(|w| w.down_proj.bytes().len()),
            Step::Head => model.head().bytes().len() as f64,
            // K and V rows (f32) of every layer and cached position
            Step::Attention => (2 * c.num_hidden_layers * c.kv_dim() * 4) as f64 * mean_ctx,
            _ => 0.0,
        };
        let rows: Vec<(Step, f64, f64)> = Step::ALL
            .iter()
            .map(|&s| (s, steps.seconds(s) / n, bytes(s)))
            .collect();
        let matrix_wall: f64 = rows.iter().filter(|r| r.0.is_matrix()).map(|r| r.1).sum();
        let busy = busy_ns as f64 * 1e-9 / n / threads as f64;
        DecodeProfile {
            rows,
            handoff: (matrix_wall - busy).max(0.0),
            threads,
            bandwidth: read_bandwidth(threads),
            activation: c.family.activation(),
        }
    }

    /// Seconds per token, all steps.
    pub fn total(&self) -> f64 {
        self.rows.iter().map(|r| r.1).sum()
    }

    /// Bytes read per token: the weights and the KV-cache.
    pub fn bytes(&self) -> f64 {
        self.rows.iter().map(|r| r.2).sum()
    }

    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .rows
            .iter()
            .map(|(s, t, b)| json!({"step": s.label(self.activation), "ms_per_token": t * 1e3, "bytes_per_token": b}))
            .collect();
        json!({
            "steps": steps,
            "handoff_ms_per_token": self.handoff * 1e3,
            "total_ms_per_token": self.total() * 1e3,
            "bytes_per_token": self.bytes(),
            "read_bandwidth_bytes_s": self.bandwidth,
            "bound_tok_s": self.bandwidth / self.bytes(),
        })
    }

    pub fn print(&self, p: usize, n: usize) {
        let total = self.total();
        println!(
            "decode profile: {n} steps per repeat after a {p}-token prompt, {} thread(s)",
            self.threads
        );
        println!("| step | ms/token | share | MB read/token | GB/s |");
        println!("|------|---------:|------:|--------------:|-----:|");
        for &(s, t, b) in &self.rows {
            let gbs = if b > 0.0 && t > 0.0 {
                format!("{:.1}", b / t / 1e9)
            } else {
                String::new()
            };
            let mb = if b > 0.0 {
                format!("{:.2}", b / 1e6)
            } else {
                String::new()
            };
            println!(
                "| {} | {:.3} | {:.1}% | {mb} | {gbs} |",
                s.label(self.activation),
                t * 1e3,
                100.0 * t / total
            );
        }
        println!(
            "| **total** | **{:.3}** | 100% | {:.2} | {:.1} |",
            total * 1e3,
            self.bytes() / 1e6,
            self.bytes() / total / 1e9
        );
        println!(
            "\nof the products' time, hand-offs and waiting (wall − busy/threads): {:.3} ms/token ({:.1}%)",
            self.handoff * 1e3,
            100.0 * self.handoff / total
        );
        let bound = self.bandwidth / self.bytes();
        println!(
            "memory: a read-only stream over 256 MiB on {} thread(s) reads {:.1} GB/s here; {:.1} MB per token \
             → at most {bound:.0} tok/s. This run: {:.0} tok/s = {:.0}% of that bound.",
            self.threads,
            self.bandwidth / 1e9,
            self.bytes() / 1e6,
            1.0 / total,
            100.0 / total / bound
        );
    }
}

/// Bytes per second of a read-only sum over 256 MiB (8× a large L3) on `threads` threads, the
/// best of 5: what the memory bus delivers to a loop that only reads.
pub fn read_bandwidth(threads: usize) -> f64 {
    let words: usize = (256 << 20) / 8;
    let buf: Vec<u64> = (0..words as u64).collect();
    let chunk = words.div_ceil(threads.max(1));
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let s: u64 = buf
            .par_chunks(chunk)
            .map(|c| c.iter().fold(0u64, |a, &b| a.wrapping_add(b)))
            .reduce(|| 0, u64::wrapping_add);
        std::hint::black_box(s);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (words * 8) as f64 / best
}
