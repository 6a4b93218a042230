//! Chapter 9 exercises: predict, then check with `cargo test --test ch09_exercises`.
//!
//! Each `ANSWER_*` constant holds the correct value, so this file passes as shipped. Cover a
//! constant (or replace it with your guess), work it out on paper, run the test: a wrong guess
//! fails with the computed value beside yours. `--features solutions` runs the worked solutions.

use glassbox::sampler::{apply_penalties, top_k, top_p, Candidate};

fn cands(logits: &[f32]) -> Vec<Candidate> {
    glassbox::sampler::candidates(logits)
}

fn probs(c: &[Candidate]) -> Vec<(u32, f64)> {
    let max = c.iter().map(|c| c.logit).fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = c.iter().map(|c| ((c.logit - max) as f64).exp()).sum();
    let mut v: Vec<(u32, f64)> = c
        .iter()
        .map(|c| (c.id, ((c.logit - max) as f64).exp() / sum))
        .collect();
    v.sort_by_key(|x| x.0);
    v
}

// Exercise 1 (order matters). Logits [0.1, 0.2, 0.3, 0.4]. Which ids survive top-k 2 then
// top-p 0.5? And top-p 0.5 then top-k 2 — with which renormalised probabilities (4 decimals)?
const ANSWER_1_K_THEN_P: &[u32] = &[3];
const ANSWER_1_P_THEN_K: &[(u32, f64)] = &[(2, 0.4750), (3, 0.5250)];

// Exercise 2 (repetition penalty, the Hugging Face way). Logits [2.0, -1.0, 0.5, 3.0], history
// [0, 1, 1], penalty 2.0. What are the logits after the penalty?
const ANSWER_2: [f32; 4] = [1.0, -2.0, 0.5, 3.0];

// Exercise 3 (frequency and presence, the OpenAI way). Same logits and history, no repetition
// penalty, frequency 0.5 and presence 1.0.
const ANSWER_3: [f32; 4] = [0.5, -3.0, 0.5, 3.0];

#[test]
fn exercise_1_order_of_filters() {
    let logits = [0.1f32, 0.2, 0.3, 0.4];
    let mut a = cands(&logits);
    top_k(&mut a, 2);
    top_p(&mut a, 0.5);
    let got: Vec<u32> = probs(&a).iter().map(|x| x.0).collect();
    assert_eq!(got, ANSWER_1_K_THEN_P, "top-k then top-p kept {got:?}");
    let mut b = cands(&logits);
    top_p(&mut b, 0.5);
    top_k(&mut b, 2);
    let got = probs(&b);
    assert_eq!(
        got.len(),
        ANSWER_1_P_THEN_K.len(),
        "top-p then top-k kept {got:?}"
    );
    for ((id, p), (wid, wp)) in got.iter().zip(ANSWER_1_P_THEN_K) {
        assert!(
            id == wid && (p - wp).abs() < 5e-5,
            "computed {got:?}, your answer {ANSWER_1_P_THEN_K:?}"
        );
    }
}

#[test]
fn exercise_2_repetition_penalty() {
    let mut l = [2.0f32, -1.0, 0.5, 3.0];
    apply_penalties(&mut l, &[0, 1, 1], 2.0, 0.0, 0.0);
    assert_eq!(l, ANSWER_2, "computed {l:?}, your answer {ANSWER_2:?}");
}

#[test]
fn exercise_3_frequency_presence() {
    let mut l = [2.0f32, -1.0, 0.5, 3.0];
    apply_penalties(&mut l, &[0, 1, 1], 1.0, 0.5, 1.0);
    assert_eq!(l, ANSWER_3, "computed {l:?}, your answer {ANSWER_3:?}");
}

/// Worked solutions, printed with `--nocapture`.
#[cfg(feature = "solutions")]
#[test]
fn solutions() {
    // 1. softmax of [0.1, 0.2, 0.3, 0.4] by hand, in f64
    let e: Vec<f64> = [0.1f64, 0.2, 0.3, 0.4].iter().map(|x| x.exp()).collect();
    let s: f64 = e.iter().sum();
    let p: Vec<f64> = e.iter().map(|x| x / s).collect();
    println!("1. softmax = {p:?}");
    // top-k 2 keeps ids 2, 3; renormalised, p3 = e^0.4 / (e^0.3 + e^0.4) = 1/(1+e^-0.1) ≥ 0.5,
    // so top-p 0.5 keeps id 3 alone
    let p3 = 1.0 / (1.0 + (-0.1f64).exp());
    println!("   top-k 2 → ids 2, 3 renormalised: p3 = 1/(1+e^-0.1) = {p3:.4} ≥ 0.5 → top-p keeps id 3 alone");
    assert!(p3 >= 0.5);
    assert_eq!(ANSWER_1_K_THEN_P, &[3]);
    // top-p 0.5 first: p3 < 0.5 ≤ p3 + p2 → ids 3, 2; top-k 2 keeps both, renormalised
    assert!(p[3] < 0.5 && p[3] + p[2] >= 0.5);
    let want = [(2, e[2] / (e[2] + e[3])), (3, e[3] / (e[2] + e[3]))];
    println!(
        "   top-p 0.5 first: {:.4} < 0.5 ≤ {:.4} → ids 3, 2; top-k 2 keeps both: {want:?}",
        p[3],
        p[3] + p[2]
    );
    assert_eq!(ANSWER_1_P_THEN_K.len(), want.len());
    for (&(id, q), (wid, wq)) in ANSWER_1_P_THEN_K.iter().zip(want) {
        assert!(id == wid && (q - wq).abs() < 5e-5, "{id}: {q} vs {wq}");
    }
    // 2. Hugging Face: a seen logit is divided by the penalty if positive, multiplied if
    //    negative, once per id however often it was seen
    println!("2. id 0 seen: 2.0 > 0 → 2.0 / 2 = 1.0; id 1 seen (twice, penalised once): -1.0 < 0 → -1.0 × 2 = -2.0");
    assert_eq!(ANSWER_2, [2.0 / 2.0, -2.0, 0.5, 3.0]);
    // 3. OpenAI: logit − count × frequency − presence, for each seen id
    println!("3. id 0: 2.0 - 1×0.5 - 1.0 = 0.5; id 1: -1.0 - 2×0.5 - 1.0 = -3.0");
    assert_eq!(
        ANSWER_3,
        [2.0 - 0.5 - 1.0, -1.0 - 2.0 * 0.5 - 1.0, 0.5, 3.0]
    );
}
