//! Lesson 5: why matmul is where the time goes, and how SIMD, tiling and threads close the gap.
//!
//! Times the three versions of `out = x · Wᵀ` (naive → SIMD → parallel) on this machine at two
//! of SmolLM2-135M's real shapes: one decode step through the FFN's gate projection (GEMV,
//! 576 → 1536) and a 128-token prefill through the same matrix (GEMM, 128 × 576 × 1536).
//!
//! Draws the six rates as a bar chart (to the path given, default `target/lessons/ch05-gflops.svg`;
//! `scripts/regenerate-book.sh` gives the book's).
//!
//! Run: `cargo run --release --example 05_matmul [-- picture.svg]`

use std::fmt::Write as _;
use std::time::Instant;

use glassbox::matmul::{
    matmul, matmul_naive, matmul_simd, matvec, matvec_naive, matvec_simd, simd_report,
};

// ANCHOR: flops
/// SmolLM2-135M's shapes, from its config (hidden_size, num_key_value_heads × head_dim,
/// intermediate_size, num_hidden_layers, vocab_size).
struct Shapes {
    d_model: u64,
    kv_dim: u64,
    ffn: u64,
    layers: u64,
    vocab: u64,
}

/// Floating-point operations of the matrix products for one token: every weight is used in one
/// multiply and one add, so a `[n, k]` matrix costs 2·n·k FLOPs per token. Per layer: q and o
/// (d × d each), k and v (kv_dim × d each), gate, up and down (ffn × d each); then the output
/// head (vocab × d; SmolLM2 ties it to the embedding, but the product is still done). The
/// embedding lookup is a copy, not a product, and attention's own QKᵀ and A·V (which grow with
/// the context) and the norms are left out.
fn flops_per_token(s: &Shapes) -> u64 {
    let per_layer = s.d_model * s.d_model   // q_proj
        + 2 * s.kv_dim * s.d_model          // k_proj, v_proj
        + s.d_model * s.d_model             // o_proj
        + 3 * s.ffn * s.d_model; //            gate_proj, up_proj, down_proj
    2 * (s.layers * per_layer + s.vocab * s.d_model)
}
// ANCHOR_END: flops

/// Best wall time of `reps` runs, in seconds (best-of: the machine is shared, noise only adds).
fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm caches and the thread pool
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn data(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32)
        .map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn main() -> glassbox::Result<()> {
    let mut rates: Vec<(&str, f64)> = Vec::new(); // (kernel, GFLOP/s) for the chart
    println!(
        "SIMD in this build: {simd_report}",
        simd_report = simd_report()
    );
    println!("rayon threads: {}\n", rayon::current_num_threads());

    let smollm2 = Shapes {
        d_model: 576,
        kv_dim: 3 * 64,
        ffn: 1536,
        layers: 30,
        vocab: 49152,
    };
    let f = flops_per_token(&smollm2);
    println!(
        "matmul FLOPs per token of SmolLM2-135M: {f} (= 2 × {} weights used in products)\n",
        f / 2
    );

    // ANCHOR: run
    let (k, n) = (576, 1536); // w: [1536, 576], the FFN's gate_proj
    let w = data(n * k, 1);
    let x = data(k, 2); // one token: [576]
    let mut want = vec![0.0f32; n];
    let mut got = vec![0.0f32; n];
    println!(
        "GEMV {k} → {n} (decode, one token), {:.1} MB of weights:",
        (n * k * 4) as f64 / 1e6
    );
    let flops = 2.0 * (n * k) as f64;
    let t = best_of(20, || matvec_naive(&w, &x, &mut want, n, k));
    rates.push(("naive", flops / t / 1e9));
    println!(
        "  naive     {:8.1} µs  {:6.1} GFLOP/s",
        t * 1e6,
        flops / t / 1e9
    );
    type Gemv = fn(&[f32], &[f32], &mut [f32], usize, usize);
    let mut gemv_rate = 0.0;
    for (name, f) in [("simd", matvec_simd as Gemv), ("parallel", matvec)] {
        let t = best_of(50, || f(&w, &x, &mut got, n, k));
        gemv_rate = flops / t;
        rates.push((name, flops / t / 1e9));
        let gbs = (n * k * 4) as f64 / t / 1e9;
        println!(
            "  {name:9} {:8.1} µs  {:6.1} GFLOP/s  {gbs:5.1} GB/s   max |Δ| vs naive {:.1e}",
            t * 1e6,
            flops / t / 1e9,
            max_diff(&got, &want)
        );
    }

    let m = 128; // a 128-token prompt: x: [128, 576] → out: [128, 1536]
    let xs = data(m * k, 3);
    let mut want = vec![0.0f32; m * n];
    let mut got = vec![0.0f32; m * n];
    println!("\nGEMM {m}×{k}×{n} (prefill, {m} tokens):");
    let flops = 2.0 * (m * n * k) as f64;
    let t = best_of(2, || matmul_naive(&xs, &w, &mut want, m, k, n));
    rates.push(("naive", flops / t / 1e9));
    println!(
        "  naive     {:8.2} ms  {:6.1} GFLOP/s",
        t * 1e3,
        flops / t / 1e9
    );
    type Gemm = fn(&[f32], &[f32], &mut [f32], usize, usize, usize);
    let mut gemm_rate = 0.0;
    for (name, f) in [("simd", matmul_simd as Gemm), ("parallel", matmul)] {
        let t = best_of(10, || f(&xs, &w, &mut got, m, k, n));
        gemm_rate = flops / t;
        rates.push((name, flops / t / 1e9));
        println!(
            "  {name:9} {:8.2} ms  {:6.1} GFLOP/s   max |Δ| vs naive {:.1e}",
            t * 1e3,
            flops / t / 1e9,
            max_diff(&got, &want)
        );
    }
    // ANCHOR_END: run
    // One token needs f FLOPs of products: at the GEMV rate (decode, f32 weights in cache) and
    // at the GEMM rate (prefill, where every weight is reused by all 128 tokens).
    println!(
        "\none token's {:.1} MFLOP of products: {:.2} ms at the parallel GEMV rate, {:.2} ms at the parallel GEMM rate",
        f as f64 / 1e6,
        f as f64 / gemv_rate * 1e3,
        f as f64 / gemm_rate * 1e3
    );

    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/lessons/ch05-gflops.svg".into());
    let path = std::path::Path::new(&path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| glassbox::Error::io(dir, e))?;
    }
    let groups = [
        ("GEMV 576 → 1536 (decode, 1 token)", &rates[..3]),
        ("GEMM 128 × 576 × 1536 (prefill)", &rates[3..]),
    ];
    glassbox::formats::file::write_atomic(path, chart(&groups).as_bytes())?;
    eprintln!("wrote the chart to {}", path.display());
    Ok(())
}

