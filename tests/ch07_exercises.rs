//! Chapter 7 exercises: the forward pass on the real model (the default model is fetched on
//! first use, or set GLASSBOX_DATA).
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --release --test ch07_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch07.rs` (and the book's appendix);
//! `cargo test --test ch07_exercises --features solutions` checks them.
//!
//! 1. **Predict the id.** Which token id does SmolLM2-135M-Instruct pick greedily after
//!    "The capital of France is"? (Find " Paris" with `glassbox tokenize`.) The test checks it
//!    against the model and against the transformers fixture.
//! 2. **Make it pass.** SmolLM2 ties its output head to the embedding. Write `logit_of`: the
//!    logit of one token from the final-normed hidden state and that token's embedding row.
//!    The test compares it with the model's logits.

use glassbox::model::Llama;

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: the greedy next id after "The capital of France is".
    pub fn next_id() -> u32 {
        todo!("exercise 1: glassbox tokenize --json \" Paris\"")
    }

    /// Exercise 2: one logit of a tied head, from h (after the final norm) and a row of E.
    pub fn logit_of(final_normed: &[f32], embedding_row: &[f32]) -> f32 {
        todo!("exercise 2: logits = h · Eᵀ; one logit is one dot product")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch07.rs"]
mod answer;

/// f32 dot products of 576 terms summed in a different order than the head's kernel.
const DOT_TOL: f32 = 1e-3;

fn model() -> Llama {
    Llama::load(glassbox::data::default_model().expect("the default model")).expect("load")
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::next_id, then run with -- --ignored"
)]
fn exercise_1_the_greedy_next_token() {
    let m = model();
    let ids = m.tokenizer.encode_with_special("The capital of France is");
    let mut s = m.new_session(ids.len()).unwrap();
    let logits = m.forward(&mut s, &ids).unwrap();
    let argmax = glassbox::sampler::argmax(logits);
    assert_eq!(
        answer::next_id(),
        argmax,
        "the model's greedy choice is {argmax}"
    );
    // the committed transformers fixture agrees
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/smollm2/prompts.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let capital = v["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "capital")
        .unwrap();
    assert_eq!(capital["top"][0][0].as_u64().unwrap() as u32, argmax);
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::logit_of, then run with -- --ignored"
)]
fn exercise_2_a_logit_by_hand() {
    let m = model();
    let ids = m.tokenizer.encode_with_special("The capital of France is");
    let mut s = m.new_session(ids.len()).unwrap();
    s.set_capture(m.config.num_hidden_layers, true);
    let logits = m.forward(&mut s, &ids).unwrap().to_vec();
    let h = s.captured().unwrap().last().unwrap().to_vec(); // after the final norm
    let mut row = vec![0.0f32; m.config.hidden_size];
    for id in [7042u32, 260, 4528, 0, 49151] {
        m.weights.embed_tokens.dequantize_row(id as usize, &mut row);
        let got = answer::logit_of(&h, &row);
        assert!(
            (got - logits[id as usize]).abs() <= DOT_TOL,
            "id {id}: yours {got}, the model's {}",
            logits[id as usize]
        );
    }
}
