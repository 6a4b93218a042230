//! Chapter 10b exercises: predict what one decode step of SmolLM2-135M reads from memory, and
//! the speed limit that sets.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch10b_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the count from the stored types' own sizes beside yours. The
//! reference solutions are in `tests/solutions/ch10b.rs` (and the book's appendix);
//! `cargo test --test ch10b_exercises --features solutions` checks them.
//!
//! 1. **Bytes per token.** SmolLM2-135M-Instruct.Q4_1.gguf stores every matrix of its 30 layers
//!    as Q4_1 (20 bytes per 32 weights) and the embedding, which is also the output head (tied),
//!    as Q8_0 (34 bytes per 32). A decode step multiplies every layer matrix and the head once
//!    and reads one row of the embedding. How many bytes of weights does it read, the embedding
//!    row left out? (Shapes: hidden 576, 3 K/V heads of 64, FFN 1536, vocabulary 49,152.)
//! 2. **The speed limit.** If the machine streams 20 GB/s (20e9 bytes per second) from memory,
//!    at most how many tokens per second can decode reach on that file (rounded down)?

use glassbox::quant::DType;

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
mod answer {
    /// Exercise 1: bytes of weights one decode step reads.
    pub fn bytes_per_token() -> usize {
        todo!("exercise 1: weights per layer × 30 × Q4_1's bytes per weight, plus the Q8_0 head")
    }

    /// Exercise 2: the most tokens per second 20 GB/s allows.
    pub fn max_tokens_per_second() -> u64 {
        todo!("exercise 2: every byte once per token")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch10b.rs"]
mod answer;

/// SmolLM2-135M's shapes: hidden 576, 3 K/V heads of 64, FFN 1536, 30 layers, vocabulary 49152.
const D: usize = 576;
const KV: usize = 3 * 64;
const FFN: usize = 1536;
const LAYERS: usize = 30;
const VOCAB: usize = 49152;

/// Bytes of a `rows × cols` matrix stored as `dtype`, from the type's own block layout.
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
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::bytes_per_token, then run with -- --ignored"
)]
fn exercise_1_bytes_per_token() {
    let (yours, stored) = (answer::bytes_per_token(), decode_bytes());
    assert_eq!(
        yours, stored,
        "your answer {yours} bytes, the stored types say {stored}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::max_tokens_per_second, then run with -- --ignored"
)]
fn exercise_2_bandwidth_limit() {
    let (yours, limit) = (
        answer::max_tokens_per_second(),
        20_000_000_000 / decode_bytes() as u64,
    );
    assert_eq!(
        yours,
        limit,
        "your answer {yours} tok/s, 20e9 / {} = {limit}",
        decode_bytes()
    );
}