/// Two groups of three bars (naive, simd, parallel), GFLOP/s on one linear axis, each bar
/// labelled with its number.
fn chart(groups: &[(&str, &[(&str, f64)])]) -> String {
    let (w, h, base, top) = (900.0, 330.0, 270.0, 90.0);
    let max = groups
        .iter()
        .flat_map(|g| g.1.iter().map(|r| r.1))
        .fold(1.0, f64::max);
    let scale = (base - top) / max; // pixels per GFLOP/s
    let mut desc = String::new();
    for (g, bars) in groups {
        let _ = write!(desc, "{g}:");
        for (name, r) in bars.iter() {
            let _ = write!(desc, " {name} {r:.1}");
        }
        desc.push_str(" GFLOP/s. ");
    }
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" role="img" aria-label="GFLOP/s of naive, SIMD and parallel matmul measured by lessons/05_matmul.rs. {desc}"><title>GFLOP/s of naive, SIMD and parallel matmul on this machine. {desc}</title><rect width="100%" height="100%" fill="#fff"/><text x="{}" y="26" text-anchor="middle" font-size="16" font-weight="bold">naive → SIMD → threads, GFLOP/s measured by lessons/05_matmul.rs</text>"##,
        w / 2.0
    );
    let colours = ["#9e9e9e", "#1565c0", "#2e7d32"];
    for (gi, (title, bars)) in groups.iter().enumerate() {
        let x0 = 90.0 + gi as f64 * 440.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="66" text-anchor="middle" font-size="14">{title}</text>"#,
            x0 + 150.0
        );
        for (bi, (name, r)) in bars.iter().enumerate() {
            let (x, bh) = (x0 + bi as f64 * 110.0, (r * scale).max(1.0));
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{:.1}" width="80" height="{bh:.1}" fill="{}"/><text x="{}" y="{:.1}" text-anchor="middle" font-size="13">{r:.1}</text><text x="{}" y="{}" text-anchor="middle" font-size="13">{name}</text>"#,
                base - bh,
                colours[bi % 3],
                x + 40.0,
                base - bh - 6.0,
                x + 40.0,
                base + 18.0
            );
        }
    }
    let _ = write!(
        s,
        r##"<line x1="80" y1="{base}" x2="{}" y2="{base}" stroke="#444"/></svg>"##,
        w - 40.0
    );
    s
}
