//! Chapter 6b exercises: `cargo test --test ch06b_exercises`.
//!
//! The answers below are filled in so that the book's CI stays green. Cover them up, write your
//! own, and run the test. The reference answers are behind the `solutions` feature:
//! `cargo test --test ch06b_exercises --features solutions`.
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

#[cfg(not(feature = "solutions"))]
mod answer {
    use glassbox::quant::DType;

    pub const Q4_K_BITS: f64 = 4.5;
    pub const Q6_K_BITS: f64 = 6.5625;
    pub const FFN_DOWN_0: DType = DType::Q6_K;
    pub const ATTN_Q_4: DType = DType::Q5_0;

    pub fn dequantize_q4_k_block(b: &[u8]) -> [f32; 256] {
        let f16 = |i: usize| half::f16::from_le_bytes([b[i], b[i + 1]]).to_f32();
        let (d, dmin) = (f16(0), f16(2));
        let s = &b[4..16];
        let scale_min = |j: usize| {
            if j < 4 {
                (s[j] & 63, s[j + 4] & 63)
            } else {
                (
                    (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4),
                    (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
                )
            }
        };
        std::array::from_fn(|i| {
            let (sc, m) = scale_min(i / 32);
            let byte = b[16 + 32 * (i / 64) + i % 32];
            let q = if (i / 32) % 2 == 0 {
                byte & 15
            } else {
                byte >> 4
            };
            (d * sc as f32) * q as f32 - dmin * m as f32
        })
    }
}

#[cfg(feature = "solutions")]
mod answer {
    use glassbox::quant::DType;

    /// 144 bytes × 8 bits / 256 weights; 210 × 8 / 256.
    pub const Q4_K_BITS: f64 = 144.0 * 8.0 / 256.0;
    pub const Q6_K_BITS: f64 = 210.0 * 8.0 / 256.0;
    /// Layer 0 is in the first eighth: "more bits" → Q6_K, and 1536 is 6 super-blocks wide.
    pub const FFN_DOWN_0: DType = DType::Q6_K;
    /// Q4_K, but 576 = 2.25 super-blocks: the fallback for Q4_K is Q5_0.
    pub const ATTN_Q_4: DType = DType::Q5_0;

    /// d, dmin (f16), 12 bytes of packed 6-bit (scale, min), 128 bytes of nibbles in four
    /// groups of 32: byte l of group g is element 64g + l (low) and 64g + 32 + l (high).
    pub fn dequantize_q4_k_block(b: &[u8]) -> [f32; 256] {
        let f16 = |i: usize| half::f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]])).to_f32();
        let (d, dmin) = (f16(0), f16(2));
        let s = &b[4..16];
        let mut out = [0.0f32; 256];
        for j in 0..8 {
            let (sc, m) = if j < 4 {
                (s[j] & 0x3F, s[j + 4] & 0x3F)
            } else {
                (
                    (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
                    (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
                )
            };
            let (dl, ml) = (d * sc as f32, dmin * m as f32);
            let group = &b[16 + 32 * (j / 2)..16 + 32 * (j / 2) + 32];
            for l in 0..32 {
                let q = if j % 2 == 0 {
                    group[l] & 0x0F
                } else {
                    group[l] >> 4
                };
                out[32 * j + l] = dl * q as f32 - ml;
            }
        }
        out
    }
}

#[test]
fn exercise_1_bits_per_weight() {
    for (t, want) in [
        (DType::Q4_K, answer::Q4_K_BITS),
        (DType::Q6_K, answer::Q6_K_BITS),
    ] {
        let got = 8.0 * t.bytes_per_block() as f64 / t.block_size() as f64;
        assert_eq!(
            want,
            got,
            "{t}: {} bytes per {} weights",
            t.bytes_per_block(),
            t.block_size()
        );
    }
}

#[test]
fn exercise_2_the_mix() {
    let facts = |name: &'static str, dims: &'static [u64]| TensorFacts {
        name,
        dims,
        n_layers: 30,
        n_gqa: 3,
        tied_embeddings: true,
    };
    let q = |f: TensorFacts| tensor_type(FileType::Q4_K_M, &f, false).unwrap();
    assert_eq!(
        q(facts("blk.0.ffn_down.weight", &[1536, 576])),
        answer::FFN_DOWN_0
    );
    assert_eq!(
        q(facts("blk.4.attn_q.weight", &[576, 576])),
        answer::ATTN_Q_4
    );
}

#[test]
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
