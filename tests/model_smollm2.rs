//! glassbox against Hugging Face `transformers` on the real SmolLM2-135M-Instruct (GGUF Q4_1).
//!
//! The fixtures in `tests/fixtures/smollm2/` were made by `scripts/fixtures_model.py`
//! (versions pinned there and in `meta.json`): transformers dequantizes the GGUF to f32 and runs
//! an f32 forward pass on the prompt ids of SmolLM2's original tokenizer. glassbox keeps the
//! weights quantized and must give the same logits, hidden states and greedy continuation.
//!
//! The model comes from `data::default_model()` (downloaded on first use; set
//! `GLASSBOX_DATA` to a directory that already holds it).

mod common;

use common::{fixtures, load_gguf, Prompt};
use glassbox::compare::max_abs_diff;
use glassbox::model::Llama;

/// max |Δlogit| against transformers. The two compute the same f32 function in a different
/// order (quantized blocks dotted directly vs weights dequantized first, different summation
/// trees, SIMD lanes); a float64 pass differs from transformers' f32 one by ~5e-5 (meta.json),
/// and 30 layers of f32 rounding in a different order give a few 1e-4. 1e-2 leaves room for
/// that while any real bug (a wrong RoPE pair, a wrong KV head, a missed norm weight) moves
/// logits by far more than 0.1.
const LOGIT_TOL: f32 = 1e-2;

/// Hidden states, relative to the largest |value| of the vector: the residual stream of
/// SmolLM2 has a few dimensions in the tens to hundreds, so an absolute bound would either be
/// loose for the small dimensions or fail on the large ones. Same reasoning as LOGIT_TOL.
const HIDDEN_REL_TOL: f32 = 1e-4;

fn check_logits(m: &Llama, p: &Prompt, dir: &std::path::Path) -> f32 {
    let mut s = m.new_session(p.ids.len() + 1).unwrap();
    let logits = m.forward(&mut s, &p.ids).unwrap();
    let mut worst = 0.0f32;
    for &(id, want) in &p.top {
        let d = (logits[id as usize] - want).abs();
        worst = worst.max(d);
        assert!(
            d <= LOGIT_TOL,
            "{}: logit of id {id}: got {}, want {want}",
            p.name,
            logits[id as usize]
        );
    }
    assert_eq!(
        glassbox::sampler::argmax(logits),
        p.top[0].0,
        "{}: top-1 id",
        p.name
    );
    if let Some(full) = p.full_logits(dir) {
        let (i, d) = max_abs_diff(logits, &full);
        println!("{:10} full logits: max |Δ| = {d:.2e} at id {i}", p.name);
        glassbox::compare::assert_close(&format!("{} logits", p.name), logits, &full, LOGIT_TOL);
        worst = worst.max(d);
    }
    worst
}

#[test]
fn logits_match_transformers_for_every_prompt() {
    let (dir, prompts) = fixtures();
    let m = load_gguf();
    for p in &prompts {
        let worst = check_logits(&m, p, &dir);
        println!(
            "{:10} {:4} tokens: max |Δlogit| = {worst:.2e}",
            p.name,
            p.ids.len()
        );
    }
}

#[test]
fn hidden_states_match_transformers() {
    let (dir, prompts) = fixtures();
    let m = load_gguf();
    let n = m.config.num_hidden_layers;
    for p in &prompts {
        let want = glassbox::formats::npy::read_f32(dir.join(&p.hidden_npy)).unwrap(); // [3, d]
        let d = m.config.hidden_size;
        assert_eq!(want.shape, vec![3, d]);
        let mut s = m.new_session(p.ids.len()).unwrap();
        s.set_capture(n, true);
        m.forward(&mut s, &p.ids).unwrap();
        let cap = s.captured().unwrap();
        for (row, (name, got)) in [
            ("embedding", cap[0]),
            ("layer 0", cap[1]),
            ("final norm", cap[n + 1]),
        ]
        .iter()
        .enumerate()
        {
            let w = &want.data[row * d..(row + 1) * d];
            let scale = w.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let (i, diff) = max_abs_diff(got, w);
            println!(
                "{:10} {name:10}: max |Δ| = {diff:.2e} at {i} (max |x| = {scale:.1})",
                p.name
            );
            glassbox::compare::assert_close(
                &format!("{} {name}", p.name),
                got,
                w,
                HIDDEN_REL_TOL * scale,
            );
        }
        // The norm after every layer, against transformers' hidden_states: its entries 0..n are
        // the embedding and layers 0..n-2; its last one (n) is already normed, so it pairs with
        // our row n + 1 (after the final norm), and our row n (layer n-1, un-normed) has no twin.
        assert_eq!(p.hidden_norms_last.len(), n + 1);
        let ours = (0..n).map(|r| cap[r]).chain([cap[n + 1]]);
        for (r, (&want_norm, got)) in p.hidden_norms_last.iter().zip(ours).enumerate() {
            let got_norm = got.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!(
                (got_norm - want_norm).abs() <= HIDDEN_REL_TOL * want_norm,
                "{} hidden-state norm {r}: got {got_norm}, want {want_norm}",
                p.name
            );
        }
    }
}

#[test]
fn greedy_continuation_matches_transformers() {
    let (_, prompts) = fixtures();
    let m = load_gguf();
    for p in &prompts {
        let got = common::greedy(&m, &p.ids, p.greedy.len());
        assert_eq!(got, p.greedy, "{}: greedy continuation", p.name);
    }
}

/// The same checks through the other loading path: the GGUF converted to a Hugging Face
/// directory (f32 safetensors, `glassbox::weights::convert`), then loaded from there. The
/// weights are the dequantized Q4_1/Q8_0 values, exactly what transformers computed with.
#[test]
fn converted_safetensors_path_matches_transformers() {
    use glassbox::weights::convert::{convert_gguf, OutDType};
    let (dir, prompts) = fixtures();
    let gguf = glassbox::data::default_model().expect("the default model");
    let out = std::env::temp_dir().join(format!("glassbox-model-test-{}", std::process::id()));
    convert_gguf(&gguf, &out, OutDType::F32).expect("convert to safetensors");
    let m = Llama::load(&out).expect("load the converted directory");
    for p in &prompts {
        let worst = check_logits(&m, p, &dir);
        println!("{:10} safetensors f32: max |Δlogit| = {worst:.2e}", p.name);
        let got = common::greedy(&m, &p.ids, p.greedy.len());
        assert_eq!(
            got, p.greedy,
            "{}: greedy continuation (safetensors)",
            p.name
        );
    }
    drop(m); // unmap before deleting
    std::fs::remove_dir_all(&out).ok();
}

/// glassbox's own tokenizer gives the original SmolLM2 tokenizer's ids for every prompt
/// (special-token text recognised), so `glassbox logits --prompt` sees what the fixtures saw.
#[test]
fn prompt_ids_match_the_original_tokenizer() {
    let (_, prompts) = fixtures();
    let m = load_gguf();
    for p in &prompts {
        assert_eq!(
            m.tokenizer.encode_with_special(&p.text),
            p.ids,
            "{}: prompt ids",
            p.name
        );
    }
}
