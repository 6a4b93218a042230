//! The decode kernels, one against another, on one thread: what each step of the decode race
//! bought. One "token" = the 210 matrix–vector products of SmolLM2-135M's 30 layers (Q4_1, 66 MB)
//! plus the output head (Q8_0, 30 MB), every matrix in its own memory, so the weights stream from
//! DRAM as in the real model. The variants run in turns (round-robin, best of the rounds), so a
//! slow phase of a shared machine does not land on one of them only.
//!
//! ```text
//! cargo bench --bench decode            # the table (~1 minute)
//! cargo bench --bench decode -- f32     # the F32 GEMV on the real SmolLM2 F32 file (~20 s)
//! ```
//!
//! Variants (all on the calling thread):
//! 1. the release before the race: `quant::dot_row` once per row;
//! 2. `quant::gemv::dot_rows_f32x8`: the same arithmetic, checks and type dispatch once per
//!    matrix (the kernel of a machine with AVX2 and no AVX-512);
//! 3. `quant::gemv::dot_rows`: AVX-512 where the build has it (16-lane registers, Q4 weights by
//!    table lookup), bit-identical to 1 and 2;
//! 4. 8-bit activations with the AVX2 integer kernel (`vpmaddubsw`), x quantized per product;
//! 5. 8-bit activations with the widest integer kernel (AVX-512 VNNI `vpdpbusd` where present).
//!
//! `-- f32` races the two F32 GEMVs on every matrix of `SmolLM2-135M-Instruct.F32.gguf` in the
//! data dir (538 MB, memory-mapped as decode maps it; skipped with a message if absent):
//! `dot_rows_f32x8` (= `matmul::matvec_simd`, two f32x8 accumulators per row) against
//! `dot_rows` (the same sums in one 16-lane register per row), checking on the first round that
//! both give the same bits.
//!
//! Under `cargo test` (which runs each bench once without `--bench`) a 2-layer token runs one
//! round, to check that the bench works.

use std::hint::black_box;
use std::time::Instant;

use glassbox::quant::gemv::{dot_rows, dot_rows_f32x8};
use glassbox::quant::q8act::{dot_rows_q8, Q8Act};
use glassbox::quant::{dot_row, quantize_row, DType};

const D: usize = 576;
const FFN: usize = 1536;
const KV: usize = 192;
const VOCAB: usize = 49152;

struct Mat {
    dtype: DType,
    rows: usize,
    cols: usize,
    bytes: Vec<u8>,
}

fn data(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32)
        .map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn mat(dtype: DType, rows: usize, cols: usize, seed: u32) -> Mat {
    // quantize a few distinct rows and repeat them: quantizing 96 MB row by row is slow, and
    // the kernels' speed does not depend on the values
    let distinct: Vec<Vec<u8>> = (0..16)
        .map(|r| quantize_row(dtype, &data(cols, seed ^ r)))
        .collect();
    let bytes = (0..rows).flat_map(|r| distinct[r % 16].clone()).collect();
    Mat {
        dtype,
        rows,
        cols,
        bytes,
    }
}

/// One token's matrices: `layers` × (q, k, v, o, gate, up, down) in Q4_1, then the Q8_0 head.
fn token(layers: usize) -> Vec<Mat> {
    let shapes = [
        (D, D),
        (KV, D),
        (KV, D),
        (D, D),
        (FFN, D),
        (FFN, D),
        (D, FFN),
    ];
    let mut m = Vec::new();
    for l in 0..layers {
        for (i, &(r, c)) in shapes.iter().enumerate() {
            m.push(mat(DType::Q4_1, r, c, (l * 7 + i) as u32));
        }
    }
    m.push(mat(DType::Q8_0, VOCAB, D, 99));
    m
}

