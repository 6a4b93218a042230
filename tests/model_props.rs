//! Properties of the forward pass on small random Llamas (no download needed):
//!
//! * the fast path (chunked prefill of a prefix, then token-by-token decode over the
//!   KV-cache) gives the same logits at every position as one full causal forward pass done
//!   the naive way (`model::reference::forward_naive`), for F32 and quantized weights, tied and
//!   untied heads, GQA;
//! * the KV-cache allocates exactly what the formula says;
//! * bad input (an id outside the vocabulary, a sequence longer than the context, a context
//!   longer than the model allows) is an error before any work, never a panic.

use std::collections::BTreeMap;

use glassbox::compare::max_abs_diff;
use glassbox::model::reference::forward_naive;
use glassbox::model::{Llama, Session};
use glassbox::quant::DType;
use glassbox::tokenizer::{Pretokenizer, Tokenizer};
use glassbox::weights::config::LlamaConfig;
use glassbox::weights::family::Family;
use glassbox::weights::tensor::WeightMatrix;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Fast vs naive: the same f32 arithmetic summed in a different order (SIMD lanes, tiles,
/// quantized blocks dotted without first decoding them), through 2 layers. Logits here are
/// O(1); observed differences are ~1e-6, so 1e-4 catches any real bug (a wrong position, a
/// wrong head, a stale cache row all move logits by ≥ 1e-2).
const FAST_VS_NAIVE_TOL: f32 = 1e-4;

fn config(tied: bool, n_kv: usize) -> LlamaConfig {
    LlamaConfig {
        hidden_size: 64,
        intermediate_size: 96,
        num_attention_heads: 4,
        num_key_value_heads: n_kv,
        num_hidden_layers: 2,
        rms_norm_eps: 1e-5,
        rope_theta: 10000.0,
        rope_scaling: None,
        tie_word_embeddings: tied,
        vocab_size: 320,
        max_position_embeddings: 64,
        bos_token_id: None,
        eos_token_ids: vec![],
        family: Family::Llama,
    }
}

/// A random model: matrices uniform in ±1/√in (so activations stay O(1)), norms near 1.
fn random_model(seed: u64, dtype: DType, tied: bool, n_kv: usize) -> Llama {
    let c = config(tied, n_kv);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = BTreeMap::new();
    let mut mat = |t: &mut BTreeMap<String, WeightMatrix>,
                   name: String,
                   rows: usize,
                   cols: usize,
                   dt: DType| {
        let a = 1.0 / (cols as f32).sqrt();
        let data: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-a..a)).collect();
        t.insert(
            name.clone(),
            WeightMatrix::quantized_from_f32(name, dt, rows, cols, &data),
        );
    };
    let (d, ffn, v) = (c.hidden_size, c.intermediate_size, c.vocab_size);
    let (q_dim, kv_dim) = (c.num_attention_heads * c.head_dim(), c.kv_dim());
    mat(
        &mut t,
        "model.embed_tokens.weight".into(),
        v,
        d,
        DType::Q8_0,
    );
    for l in 0..c.num_hidden_layers {
        let p = format!("model.layers.{l}");
        mat(
            &mut t,
            format!("{p}.self_attn.q_proj.weight"),
            q_dim,
            d,
            dtype,
        );
        mat(
            &mut t,
            format!("{p}.self_attn.k_proj.weight"),
            kv_dim,
            d,
            dtype,
        );
        mat(
            &mut t,
            format!("{p}.self_attn.v_proj.weight"),
            kv_dim,
            d,
            dtype,
        );
        mat(
            &mut t,
            format!("{p}.self_attn.o_proj.weight"),
            d,
            q_dim,
            dtype,
        );
        mat(&mut t, format!("{p}.mlp.gate_proj.weight"), ffn, d, dtype);
        mat(&mut t, format!("{p}.mlp.up_proj.weight"), ffn, d, dtype);
        mat(&mut t, format!("{p}.mlp.down_proj.weight"), d, ffn, dtype);
    }
    if !tied {
        mat(&mut t, "lm_head.weight".into(), v, d, dtype);
    }
    let mut norms: Vec<String> = vec!["model.norm.weight".into()];
    for l in 0..c.num_hidden_layers {
        norms.push(format!("model.layers.{l}.input_layernorm.weight"));
        norms.push(format!("model.layers.{l}.post_attention_layernorm.weight"));
    }
    for name in norms {
        let data: Vec<f32> = (0..d).map(|_| rng.random_range(0.5..1.5)).collect();
        t.insert(name.clone(), WeightMatrix::from_f32(name, 1, d, data));
    }
    let tok = Tokenizer::from_merges(&[], Pretokenizer::Gpt2, &[]);
    Llama::from_tensors(c, t, tok).expect("the random model is well-formed")
}

fn random_ids(seed: u64, n: usize, vocab: usize) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37_79b9);
    (0..n).map(|_| rng.random_range(0..vocab as u32)).collect()
}

