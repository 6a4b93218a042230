//! # GGUF metadata for a Hugging Face model: the inverse of reading `llama.*` and the tokenizer
//!
//! ```text
//! config.json                      →  general.architecture = "llama", llama.* (table in weights::config)
//! tokenizer.json (byte-level BPE)  →  tokenizer.ggml.model = "gpt2", .pre, .tokens, .token_type,
//!                                      .merges, .bos_token_id, .eos_token_id
//! tokenizer_config chat_template   →  tokenizer.chat_template
//! ```
//!
//! Tokens are written in the GPT-2 byte alphabet (`Ġthe`), special tokens as their text with
//! type 3 (control), as llama.cpp's converter does; merges as `"left right"` in rank order.
//!
//! Reference: llama.cpp `convert_hf_to_gguf.py` (`_set_vocab_gpt2`), `gguf-py/gguf/constants.py`.

use std::path::Path;

use crate::formats::gguf::GgufValue;
use crate::tokenizer::bytes::{byte_to_char_table, bytes_to_gpt2};
use crate::tokenizer::Pretokenizer;
use crate::weights::model_files::ModelFiles;
use crate::{Error, Result};

/// llama.cpp's token types.
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const UNUSED: i32 = 5;

/// Our pre-tokenizer → the `tokenizer.ggml.pre` name llama.cpp knows it by (the inverse of
/// `tokenizer::gguf_vocab::pretokenizer_for`).
pub fn gguf_pre_name(p: Pretokenizer) -> &'static str {
    match p {
        Pretokenizer::SmolLm => "smollm",
        Pretokenizer::Gpt2 => "gpt-2",
        Pretokenizer::Llama3 => "llama-bpe",
        Pretokenizer::O200k => "gpt-4o",
        Pretokenizer::Cl100k => "cl100k",
    }
}

/// The metadata of a GGUF file holding this Hugging Face Llama (`dir` names the model).
pub fn llama_metadata(m: &ModelFiles, dir: &Path) -> Result<Vec<(String, GgufValue)>> {
    let c = &m.config;
    if c.rope_scaling.is_some() {
        return Err(Error::Unsupported(format!(
            "{}: llama3 RoPE scaling; GGUF keeps it as a `rope_freqs` tensor, which glassbox does not write",
            dir.display()
        )));
    }
    let s = |v: &str| GgufValue::String(v.to_string());
    let u = |v: usize| GgufValue::U32(v as u32);
    let name = dir
        .file_name()
        .map_or("model".into(), |n| n.to_string_lossy().into_owned());
    let mut md = vec![
        ("general.architecture".to_string(), s("llama")),
        ("general.name".into(), s(&name)),
        ("llama.context_length".into(), u(c.max_position_embeddings)),
        ("llama.embedding_length".into(), u(c.hidden_size)),
        ("llama.block_count".into(), u(c.num_hidden_layers)),
        ("llama.feed_forward_length".into(), u(c.intermediate_size)),
        ("llama.rope.dimension_count".into(), u(c.head_dim())),
        (
            "llama.attention.head_count".into(),
            u(c.num_attention_heads),
        ),
        (
            "llama.attention.head_count_kv".into(),
            u(c.num_key_value_heads),
        ),
        ("llama.rope.freq_base".into(), GgufValue::F32(c.rope_theta)),
        (
            "llama.attention.layer_norm_rms_epsilon".into(),
            GgufValue::F32(c.rms_norm_eps),
        ),
        ("llama.vocab_size".into(), u(c.vocab_size)),
    ];
    // the tokenizer: every id up to the model's vocabulary (padding ids get unused tokens)
    let t = &m.tokenizer;
    let table = byte_to_char_table();
    let mut special = vec![None; c.vocab_size];
    for (text, id) in t.special_tokens() {
        if let Some(slot) = special.get_mut(id as usize) {
            *slot = Some(text.to_string());
        }
    }
    let mut tokens = Vec::with_capacity(c.vocab_size);
    let mut types = Vec::with_capacity(c.vocab_size);
    for id in 0..c.vocab_size {
        let (text, ty) = match (&special[id], t.token_bytes(id as u32)) {
            (Some(text), _) => (text.clone(), CONTROL),
            (None, Some(bytes)) => (bytes_to_gpt2(bytes, &table), NORMAL),
            (None, None) => (format!("<unused{id}>"), UNUSED),
        };
        tokens.push(GgufValue::String(text));
        types.push(GgufValue::I32(ty));
    }
    let text_of = |id: u32| match &tokens[id as usize] {
        GgufValue::String(s) => s.clone(),
        _ => unreachable!("tokens are strings"),
    };
    let merges: Vec<GgufValue> = t
        .merges()
        .iter()
        .map(|&(a, b)| GgufValue::String(format!("{} {}", text_of(a), text_of(b))))
        .collect();
    md.push(("tokenizer.ggml.model".into(), s("gpt2")));
    md.push((
        "tokenizer.ggml.pre".into(),
        s(gguf_pre_name(t.pretokenizer())),
    ));
    md.push(("tokenizer.ggml.tokens".into(), GgufValue::Array(tokens)));
    md.push(("tokenizer.ggml.token_type".into(), GgufValue::Array(types)));
    md.push(("tokenizer.ggml.merges".into(), GgufValue::Array(merges)));
    if let Some(bos) = t.bos_id().or(c.bos_token_id) {
        md.push(("tokenizer.ggml.bos_token_id".into(), GgufValue::U32(bos)));
    }
    if let Some(&eos) = t.eos_ids().first().or(c.eos_token_ids.first()) {
        md.push(("tokenizer.ggml.eos_token_id".into(), GgufValue::U32(eos)));
    }
    if let Some(tpl) = &m.chat_template {
        md.push(("tokenizer.chat_template".into(), s(tpl)));
    }
    Ok(md)
}
