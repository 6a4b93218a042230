//! glassbox against Hugging Face `transformers` on the community gemma-3-270m Q4_K_M GGUF.
//!
//! The fixtures in `tests/fixtures/gemma/` were made by `scripts/fixtures_gemma.py` (versions
//! pinned there and in `meta.json`): the `gguf` package dequantizes every tensor of this same
//! file to f32, `Gemma3ForCausalLM` runs in f32 with a config built from the file's metadata,
//! on prompt ids from llama.cpp's tokenizer. glassbox keeps the weights quantized (Q4_K, Q5_0,
//! Q6_K, Q8_0, F32) and must give the same logits, the same greedy continuation up to the first
//! near-tie, and the same activations stage by stage in one local and one global layer.
//!
//! Two prompts are longer than the 512-position sliding window, so the local layers (window)
//! and the global ones (everything) see different contexts there; the longest also passes the
//! `window − 1 + 512` rows a local layer's ring keeps in a default session, so the ring wraps.
//! `the_sliding_window_matters_past_its_length` shows the window is not a no-op: the same model
//! with full attention on every layer misses the fixture by far more than the tolerance.
//!
//! The model comes from `data::gemma` (fetched once, ~253 MB; `glassbox pull --all`).

use std::path::{Path, PathBuf};

use glassbox::compare::max_abs_diff;
use glassbox::model::{Llama, Session};
use glassbox::rmsnorm::{rmsnorm_rows, rmsnorm_rows_inplace};
use glassbox::rope::{RopeLayout, RopeTable};
use glassbox::swiglu::glu_inplace;
use glassbox::weights::family::Family;

/// max |Δlogit| against transformers (the bound). Both compute the same f32 function
/// in a different order (quantized blocks dotted directly vs weights dequantized first,
/// different summation trees); 18 layers of that give < 1e-4 here (observed 2e-5 .. 8e-5 over the
/// 12 prompts, while f32 itself is 1.7e-5 from f64 on one, `meta.json`). A real bug (a wrong norm
/// offset, a wrong RoPE base, a window off by one) moves logits by far more than 0.1.
const LOGIT_TOL: f32 = 1e-2;

/// Stage activations, relative to the largest |value| of the reference vector (Gemma's
/// residual stream has a few dimensions in the hundreds or thousands, so an absolute bound
/// would be loose for the rest or fail on those). f32 in another summation order: observed
/// ≤ 7e-7 for every stage of both layers, so 1e-5 keeps a margin and still catches a wrong
/// norm offset, RoPE base or window (≥ 1e-2).
const STAGE_REL_TOL: f32 = 1e-5;

/// |hidden state| after each layer, relative: errors accumulate through the layers of the
/// whole pass (passed at 1e-3 and tightened without a per-layer measurement: 1e-4).
const HIDDEN_NORM_REL_TOL: f32 = 1e-4;

/// A greedy step whose top-1/top-2 gap (in transformers) is below this may go either way
/// within LOGIT_TOL; continuations are compared up to the first such step.
const NEAR_TIE: f32 = 2.0 * LOGIT_TOL;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gemma")
}

fn json(name: &str) -> serde_json::Value {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("fixture JSON")
}

fn model() -> Llama {
    let path = glassbox::data::gemma::gemma3_270m_q4_k_m()
        .expect("gemma-3-270m-q4_k_m.gguf (glassbox pull --all)");
    Llama::load(&path).expect("the Gemma 3 GGUF loads")
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn pairs(v: &serde_json::Value) -> Vec<(u32, f32)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap() as u32, p[1].as_f64().unwrap() as f32))
        .collect()
}

fn norm(x: &[f32]) -> f32 {
    x.iter().map(|v| v * v).sum::<f32>().sqrt()
}

