//! The decode race must not move the logits: the fast decode kernels against the logits of the
//! release they replaced, on the real SmolLM2-135M-Instruct (GGUF Q4_1) and the stage-3 prompts.
//!
//! `tests/fixtures/smollm2/release_logits.npy` is `[2 × n_prompts, vocab]`: for each prompt of
//! `prompts.json` (in order), row `2i` = the last position's logits when the prompt runs as a
//! prefill (one forward pass over all ids), row `2i + 1` = the same logits when every id runs
//! as its own decode step (a session whose prefill chunk is 1 token, so every product in every
//! layer is a matrix–vector product: the decode path). It was written by the release before the
//! decode race (main at a58523f, `quant::dot_row` one row at a time) with
//!
//! ```text
//! GLASSBOX_WRITE_RELEASE_LOGITS=1 cargo test --release --test decode_release -- --ignored
//! ```
//!
//! and is never rewritten by the kernels it checks.
//!
//! The model comes from `weights::fetch::default_model()` (downloaded on first use).

mod common;

use common::{fixture_dir, fixtures, load_gguf};
use glassbox::compare::max_abs_diff;
use glassbox::model::{Llama, Session};
use glassbox::quant::q8act::Activations;

/// max |Δlogit| against the release, the bound of issue 10. The fast kernels are built to do
/// the release's arithmetic in the release's order (they are bit-identical on this machine);
/// the bound leaves room for a machine whose compiler or SIMD width orders a sum differently,
/// while a real bug (a wrong row, a wrong scale, a missed block) moves logits by far more.
const RELEASE_TOL: f32 = 1e-4;

const FIXTURE: &str = "release_logits.npy";

/// The last position's logits: the prompt as one prefill, then as one decode step per id.
fn both_paths(m: &Llama, ids: &[u32]) -> [Vec<f32>; 2] {
    let mut s = m.new_session(ids.len()).unwrap();
    let prefill = m.forward(&mut s, ids).unwrap().to_vec();
    let mut s = Session::with_chunk(&m.config, ids.len(), 1).unwrap();
    let decode = m.forward(&mut s, ids).unwrap().to_vec();
    [prefill, decode]
}

#[test]
fn logits_match_the_release_on_both_paths() {
    let (_, prompts) = fixtures();
    let want = glassbox::formats::npy::read_f32(fixture_dir().join(FIXTURE)).expect(FIXTURE);
    let m = load_gguf();
    let vocab = m.config.vocab_size;
    assert_eq!(want.shape, vec![2 * prompts.len(), vocab]);
    for (i, p) in prompts.iter().enumerate() {
        for (k, (path, got)) in ["prefill", "decode"]
            .iter()
            .zip(both_paths(&m, &p.ids))
            .enumerate()
        {
            let row = &want.data[(2 * i + k) * vocab..][..vocab];
            let (at, d) = max_abs_diff(&got, row);
            println!(
                "{:10} {path:7}: max |Δlogit| vs release = {d:.2e} at id {at}",
                p.name
            );
            glassbox::compare::assert_close(
                &format!("{} {path} logits vs release", p.name),
                &got,
                row,
                RELEASE_TOL,
            );
        }
    }
}

/// The opt-in 8-bit activations (`--activations q8`) change the logits: x is rounded to 8 bits
/// per block of 32 before every product. Measured here on the decode path (every id its own
/// step, so every product is a q8 one) against the f32 path (the release's decode logits) and
/// against transformers (the stage-3 fixtures: top ids everywhere, full logits where stored).
/// The bound is not the 1e-2 of the f32 path (the test prints whether q8 meets that one): it
/// is a regression guard. Measured on this machine: 0.61–0.77 on five prompts and 1.30 on
/// `chat` (whose top-1 id changes), both against the f32 path and transformers; the guard is
/// about 1.5 × the worst, while a broken kernel (a wrong scale, a missed offset term, a wrong
/// block) moves logits by many units.
const Q8_GUARD: f32 = 2.0;

#[test]
fn q8_activations_difference_is_measured() {
    let (dir, prompts) = fixtures();
    let want = glassbox::formats::npy::read_f32(fixture_dir().join(FIXTURE)).expect(FIXTURE);
    let m = load_gguf();
    let vocab = m.config.vocab_size;
    let (mut worst_f32, mut worst_hf) = (0.0f32, 0.0f32);
    for (i, p) in prompts.iter().enumerate() {
        let mut s = Session::with_chunk(&m.config, p.ids.len(), 1).unwrap();
        s.set_activations(Activations::Q8).unwrap();
        let got = m.forward(&mut s, &p.ids).unwrap().to_vec();
        let (at, d) = max_abs_diff(&got, &want.data[(2 * i + 1) * vocab..][..vocab]);
        let mut hf = p
            .top
            .iter()
            .map(|&(id, l)| (got[id as usize] - l).abs())
            .fold(0.0f32, f32::max);
        if let Some(full) = p.full_logits(&dir) {
            hf = hf.max(max_abs_diff(&got, &full).1);
        }
        let same_top = glassbox::sampler::argmax(&got) == p.top[0].0;
        println!(
            "{:10} q8: max |Δlogit| vs f32 path {d:.2e} (id {at}), vs transformers {hf:.2e}, \
             top-1 {}",
            p.name,
            if same_top { "same" } else { "differs" }
        );
        worst_f32 = worst_f32.max(d);
        worst_hf = worst_hf.max(hf);
    }
    println!(
        "q8 activations, worst over {} prompts: {worst_f32:.2e} vs the f32 path, {worst_hf:.2e} \
         vs transformers (the default path's bound is 1e-2: {})",
        prompts.len(),
        if worst_hf <= 1e-2 {
            "met"
        } else {
            "not met, so q8 stays opt-in"
        }
    );
    assert!(worst_f32 <= Q8_GUARD && worst_hf <= Q8_GUARD + 1e-2);
}

/// Writes the fixture (run once, by the release; see the module doc).
#[test]
#[ignore = "writes the fixture: run only with the release's kernels"]
fn write_release_logits() {
    if std::env::var_os("GLASSBOX_WRITE_RELEASE_LOGITS").is_none() {
        eprintln!("set GLASSBOX_WRITE_RELEASE_LOGITS=1 to write {FIXTURE}");
        return;
    }
    let (_, prompts) = fixtures();
    let m = load_gguf();
    let mut data = Vec::new();
    for p in &prompts {
        for row in both_paths(&m, &p.ids) {
            data.extend(row);
        }
    }
    let shape = [2 * prompts.len(), m.config.vocab_size];
    glassbox::formats::npy::write_f32(fixture_dir().join(FIXTURE), &data, &shape).unwrap();
}
