//! glassbox's BERT encoder against sentence-transformers on the real all-MiniLM-L6-v2.
//!
//! The fixtures in `tests/fixtures/minilm/` were made by `scripts/fixtures_minilm.py` (versions
//! pinned there and in sentences.json): `SentenceTransformer(dir).encode(sentences)` on PyTorch
//! CPU in f32, batch 32 (padded, masked). glassbox packs its batches (no padding at all) and must
//! give the same vectors, in one batch and one sentence at a time.
mod encoder_common;

use encoder_common::{minilm, sentences};
use glassbox::compare::{assert_close, max_abs_diff};
use glassbox::model::bert::cosine;
use glassbox::model::bert_reference::embed_ids_padded;

/// The bar: every sentence vector within cosine 0.99999 of sentence-transformers', and
/// no component off by more than 1e-4. Both sides compute the same f32 function in a different
/// order (PyTorch's oneDNN GEMM vs ours, a different erf, a different softmax summation); six
/// layers of that move a unit vector's components by ~1e-6, so a real bug (a wrong head split,
/// a missed bias, pooling over padding, the tanh GELU) fails by orders of magnitude.
const MIN_COSINE: f32 = 0.99999;
const MAX_ABS: f32 = 1e-4;

fn check(name: &str, got: &[f32], want: &[f32]) -> (f32, f32) {
    let cos = cosine(got, want);
    let (i, d) = max_abs_diff(got, want);
    assert!(
        cos >= MIN_COSINE && d <= MAX_ABS,
        "{name}: cosine {cos:.7}, max |Δ| {d:.2e} at component {i} (got {}, want {})",
        got[i],
        want[i]
    );
    (cos, d)
}

#[test]
fn embeddings_equal_sentence_transformers_batched_and_one_by_one() {
    let m = minilm();
    let s = sentences();
    assert!(s.len() >= 50, "{} sentences", s.len());
    // the ids the model saw are the ids sentence-transformers fed it (truncated to 256)
    for x in &s {
        assert_eq!(m.encode(&x.text), x.ids, "ids of {:?}", x.text);
    }
    let texts: Vec<&str> = s.iter().map(|x| x.text.as_str()).collect();
    let batched = m.embed(&texts).expect("one batch");
    let (mut worst_cos, mut worst_abs) = (1.0f32, 0.0f32);
    for (x, got) in s.iter().zip(&batched) {
        let one = m.embed(&[x.text.as_str()]).expect("alone").remove(0);
        for (how, v) in [("batched", got), ("alone", &one)] {
            let (c, d) = check(&format!("{how} {:?}", x.text), v, &x.embedding);
            worst_cos = worst_cos.min(c);
            worst_abs = worst_abs.max(d);
        }
        // the batch a sentence is in changes at most the rounding of the GEMMs
        assert_close(&format!("batched vs alone {:?}", x.text), got, &one, 1e-5);
    }
    println!(
        "{} sentences: min cosine {worst_cos:.7}, max |Δ| {worst_abs:.2e}",
        s.len()
    );
}

/// The encoder's per-token output for sentence 0, before pooling (tells an encoder bug from a
/// pooling bug). LayerNorm makes the values O(1); same reasoning as MAX_ABS, scaled to them.
#[test]
fn token_states_equal_sentence_transformers() {
    let m = minilm();
    let s = &sentences()[0];
    let want =
        glassbox::formats::npy::read_f32(encoder_common::fixture_dir().join("tokens_first.npy"))
            .expect("tokens_first.npy");
    assert_eq!(want.shape, [s.ids.len(), m.dim()]);
    let got = m.forward(std::slice::from_ref(&s.ids)).expect("forward");
    assert_close("last hidden state", &got, &want.data, 1e-3);
    println!(
        "token states: max |Δ| = {:.2e}",
        max_abs_diff(&got, &want.data).1
    );
}

/// Both paths sit within ~5e-7 of sentence-transformers (sequential f32 sums in the reference,
/// blocked SIMD sums in the fast path); padding that leaked into attention or pooling would
/// move a component by ~1e-2.
const PADDED_TOL: f32 = 1e-5;

/// Packed (no padding) equals PyTorch's way (padded rectangle, additive −∞ mask, masked mean)
/// computed with every naive kernel: padding changes nothing.
#[test]
fn packed_equals_padded_reference() {
    let m = minilm();
    let s = sentences();
    let batch: Vec<Vec<u32>> = [40, 3, 16, 0].iter().map(|&i| s[i].ids.clone()).collect();
    let fast = m.embed_ids(&batch).expect("packed");
    let slow = embed_ids_padded(m, &batch).expect("padded");
    for (i, (f, r)) in fast.iter().zip(&slow).enumerate() {
        let (_, vs_st) = max_abs_diff(r, &s[[40, 3, 16, 0][i]].embedding);
        println!("sentence {i}: padded reference vs sentence-transformers max |Δ| {vs_st:.2e}");
        assert_close(&format!("packed vs padded, sentence {i}"), f, r, PADDED_TOL);
    }
}

/// Non-causality: change any one token and every other token's output changes, including the
/// ones *before* it (a decoder's earlier positions would not move at all).
#[test]
fn every_token_sees_every_other() {
    let m = minilm();
    let ids = m.encode("the cat sat on the warm mat");
    let base = m.forward(std::slice::from_ref(&ids)).expect("forward");
    let d = m.dim();
    let replacement = m
        .tokenizer
        .token_id("dog")
        .expect("\"dog\" is in the vocabulary");
    for j in 1..ids.len() - 1 {
        let mut changed = ids.clone();
        changed[j] = replacement;
        let out = m.forward(std::slice::from_ref(&changed)).expect("forward");
        for t in (0..ids.len()).filter(|&t| t != j) {
            let (_, diff) = max_abs_diff(&base[t * d..(t + 1) * d], &out[t * d..(t + 1) * d]);
            assert!(
                diff > 1e-4,
                "token {t} did not change when token {j} did (max |Δ| {diff:e})"
            );
        }
    }
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let m = minilm();
    let e = m.forward(&[vec![]]).unwrap_err().to_string();
    assert!(e.contains("input 0") && e.contains("tokens"), "{e}");
    let e = m
        .forward(&[vec![101, 102], vec![101, 999_999, 102]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("input 1") && e.contains("999999"), "{e}");
    let e = m.forward(&[vec![101; 513]]).unwrap_err().to_string();
    assert!(e.contains("513") && e.contains("512"), "{e}");
}
