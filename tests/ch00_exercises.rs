//! Chapter 0 exercises: count SmolLM2-135M's parameters from its config alone.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch00_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch00.rs` (and the book's appendix);
//! `cargo test --test ch00_exercises --features solutions` checks them.
//!
//! 1. **Predict the number.** SmolLM2 has 30 layers and 134,515,008 parameters. How many would
//!    the same shapes have with 60 layers (d 576, kv 192, ffn 1536, vocab 49152, tied)?
//! 2. **Make it pass.** Write `param_count`, the total from the shapes, as a formula (tied
//!    embeddings: the head is the embedding, counted once). The test compares it with
//!    `LlamaConfig::param_counts` on SmolLM2 at 30 and 60 layers and on Llama 3.2 1B.

use glassbox::weights::config::LlamaConfig;
use serde_json::json;
use std::path::Path;

/// The shapes that decide the parameter count of a Llama with tied embeddings.
pub struct Shapes {
    pub d_model: usize,
    pub kv_dim: usize,
    pub ffn: usize,
    pub layers: usize,
    pub vocab: usize,
}

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    use super::Shapes;

    /// Exercise 1: the parameters of SmolLM2's shapes with 60 layers.
    pub fn params_60_layers() -> usize {
        todo!("exercise 1: predict the parameter count with 60 layers (chapter 0, 'Counting the parameters')")
    }

    /// Exercise 2: the parameter count of a tied-embedding Llama, as a formula in `s`.
    pub fn param_count(s: &Shapes) -> usize {
        todo!("exercise 2: embedding + layers × (attention + MLP + two norms) + the final norm")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch00.rs"]
mod answer;

/// A Llama config with these shapes (the fields of a Hugging Face config.json that matter).
fn config(s: &Shapes, heads: usize) -> LlamaConfig {
    let head_dim = s.d_model / heads;
    let v = json!({
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": s.d_model, "intermediate_size": s.ffn,
        "num_attention_heads": heads, "num_key_value_heads": s.kv_dim / head_dim,
        "num_hidden_layers": s.layers, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
        "tie_word_embeddings": true, "vocab_size": s.vocab, "max_position_embeddings": 8192,
        "bos_token_id": 1, "eos_token_id": 2
    });
    LlamaConfig::from_hf_value(&v, Path::new("config.json")).expect("a valid config")
}

fn smollm2(layers: usize) -> Shapes {
    Shapes {
        d_model: 576,
        kv_dim: 192,
        ffn: 1536,
        layers,
        vocab: 49152,
    }
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::params_60_layers, then run with -- --ignored"
)]
fn exercise_1_sixty_layers() {
    let want = config(&smollm2(60), 9).param_counts().total();
    let yours = answer::params_60_layers();
    assert_eq!(yours, want, "your answer {yours}, the config says {want}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::param_count, then run with -- --ignored"
)]
fn exercise_2_the_formula() {
    let llama_1b = Shapes {
        d_model: 2048,
        kv_dim: 512,
        ffn: 8192,
        layers: 16,
        vocab: 128_256,
    };
    for (name, s, heads) in [
        ("SmolLM2, 30 layers", smollm2(30), 9),
        ("SmolLM2, 60 layers", smollm2(60), 9),
        ("Llama 3.2 1B", llama_1b, 32),
    ] {
        let want = config(&s, heads).param_counts().total();
        let yours = answer::param_count(&s);
        assert_eq!(
            yours, want,
            "{name}: your formula {yours}, the config {want}"
        );
    }
}
