//! Chapter 0 exercise: count SmolLM2-135M's parameters from its config alone.
//!
//! Cover `ANSWER_30_LAYERS` and `ANSWER_60_LAYERS`, predict them from the shapes in the chapter
//! (d = 576, kv = 192, ffn = 1536, vocab = 49152, tied embeddings), then run
//! `cargo test --test ch00_exercises`.

use glassbox::weights::config::LlamaConfig;
use serde_json::json;
use std::path::Path;

const ANSWER_30_LAYERS: usize = 134_515_008;
const ANSWER_60_LAYERS: usize = 240_717_888;

fn smollm2_config(layers: usize) -> LlamaConfig {
    // The fields of SmolLM2-135M-Instruct's config.json that decide the parameter count.
    let config = json!({
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 576, "intermediate_size": 1536,
        "num_attention_heads": 9, "num_key_value_heads": 3,
        "num_hidden_layers": layers, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
        "tie_word_embeddings": true, "vocab_size": 49152, "max_position_embeddings": 8192,
        "bos_token_id": 1, "eos_token_id": 2
    });
    LlamaConfig::from_hf_value(&config, Path::new("config.json")).expect("a valid config")
}

#[test]
fn parameter_count_from_the_config() {
    assert_eq!(smollm2_config(30).param_counts().total(), ANSWER_30_LAYERS);
    assert_eq!(smollm2_config(60).param_counts().total(), ANSWER_60_LAYERS);
}
