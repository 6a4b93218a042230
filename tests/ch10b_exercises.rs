//! Chapter 10b exercises: predict what one decode step of SmolLM2-135M reads from memory, then
//! check with `cargo test --test ch10b_exercises`. Each `ANSWER_*` constant holds the correct
//! value; cover it, work the answer out, run the test. `--features solutions` prints the worked
//! answers.

use glassbox::quant::DType;

// Exercise 1. SmolLM2-135M-Instruct.Q4_1.gguf stores every matrix of its 30 layers as Q4_1
// (20 bytes per 32 weights) and the embedding, which is also the output head (tied), as Q8_0
// (34 bytes per 32). A decode step multiplies every layer matrix and the head once and reads
// one row of the embedding. How many bytes of weights does it read, the embedding row left out?
const ANSWER_1_BYTES: usize = 96_436_224;

// Exercise 2. If the machine streams 20 GB/s (20e9 bytes per second) from memory, at most how
// many tokens per second can decode reach on that file (rounded down)?
const ANSWER_2_TOK_S: u64 = 207;

/// SmolLM2-135M's shapes: hidden 576, 3 K/V heads of 64, FFN 1536, 30 layers, vocabulary 49152.
const D: usize = 576;
const KV: usize = 3 * 64;
const FFN: usize = 1536;
const LAYERS: usize = 30;
const VOCAB: usize = 49152;

/// Bytes of a `rows × cols` matrix stored as `dtype`.
fn bytes(dtype: DType, rows: usize, cols: usize) -> usize {
    rows * dtype
        .row_bytes(cols)
        .expect("cols is a multiple of the block")
}

/// Bytes one decode step reads: every layer matrix and the head, once.
fn decode_bytes() -> usize {
    let layer = 2 * bytes(DType::Q4_1, D, D) // q_proj, o_proj
        + 2 * bytes(DType::Q4_1, KV, D) // k_proj, v_proj
        + 2 * bytes(DType::Q4_1, FFN, D) // gate_proj, up_proj
        + bytes(DType::Q4_1, D, FFN); // down_proj
    LAYERS * layer + bytes(DType::Q8_0, VOCAB, D)
}

#[test]
fn exercise_1_bytes_per_token() {
    assert_eq!(decode_bytes(), ANSWER_1_BYTES);
}

#[test]
fn exercise_2_bandwidth_limit() {
    assert_eq!(20_000_000_000 / decode_bytes() as u64, ANSWER_2_TOK_S);
}

#[cfg(feature = "solutions")]
#[test]
fn solutions() {
    // 1. Per layer: q, o 576×576; k, v 192×576; gate, up 1536×576; down 576×1536.
    let per_layer = 2 * 576 * 576 + 2 * 192 * 576 + 3 * 1536 * 576;
    println!("1. per layer {per_layer} weights × 30 × 20/32 bytes + 49152×576 × 34/32 bytes");
    assert_eq!(
        30 * per_layer * 20 / 32 + 49152 * 576 * 34 / 32,
        ANSWER_1_BYTES
    );
    // 2. Every byte once per token: tokens/s ≤ bandwidth ÷ bytes per token.
    println!(
        "2. 20e9 / {ANSWER_1_BYTES} = {:.1}",
        20e9 / ANSWER_1_BYTES as f64
    );
    assert_eq!((20e9 / ANSWER_1_BYTES as f64) as u64, ANSWER_2_TOK_S);
}