#[test]
fn logits_hidden_states_and_greedy_match_transformers() {
    let m = model();
    assert_eq!(m.config.family.name(), "gemma3");
    let fx = json("prompts.json");
    let prompts = fx["prompts"].as_array().unwrap();
    assert!(prompts.len() >= 12, "a dozen prompts");
    let window = m.config.family.window(0).expect("layer 0 is local");
    let long = prompts
        .iter()
        .filter(|p| ids(&p["ids"]).len() > window + 64)
        .count();
    assert!(long >= 2, "two prompts are longer than the sliding window");
    let n_layers = m.config.num_hidden_layers;
    for p in prompts {
        let name = p["name"].as_str().unwrap();
        let prompt = ids(&p["ids"]);
        // the prompt ids are llama.cpp's; glassbox's tokenizer must agree
        let text = p["text"].as_str().unwrap();
        assert_eq!(
            m.tokenizer.encode_prompt(text),
            prompt,
            "{name}: prompt ids"
        );

        let greedy_want = ids(&p["greedy"]["ids"]);
        let gaps: Vec<f32> = p["greedy"]["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_f64().unwrap() as f32)
            .collect();
        let mut s = m.new_session(prompt.len() + greedy_want.len()).unwrap();
        s.set_capture(n_layers, true);
        let logits = m.forward(&mut s, &prompt).unwrap().to_vec();

        // logits: the top 32 and a seeded sample of 512 others
        let (top, sample) = (pairs(&p["top"]), pairs(&p["sample"]));
        let mut worst = 0.0f32;
        for &(id, want) in top.iter().chain(&sample) {
            let d = (logits[id as usize] - want).abs();
            worst = worst.max(d);
            assert!(
                d <= LOGIT_TOL,
                "{name}: logit of id {id}: got {}, want {want}",
                logits[id as usize]
            );
        }
        assert_eq!(
            glassbox::sampler::argmax(&logits),
            top[0].0,
            "{name}: top-1"
        );
        // the whole distribution's shape: logsumexp over all 262,144 logits
        let mx = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let lse = mx
            + logits
                .iter()
                .map(|&l| (l as f64 - mx).exp())
                .sum::<f64>()
                .ln();
        let lse_want = p["logsumexp"].as_f64().unwrap();
        assert!(
            (lse - lse_want).abs() <= LOGIT_TOL as f64,
            "{name}: logsumexp {lse} vs {lse_want}"
        );

        // hidden-state norms at the last position, after the embedding and every layer
        let want_norms: Vec<f32> = p["hidden_norms_last"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let got = s.captured().unwrap();
        // (the last entry is after the final norm in some transformers versions: not compared)
        for (l, w) in want_norms.iter().enumerate().take(n_layers) {
            let g = norm(got[l]);
            assert!(
                (g - w).abs() <= HIDDEN_NORM_REL_TOL * w.max(1.0),
                "{name}: |hidden| after {l} layers: {g} vs {w}"
            );
        }

        // greedy continuation, token by token over the KV-cache, up to the first near-tie
        let mut next = glassbox::sampler::argmax(&logits);
        let mut agreed = 0;
        for (step, (&want, &gap)) in greedy_want.iter().zip(&gaps).enumerate() {
            if gap < NEAR_TIE {
                break;
            }
            assert_eq!(next, want, "{name}: greedy step {step} (gap {gap:.3})");
            agreed += 1;
            next = glassbox::sampler::argmax(m.forward(&mut s, &[want]).unwrap());
        }
        println!(
            "{name:10} {:5} tokens: max |Δlogit| = {worst:.2e}, greedy equal for {agreed}/{} steps",
            prompt.len(),
            greedy_want.len()
        );
    }
}

/// One recorded stage of a layer: its name and values at the last position.
fn stages(layer: usize) -> Vec<(String, Vec<f32>)> {
    let meta = json("stages.json");
    let flat = glassbox::formats::npy::read_f32(dir().join(format!("stages_L{layer}.npy")))
        .expect("stages npy")
        .data;
    let mut at = 0;
    meta["stages"][format!("L{layer}")]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let (name, n) = (
                s[0].as_str().unwrap().to_string(),
                s[1].as_u64().unwrap() as usize,
            );
            at += n;
            (name, flat[at - n..at].to_vec())
        })
        .collect()
}

fn check(layer: usize, name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "layer {layer} {name}: length");
    let scale = want.iter().fold(0.0f32, |a, &b| a.max(b.abs())).max(1e-6);
    let (i, d) = max_abs_diff(got, want);
    println!(
        "layer {layer:2} {name:20} max |Δ| / max |ref| = {:.2e}",
        d / scale
    );
    assert!(
        d <= STAGE_REL_TOL * scale,
        "layer {layer} stage `{name}`: max |Δ| {d} at {i} (max |ref| {scale})"
    );
}

