//! Hugging Face `config.json`: any JSON value through `LlamaConfig::from_hf_value`; a config
//! that validates must have finite RoPE frequencies, sizes that do not overflow, and must
//! write a config.json that reads back equal (`glassbox_fuzz::config_checks`).
#![no_main]

use std::path::Path;

use glassbox::weights::config::LlamaConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(c) = LlamaConfig::from_hf_value(&v, Path::new("config.json")) {
        glassbox_fuzz::config_checks(&c);
    }
});