type Variant = (&'static str, fn(&Mat, &[f32], &mut Q8Act, &mut [f32]));

fn variants() -> Vec<Variant> {
    vec![
        ("release: dot_row per row", |m, x, _, out| {
            let rb = m.dtype.row_bytes(m.cols).unwrap();
            for (o, row) in out.iter_mut().zip(m.bytes.chunks_exact(rb)) {
                *o = dot_row(m.dtype, row, x);
            }
        }),
        ("dot_rows_f32x8 (AVX2)", |m, x, _, out| {
            dot_rows_f32x8(m.dtype, &m.bytes, x, out)
        }),
        ("dot_rows (widest SIMD)", |m, x, _, out| {
            dot_rows(m.dtype, &m.bytes, x, out)
        }),
        ("q8 activations, AVX2", |m, x, xq, out| {
            xq.quantize(x);
            #[cfg(all(
                target_arch = "x86_64",
                target_feature = "avx2",
                target_feature = "fma"
            ))]
            glassbox::quant::q8act::dot_rows_q8_avx2(m.dtype, &m.bytes, xq, out);
            #[cfg(not(all(
                target_arch = "x86_64",
                target_feature = "avx2",
                target_feature = "fma"
            )))]
            dot_rows_q8(m.dtype, &m.bytes, xq, out);
        }),
        ("q8 activations, widest", |m, x, xq, out| {
            xq.quantize(x);
            dot_rows_q8(m.dtype, &m.bytes, xq, out);
        }),
    ]
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    if std::env::args().any(|a| a == "f32") {
        return f32_file(if benching { 30 } else { 1 });
    }
    let (layers, rounds) = if benching { (30, 15) } else { (2, 1) };
    let mats = token(layers);
    let bytes: usize = mats.iter().map(|m| m.bytes.len()).sum();
    let x = data(FFN, 7);
    let mut out = vec![0.0f32; VOCAB];
    let mut xq = Q8Act::default();
    let vs = variants();
    let mut best = vec![f64::MAX; vs.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in vs.iter().enumerate() {
            let t = Instant::now();
            for m in &mats {
                f(m, &x[..m.cols], &mut xq, &mut out[..m.rows]);
            }
            black_box(&out);
            best[i] = best[i].min(t.elapsed().as_secs_f64());
        }
    }
    // the memory bus for reference: a read-only sum over the same number of bytes
    let words: Vec<u64> = (0..bytes as u64 / 8).collect();
    let mut read = f64::MAX;
    for _ in 0..rounds.min(5) {
        let t = Instant::now();
        black_box(words.iter().fold(0u64, |a, &w| a.wrapping_add(w)));
        read = read.min(t.elapsed().as_secs_f64());
    }
    println!(
        "one token of SmolLM2-135M ({layers} layers Q4_1 + Q8_0 head, {:.1} MB), one thread, best of {rounds} rounds",
        bytes as f64 / 1e6
    );
    println!("| kernel | ms/token | GB/s | tok/s (products only) | vs release |");
    println!("|---|---:|---:|---:|---:|");
    for (i, (name, _)) in vs.iter().enumerate() {
        println!(
            "| {name} | {:.2} | {:.1} | {:.0} | {:.2}× |",
            best[i] * 1e3,
            bytes as f64 / best[i] / 1e9,
            1.0 / best[i],
            best[0] / best[i]
        );
    }
    println!(
        "| read-only sum of as many bytes | {:.2} | {:.1} | {:.0} | |",
        read * 1e3,
        bytes as f64 / read / 1e9,
        1.0 / read
    );
}

/// `dot_rows` or `dot_rows_f32x8`.
type F32Kernel = fn(DType, &[u8], &[f32], &mut [f32]);

/// The F32 GEMVs over every matrix of the real F32 file, as one decode token reads them (the
/// tied head is `token_embd`), alternated round by round; a read-only pass over the same
/// mapped bytes for the memory bus.
fn f32_file(rounds: usize) {
    let path = glassbox::data::data_dir().join("SmolLM2-135M-Instruct.F32.gguf");
    let g = match glassbox::formats::gguf::GgufFile::open(&path) {
        Ok(g) => g,
        Err(e) => return println!("skipped: {e} (scripts/decode_table.sh makes the F32 file)"),
    };
    // every F32 matrix (norm vectors left out): (bytes, rows, cols)
    let mats: Vec<(&[u8], usize, usize)> = g
        .tensors
        .iter()
        .filter(|t| t.type_id == 0 && t.rows_cols().0 > 1)
        .filter_map(|t| {
            let (off, len) = g.tensor_extent(t)?;
            let (rows, cols) = t.rows_cols();
            Some((&g.map()[off..off + len], rows, cols))
        })
        .collect();
    let bytes: usize = mats.iter().map(|m| m.0.len()).sum();
    let x = data(FFN, 7);
    let vs: [(&str, F32Kernel); 2] = [
        ("dot_rows_f32x8 (matvec_simd)", dot_rows_f32x8),
        ("dot_rows (16 lanes)", dot_rows),
    ];
    let mut outs = vec![vec![0.0f32; VOCAB]; vs.len()];
    let mut best = [f64::MAX; 2];
    for round in 0..rounds {
        for (i, (_, f)) in vs.iter().enumerate() {
            let t = Instant::now();
            for &(w, rows, cols) in &mats {
                f(DType::F32, w, &x[..cols], &mut outs[i][..rows]);
            }
            black_box(&outs[i]);
            best[i] = best[i].min(t.elapsed().as_secs_f64());
        }
        if round == 0 {
            // the last matrix (the head) from both; every matrix is checked in tests/kernels_gemv.rs
            let same = outs[0].iter().zip(&outs[1]);
            assert!(
                same.clone().all(|(a, b)| a.to_bits() == b.to_bits()),
                "F32 kernels differ"
            );
        }
    }
    let data_section = &g.map()[g.data_offset..];
    let mut read = f64::MAX;
    for _ in 0..rounds.min(10) {
        let t = Instant::now();
        let sum = data_section.chunks_exact(8).fold(0u64, |a, w| {
            a.wrapping_add(u64::from_le_bytes(w.try_into().unwrap()))
        });
        black_box(sum);
        read = read.min(t.elapsed().as_secs_f64());
    }
    println!(
        "one token's F32 products of {} ({} matrices, {:.1} MB, memory-mapped), one thread, best of {rounds} rounds",
        path.display(),
        mats.len(),
        bytes as f64 / 1e6
    );
    println!("| kernel | ms/token | GB/s | vs dot_rows_f32x8 |");
    println!("|---|---:|---:|---:|");
    for (i, (name, _)) in vs.iter().enumerate() {
        println!(
            "| {name} | {:.2} | {:.1} | {:.2}× |",
            best[i] * 1e3,
            bytes as f64 / best[i] / 1e9,
            best[0] / best[i]
        );
    }
    println!(
        "| read-only sum of the data section ({:.1} MB) | {:.2} | {:.1} | |",
        data_section.len() as f64 / 1e6,
        read * 1e3,
        data_section.len() as f64 / read / 1e9
    );
}
