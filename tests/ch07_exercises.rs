//! Chapter 7 exercises: `cargo test --test ch07_exercises` (uses the default model, fetched on
//! first use).
//!
//! The answers below are filled in so that the book's CI stays green. Cover them up, write your
//! own, and run the test. The reference answers are behind the `solutions` feature:
//! `cargo test --test ch07_exercises --features solutions`.
//!
//! 1. **Predict the id.** Which token id does SmolLM2-135M-Instruct pick greedily after
//!    "The capital of France is"? (Find " Paris" with `glassbox tokenize`.) The test checks it
//!    against the model and against the transformers fixture.
//! 2. **Make it pass.** SmolLM2 ties its output head to the embedding. Write
//!    `answer::logit_of`: the logit of one token from the final-normed hidden state and that
//!    token's embedding row. The test compares it with the model's logits.

use glassbox::model::Llama;

#[cfg(not(feature = "solutions"))]
mod answer {
    pub const NEXT_ID: u32 = 7042;

    pub fn logit_of(final_normed: &[f32], embedding_row: &[f32]) -> f32 {
        final_normed
            .iter()
            .zip(embedding_row)
            .map(|(a, b)| a * b)
            .sum()
    }
}

#[cfg(feature = "solutions")]
mod answer {
    /// `glassbox tokenize --prompt " Paris"` → [7042]; the fixture's top-1 says the same.
    pub const NEXT_ID: u32 = 7042;

    /// Tied head: logits = h · Eᵀ, so one logit is the dot product of h with row `id` of E.
    pub fn logit_of(final_normed: &[f32], embedding_row: &[f32]) -> f32 {
        glassbox::matmul::dot(final_normed, embedding_row)
    }
}

/// f32 dot products of 576 terms summed in a different order than the head's kernel.
const DOT_TOL: f32 = 1e-3;

fn model() -> Llama {
    Llama::load(glassbox::data::default_model().expect("the default model")).expect("load")
}

#[test]
fn exercise_1_the_greedy_next_token() {
    let m = model();
    let ids = m.tokenizer.encode_with_special("The capital of France is");
    let mut s = m.new_session(ids.len()).unwrap();
    let logits = m.forward(&mut s, &ids).unwrap();
    let argmax = glassbox::sampler::argmax(logits);
    assert_eq!(answer::NEXT_ID, argmax);
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
            "id {id}: {got} vs {}",
            logits[id as usize]
        );
    }
}
