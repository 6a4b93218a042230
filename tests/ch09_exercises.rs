//! Chapter 9 exercises: the sampler's knobs, by hand.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch09_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the computed value beside yours. The reference solutions are in
//! `tests/solutions/ch09.rs` (and the book's appendix); `cargo test --test ch09_exercises
//! --features solutions -- --nocapture` checks them and prints the worked steps.
//!
//! 1. **Order matters.** Logits [0.1, 0.2, 0.3, 0.4]. Which ids survive top-k 2 then top-p 0.5?
//!    And top-p 0.5 then top-k 2, with which renormalised probabilities (4 decimals)?
//! 2. **Repetition penalty, the Hugging Face way.** Logits [2.0, −1.0, 0.5, 3.0], history
//!    [0, 1, 1], penalty 2.0. What are the logits after the penalty?
//! 3. **Frequency and presence, the OpenAI way.** Same logits and history, no repetition
//!    penalty, frequency 0.5 and presence 1.0.
//! 4. **Why min-p stays readable when hot.** Logits [3, 2, 1, 0, −5], min-p 0.1, applied after
//!    the temperature. Which ids survive at T = 0.5, and at T = 2?

use glassbox::sampler::{apply_penalties, apply_temperature, min_p, top_k, top_p, Candidate};

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
mod answer {
    /// Exercise 1: the ids kept by top-k 2 then top-p 0.5, sorted.
    pub fn k_then_p() -> Vec<u32> {
        todo!("exercise 1a: renormalise after top-k, then keep tokens until the mass reaches 0.5")
    }

    /// Exercise 1: (id, renormalised probability) kept by top-p 0.5 then top-k 2, sorted by id.
    pub fn p_then_k() -> Vec<(u32, f64)> {
        todo!("exercise 1b: softmax of all four first (chapter 9, 'By hand')")
    }

    /// Exercise 2: the logits after a repetition penalty of 2.0.
    pub fn repetition_penalty() -> [f32; 4] {
        todo!("exercise 2: divide a positive logit, multiply a negative one, once per seen id")
    }

    /// Exercise 3: the logits after frequency 0.5 and presence 1.0.
    pub fn frequency_presence() -> [f32; 4] {
        todo!("exercise 3: subtract count × frequency, and presence once, for each seen id")
    }

    /// Exercise 4: (ids kept at T = 0.5, ids kept at T = 2), each sorted.
    pub fn min_p_survivors() -> (Vec<u32>, Vec<u32>) {
        todo!("exercise 4: keep l/T ≥ max(l/T) + ln(0.1)")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch09.rs"]
mod answer;

fn cands(logits: &[f32]) -> Vec<Candidate> {
    glassbox::sampler::candidates(logits)
}

/// The candidates' ids and renormalised probabilities (in f64), sorted by id.
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

fn ids(c: &[Candidate]) -> Vec<u32> {
    probs(c).iter().map(|x| x.0).collect()
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::k_then_p and answer::p_then_k, then run with -- --ignored"
)]
fn exercise_1_order_of_filters() {
    let logits = [0.1f32, 0.2, 0.3, 0.4];
    let mut a = cands(&logits);
    top_k(&mut a, 2);
    top_p(&mut a, 0.5);
    let (got, yours) = (ids(&a), answer::k_then_p());
    assert_eq!(
        yours, got,
        "top-k then top-p: your answer {yours:?}, kept {got:?}"
    );
    let mut b = cands(&logits);
    top_p(&mut b, 0.5);
    top_k(&mut b, 2);
    let (got, yours) = (probs(&b), answer::p_then_k());
    let same = got.len() == yours.len()
        && got
            .iter()
            .zip(&yours)
            .all(|((id, p), (yid, yp))| id == yid && (p - yp).abs() < 5e-5);
    assert!(
        same,
        "top-p then top-k: your answer {yours:?}, computed {got:?}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::repetition_penalty, then run with -- --ignored"
)]
fn exercise_2_repetition_penalty() {
    let mut l = [2.0f32, -1.0, 0.5, 3.0];
    apply_penalties(&mut l, &[0, 1, 1], 2.0, 0.0, 0.0);
    let yours = answer::repetition_penalty();
    assert_eq!(yours, l, "your answer {yours:?}, computed {l:?}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::frequency_presence, then run with -- --ignored"
)]
fn exercise_3_frequency_presence() {
    let mut l = [2.0f32, -1.0, 0.5, 3.0];
    apply_penalties(&mut l, &[0, 1, 1], 1.0, 0.5, 1.0);
    let yours = answer::frequency_presence();
    assert_eq!(yours, l, "your answer {yours:?}, computed {l:?}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::min_p_survivors, then run with -- --ignored"
)]
fn exercise_4_min_p_with_temperature() {
    let kept = |t: f32| {
        let mut l = [3.0f32, 2.0, 1.0, 0.0, -5.0];
        apply_temperature(&mut l, t);
        let mut c = cands(&l);
        min_p(&mut c, 0.1);
        ids(&c)
    };
    let (cold, hot) = answer::min_p_survivors();
    assert_eq!(cold, kept(0.5), "T = 0.5: your answer {cold:?}");
    assert_eq!(hot, kept(2.0), "T = 2: your answer {hot:?}");
}