/// Every stage of one local layer (0) and one global layer (5), each computed by glassbox's
/// own pieces from transformers' previous stage (so a mismatch names the piece), plus the
/// layer's input and output inside glassbox's whole forward pass (which pins attention).
#[test]
fn stages_of_a_local_and_a_global_layer_match_transformers() {
    let m = model();
    let c = &m.config;
    let f = &c.family;
    let meta = json("stages.json");
    let prompt_name = meta["prompt"].as_str().unwrap();
    let fx = json("prompts.json");
    let p = fx["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == prompt_name)
        .unwrap();
    let prompt = ids(&p["ids"]);
    let pos = prompt.len() - 1;
    let mut s = m.new_session(prompt.len()).unwrap();
    s.set_capture(c.num_hidden_layers, true);
    m.forward(&mut s, &prompt).unwrap();
    let captured: Vec<Vec<f32>> = s.captured().unwrap().iter().map(|h| h.to_vec()).collect();

    let (d, hd, nh, nkv) = (
        c.hidden_size,
        c.head_dim(),
        c.num_attention_heads,
        c.num_key_value_heads,
    );
    let eps = c.rms_norm_eps;
    for layer in [0usize, 5] {
        assert_eq!(
            f.window(layer).is_some(),
            layer == 0,
            "layer 0 local, 5 global"
        );
        let st = stages(layer);
        let want = |n: &str| &st.iter().find(|(s, _)| s == n).expect(n).1;
        let w = &m.weights.layers[layer];
        let rms = |x: &[f32], weight: &[f32]| {
            let mut out = vec![0.0f32; x.len()];
            rmsnorm_rows(x, weight, eps, &mut out);
            out
        };
        let proj = |x: &[f32], mat: &glassbox::weights::tensor::WeightMatrix, rows: usize| {
            let mut out = vec![0.0f32; rows];
            mat.matmul(x, 1, &mut out);
            out
        };
        // the layer's input and output inside glassbox's own forward pass
        check(
            layer,
            "layer_in (forward)",
            &captured[layer],
            want("layer_in"),
        );
        check(layer, "out (forward)", &captured[layer + 1], want("out"));

        let x = want("layer_in");
        check(
            layer,
            "attn_norm",
            &rms(x, &w.input_layernorm.weight),
            want("attn_norm"),
        );
        let h = want("attn_norm");
        check(layer, "q", &proj(h, &w.q_proj, nh * hd), want("q"));
        check(layer, "k", &proj(h, &w.k_proj, nkv * hd), want("k"));
        check(layer, "v", &proj(h, &w.v_proj, nkv * hd), want("v"));
        let qk = w.qk_norm.as_ref().expect("Gemma has QK-norm");
        let mut q = want("q").clone();
        let mut k = want("k").clone();
        rmsnorm_rows_inplace(&mut q, &qk.q.weight, eps);
        rmsnorm_rows_inplace(&mut k, &qk.k.weight, eps);
        check(layer, "q_norm", &q, want("q_norm"));
        check(layer, "k_norm", &k, want("k_norm"));
        let theta = f.rope_theta(layer, c.rope_theta);
        let rope = RopeTable::new(hd, pos + 1, theta, None);
        let (mut q, mut k) = (want("q_norm").clone(), want("k_norm").clone());
        rope.apply_rows(&mut q, nh, pos, RopeLayout::HalfSplit);
        rope.apply_rows(&mut k, nkv, pos, RopeLayout::HalfSplit);
        check(layer, "q_rope", &q, want("q_rope"));
        check(layer, "k_rope", &k, want("k_rope"));
        let o = proj(want("attention"), &w.o_proj, d);
        check(layer, "o_proj", &o, want("o_proj"));
        let sw = w.sandwich.as_ref().expect("Gemma has sandwich norms");
        let pa = rms(want("o_proj"), &sw.after_attention.weight);
        check(
            layer,
            "post_attention_norm",
            &pa,
            want("post_attention_norm"),
        );
        let mid: Vec<f32> = x
            .iter()
            .zip(want("post_attention_norm"))
            .map(|(a, b)| a + b)
            .collect();
        check(layer, "residual_mid", &mid, want("residual_mid"));
        let hn = rms(want("residual_mid"), &w.post_attention_layernorm.weight);
        check(layer, "ffn_norm", &hn, want("ffn_norm"));
        let ffn = c.intermediate_size;
        check(
            layer,
            "gate",
            &proj(want("ffn_norm"), &w.gate_proj, ffn),
            want("gate"),
        );
        check(
            layer,
            "up",
            &proj(want("ffn_norm"), &w.up_proj, ffn),
            want("up"),
        );
        let mut act = want("gate").clone();
        glu_inplace(f.activation(), &mut act, want("up"));
        check(layer, "act_up", &act, want("act_up"));
        check(
            layer,
            "down",
            &proj(want("act_up"), &w.down_proj, d),
            want("down"),
        );
        let pf = rms(want("down"), &sw.after_mlp.weight);
        check(layer, "post_ffw_norm", &pf, want("post_ffw_norm"));
        let out: Vec<f32> = want("residual_mid")
            .iter()
            .zip(want("post_ffw_norm"))
            .map(|(a, b)| a + b)
            .collect();
        check(layer, "out", &out, want("out"));
    }
}

/// The logits a forward pass gives, against the fixture's top 32 and 512 sampled ids:
/// (max |Δ|, whether the top-1 agrees).
fn against_fixture(logits: &[f32], p: &serde_json::Value) -> (f32, bool) {
    let (top, sample) = (pairs(&p["top"]), pairs(&p["sample"]));
    let worst = top
        .iter()
        .chain(&sample)
        .map(|&(id, want)| (logits[id as usize] - want).abs())
        .fold(0.0f32, f32::max);
    (worst, glassbox::sampler::argmax(logits) == top[0].0)
}

/// A prompt longer than the window must see less than everything in the local layers.
/// For each such prompt of the fixture:
/// 1. a session with 64-token prefill chunks: every local layer keeps `window − 1 + 64` rows,
///    fewer than the prompt (its ring wraps many times, writes cross its end), every global
///    layer one row per position; its logits still meet the transformers fixture;
/// 2. the same weights with the window moved past the context (full attention on every layer,
///    RoPE bases unchanged) miss the fixture by more than `WINDOW_EFFECT` — the fixture can
///    tell a windowed pass from a full one, so the first test's agreement means the window is
///    right, not merely harmless. A prompt that fits in the window gives the same logits both
///    ways.
#[test]
fn the_sliding_window_matters_past_its_length() {
    /// Full attention moves the long prompts' logits by 11.8 (654 tokens) and 12.7 (1,089
    /// tokens, top-1 changed) against the fixture, where the windowed pass is within 2e-5;
    /// 0.5 is 50 × LOGIT_TOL, far from rounding and far below the effect.
    const WINDOW_EFFECT: f32 = 0.5;
    /// Within the window both passes do the same arithmetic over rows laid out differently.
    const SAME_TOL: f32 = 1e-4;
    const CHUNK: usize = 64;

    let mut m = model();
    let window = m.config.family.window(0).expect("layer 0 is local");
    let n_layers = m.config.num_hidden_layers;
    let fx = json("prompts.json");
    let prompts = fx["prompts"].as_array().unwrap();
    let long: Vec<&serde_json::Value> = prompts
        .iter()
        .filter(|p| ids(&p["ids"]).len() > window + 64)
        .collect();
    assert!(long.len() >= 2, "two prompts longer than the window");
    let short = prompts
        .iter()
        .find(|p| p["name"] == "capital")
        .expect("a short prompt");

    // 1. windowed, small chunks: the ring stays at its size and wraps
    for p in &long {
        let (name, prompt) = (p["name"].as_str().unwrap(), ids(&p["ids"]));
        let mut s = Session::with_chunk(&m.config, prompt.len(), CHUNK).unwrap();
        for l in 0..n_layers {
            let want = match m.config.family.window(l) {
                Some(w) => w - 1 + CHUNK,
                None => prompt.len(),
            };
            assert_eq!(s.cache().layer_rows(l), want, "{name}: layer {l}'s rows");
        }
        assert!(window - 1 + CHUNK < prompt.len(), "{name}: the ring wraps");
        let (worst, top1) = against_fixture(m.forward(&mut s, &prompt).unwrap(), p);
        println!(
            "{name:10} {:5} tokens, window {window}, {CHUNK}-token chunks (local rings of {} rows): max |Δlogit| = {worst:.2e}",
            prompt.len(),
            window - 1 + CHUNK
        );
        assert!(worst <= LOGIT_TOL && top1, "{name}: windowed, chunked");
    }

    // 2. the window moved past the context: full attention on every layer
    let windowed = {
        let mut s = m.new_session(ids(&short["ids"]).len()).unwrap();
        m.forward(&mut s, &ids(&short["ids"])).unwrap().to_vec()
    };
    let Family::Gemma3(g) = &mut m.config.family else {
        panic!("a Gemma 3 file")
    };
    g.sliding_window = m.config.max_position_embeddings;
    for p in &long {
        let (name, prompt) = (p["name"].as_str().unwrap(), ids(&p["ids"]));
        let mut s = m.new_session(prompt.len()).unwrap();
        assert!((0..n_layers).all(|l| s.cache().layer_rows(l) == prompt.len()));
        let (worst, top1) = against_fixture(m.forward(&mut s, &prompt).unwrap(), p);
        println!(
            "{name:10} {:5} tokens, full attention on every layer: max |Δlogit| = {worst:.2e} (top-1 {})",
            prompt.len(),
            if top1 { "kept" } else { "changed" }
        );
        assert!(
            worst > WINDOW_EFFECT,
            "{name}: full attention should miss the windowed fixture, max |Δ| only {worst}"
        );
    }
    let mut s = m.new_session(ids(&short["ids"]).len()).unwrap();
    let full = m.forward(&mut s, &ids(&short["ids"])).unwrap();
    let (i, d) = max_abs_diff(full, &windowed);
    println!("capital: windowed vs full attention, max |Δlogit| = {d:.2e}");
    assert!(
        d <= SAME_TOL,
        "a prompt inside the window: max |Δ| {d} at {i}"
    );
}
