//! Chapter 6b exercises: super-blocks and the Q4_K_M mix.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch06b_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the computed value beside yours. The reference solutions are in
//! `tests/solutions/ch06b.rs` (and the book's appendix); `cargo test --test ch06b_exercises
//! --features solutions` checks them.
//!
//! 1. **Predict the numbers.** Bits per weight of a Q4_K and of a Q6_K super-block?
//! 2. **Predict the mix.** Which type does llama.cpp's Q4_K_M give SmolLM2's
//!    `blk.0.ffn_down.weight` ([576, 1536] stored as dims [1536, 576]) and
//!    `blk.4.attn_q.weight` (dims [576, 576])? (30 layers; the embedding is the head.)
//! 3. **Make it pass.** Write `answer::dequantize_q4_k_block`: the 144 bytes of one Q4_K
//!    super-block → its 256 weights. The test compares it with `quant::dequantize_row` on
//!    random blocks, bit for bit.

use glassbox::quant::mix::{tensor_type, FileType, TensorFacts};
use glassbox::quant::{self, DType};
use rand::{Rng, SeedableRng};

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    use glassbox::quant::DType;

    /// Exercise 1: (bits per weight of Q4_K, bits per weight of Q6_K).
    pub fn bits_per_weight() -> (f64, f64) {
        todo!("exercise 1: bytes of one super-block × 8 / its 256 weights (chapter 6b's layouts)")
    }

    /// Exercise 2: (the type of blk.0.ffn_down.weight, the type of blk.4.attn_q.weight) in a
    /// Q4_K_M file of SmolLM2.
    pub fn q4_k_m_mix() -> (DType, DType) {
        todo!(
            "exercise 2: which layers get more bits, and what if a row is not whole super-blocks?"
        )
    }

    /// Exercise 3: one Q4_K super-block (f16 d, f16 dmin, 12 bytes of 6-bit scales and mins,
    /// 128 bytes of nibbles) → 256 weights.
    pub fn dequantize_q4_k_block(b: &[u8]) -> [f32; 256] {
        todo!("exercise 3: x = d·scale·q − dmin·min, sub-block by sub-block (eight of 32)")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch06b.rs"]
mod answer;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::bits_per_weight, then run with -- --ignored"
)]
fn exercise_1_bits_per_weight() {
    let (q4_k, q6_k) = answer::bits_per_weight();
    for (t, want) in [(DType::Q4_K, q4_k), (DType::Q6_K, q6_k)] {
        let got = 8.0 * t.bytes_per_block() as f64 / t.block_size() as f64;
        assert_eq!(
            want,
            got,
            "{t}: {} bytes per {} weights; your answer {want}",
            t.bytes_per_block(),
            t.block_size()
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::q4_k_m_mix, then run with -- --ignored"
)]
fn exercise_2_the_mix() {
    let facts = |name: &'static str, dims: &'static [u64]| TensorFacts {
        name,
        dims,
        n_layers: 30,
        n_gqa: 3,
        tied_embeddings: true,
    };
    let q = |f: TensorFacts| tensor_type(FileType::Q4_K_M, &f, false).unwrap();
    let got = (
        q(facts("blk.0.ffn_down.weight", &[1536, 576])),
        q(facts("blk.4.attn_q.weight", &[576, 576])),
    );
    let yours = answer::q4_k_m_mix();
    assert_eq!(
        yours, got,
        "your answer {yours:?}; (ffn_down 0, attn_q 4) = {got:?}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::dequantize_q4_k_block, then run with -- --ignored"
)]
fn exercise_3_a_super_block_by_hand() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(66);
    for _ in 0..50 {
        let mut b: Vec<u8> = (0..144).map(|_| rng.random()).collect();
        // finite scales: d and dmin in ±(2⁻¹⁰ … 2)
        for off in [0, 2] {
            let v = rng.random_range(-2.0f32..2.0);
            b[off..off + 2].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
        }
        let mut want = [0.0f32; 256];
        quant::dequantize_row(DType::Q4_K, &b, &mut want);
        let got = answer::dequantize_q4_k_block(&b);
        for i in 0..256 {
            assert_eq!(
                got[i].to_bits(),
                want[i].to_bits(),
                "element {i}: {} vs {}",
                got[i],
                want[i]
            );
        }
    }
}