fn dtype_strategy() -> impl Strategy<Value = DType> {
    prop_oneof![
        Just(DType::F32),
        Just(DType::Q8_0),
        Just(DType::Q4_1),
        Just(DType::BF16)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// prefill(ids[..split]) then decode(ids[split]), decode(ids[split+1]), ... gives, at every
    /// step, the logits that one full causal pass gives at that position.
    #[test]
    fn prefill_then_decode_equals_full_causal_pass(
        seed in 0u64..1000,
        len in 2usize..24,
        split_frac in 0.0f64..1.0,
        chunk in 1usize..9,
        dtype in dtype_strategy(),
        tied in any::<bool>(),
        n_kv in prop_oneof![Just(1usize), Just(2), Just(4)],
    ) {
        let m = random_model(seed, dtype, tied, n_kv);
        let vocab = m.config.vocab_size;
        let ids = random_ids(seed, len, vocab);
        let full = forward_naive(&m, &ids).unwrap(); // [len, vocab]
        let split = 1 + ((len - 1) as f64 * split_frac) as usize; // 1 ..= len
        let mut s = Session::with_chunk(&m.config, 32, chunk).unwrap();
        let got = m.forward(&mut s, &ids[..split]).unwrap().to_vec();
        let (i, d) = max_abs_diff(&got, &full[(split - 1) * vocab..split * vocab]);
        prop_assert!(d <= FAST_VS_NAIVE_TOL, "prefill of {split}: max diff {d} at {i}");
        for t in split..len {
            let got = m.forward(&mut s, &ids[t..t + 1]).unwrap();
            let (i, d) = max_abs_diff(got, &full[t * vocab..(t + 1) * vocab]);
            prop_assert!(d <= FAST_VS_NAIVE_TOL, "decode at position {t}: max diff {d} at {i}");
        }
        prop_assert_eq!(s.len(), len);
    }
}

#[test]
fn reset_starts_a_new_sequence() {
    let m = random_model(7, DType::Q4_1, true, 2);
    let ids = random_ids(7, 10, m.config.vocab_size);
    let mut s = m.new_session(32).unwrap();
    let first = m.forward(&mut s, &ids).unwrap().to_vec();
    m.forward(&mut s, &ids[..3]).unwrap(); // continue the sequence with something else
    s.reset();
    let again = m.forward(&mut s, &ids).unwrap().to_vec();
    assert_eq!(
        first, again,
        "after reset the same prompt must give the same logits"
    );
}

#[test]
fn kv_cache_memory_matches_the_formula() {
    let m = random_model(1, DType::F32, true, 2);
    for ctx in [1, 17, 64] {
        let s = m.new_session(ctx).unwrap();
        // 2 (K and V) × layers × kv_heads × head_dim × positions × 4 bytes
        let formula = 2 * 2 * 2 * 16 * ctx * 4;
        assert_eq!(m.kv_cache_bytes(ctx), formula);
        assert_eq!(
            s.kv_cache_bytes(),
            formula,
            "allocated bytes for a context of {ctx}"
        );
    }
}

#[test]
fn bad_input_is_an_error_before_any_work() {
    let m = random_model(3, DType::Q8_0, false, 1);
    let mut s = m.new_session(8).unwrap();
    let e = m.forward(&mut s, &[1, 2, 320]).unwrap_err().to_string();
    assert!(e.contains("320") && e.contains("vocabulary"), "{e}");
    assert_eq!(s.len(), 0, "nothing was run");
    m.forward(&mut s, &[1, 2, 3, 4, 5]).unwrap();
    let e = m.forward(&mut s, &[1, 2, 3, 4]).unwrap_err().to_string();
    assert!(e.contains("context of 8"), "{e}");
    assert_eq!(s.len(), 5, "the cache is untouched by a refused call");
    assert!(m.forward(&mut s, &[]).is_err());
    let e = m.new_session(65).unwrap_err().to_string();
    assert!(e.contains("64"), "{e}");
    assert!(m.new_session(0).is_err());
}

#[test]
fn a_session_for_another_model_is_refused() {
    let a = random_model(1, DType::F32, true, 2);
    let b = random_model(1, DType::F32, true, 1); // different KV width
    let mut s = a.new_session(8).unwrap();
    assert!(b.forward(&mut s, &[1]).is_err());
}

#[test]
fn capture_holds_every_layer_of_the_last_position() {
    let m = random_model(5, DType::F32, true, 2);
    let ids = random_ids(5, 6, m.config.vocab_size);
    let mut s = m.new_session(16).unwrap();
    s.set_capture(m.config.num_hidden_layers, true);
    m.forward(&mut s, &ids).unwrap();
    let cap = s.captured().unwrap();
    assert_eq!(cap.len(), m.config.num_hidden_layers + 2);
    // row 0 is the embedding row of the last id
    let mut emb = vec![0.0; m.config.hidden_size];
    m.weights
        .embed_tokens
        .dequantize_row(*ids.last().unwrap() as usize, &mut emb);
    assert_eq!(cap[0], &emb[..]);
    // the last row is the final-normed state: the head applied to it gives the logits
    let mut logits = vec![0.0; m.config.vocab_size];
    m.head().matvec(cap[cap.len() - 1], &mut logits);
    assert_eq!(&logits[..], s.logits());
}
