//! # Stage 3 · GGUF → Hugging Face directory
//!
//! ```text
//! MODEL.gguf ──ModelFiles::open──▶ HF names, HF row order, stored types
//!            ──dequantize row by row──▶ f32 (or bf16) ──▶ OUT/model.safetensors
//!            config.json  tokenizer.json  tokenizer_config.json  generation_config.json
//! ```
//!
//! The output is an ordinary `LlamaForCausalLM` checkpoint: `transformers` loads it with
//! `from_pretrained(OUT)`, and glassbox loads it through its safetensors path. Q/K rows are
//! already in Hugging Face order (`ModelFiles` converts them at the loading boundary), so
//! the converter itself never thinks about RoPE layouts.
//!
//! The safetensors file is written by hand, streaming one row at a time (to a temporary name,
//! fsynced, renamed), so converting never holds more than one row in f32:
//! `u64 header length │ JSON header (padded with spaces to a multiple of 8) │ data`.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::formats::file;
use crate::weights::checkpoint::hf_shape;
use crate::weights::model_files::{ModelFiles, ModelFormat};
use crate::{Error, Result};

/// Element type of the written safetensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutDType {
    F32,
    Bf16,
}

impl OutDType {
    fn safetensors_name(self) -> &'static str {
        match self {
            OutDType::F32 => "F32",
            OutDType::Bf16 => "BF16",
        }
    }
    fn torch_name(self) -> &'static str {
        match self {
            OutDType::F32 => "float32",
            OutDType::Bf16 => "bfloat16",
        }
    }
    fn bytes(self) -> usize {
        match self {
            OutDType::F32 => 4,
            OutDType::Bf16 => 2,
        }
    }
}

/// What was written.
#[derive(Debug)]
pub struct ConvertReport {
    pub files: Vec<PathBuf>,
    pub tensors: usize,
    pub safetensors_bytes: u64,
}

/// The files `convert` writes: an existing output directory may hold only these (it is
/// replaced as a whole).
pub const CONVERTED_FILES: [&str; 5] = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "model.safetensors",
];

/// Convert a GGUF model to a Hugging Face directory `out`: written whole into a temporary
/// directory beside it, which then replaces `out` (`formats::file::write_dir_atomic`), so a
/// failure part-way leaves the old `out` as it was.
pub fn convert_gguf(input: &Path, out: &Path, dtype: OutDType) -> Result<ConvertReport> {
    file::refuse_overwrite(out, &[input.to_path_buf()])?;
    let m = ModelFiles::open(input)?;
    if m.format != ModelFormat::Gguf {
        return Err(Error::invalid(format!(
            "{}: `convert` reads a .gguf file",
            input.display()
        )));
    }
    let mut report = None;
    file::write_dir_atomic(out, &CONVERTED_FILES, |dir| {
        report = Some(write_hf_dir(&m, dir, dtype)?);
        Ok(())
    })?;
    let (tensors, safetensors_bytes) = report.unwrap_or_default();
    Ok(ConvertReport {
        files: CONVERTED_FILES.iter().map(|f| out.join(f)).collect(),
        tensors,
        safetensors_bytes,
    })
}

/// Every file of the Hugging Face directory, into `out`; returns (tensors, safetensors bytes).
fn write_hf_dir(m: &ModelFiles, out: &Path, dtype: OutDType) -> Result<(usize, u64)> {
    let c = &m.config;

    // 1. config.json and generation_config.json
    let write_json = |name: &str, v: &Value| file::write_json_pretty(&out.join(name), v);
    write_json("config.json", &c.to_hf_json(dtype.torch_name()))?;
    let eos = match c.eos_token_ids.as_slice() {
        [one] => json!(one),
        many => json!(many),
    };
    write_json(
        "generation_config.json",
        &json!({"bos_token_id": c.bos_token_id, "eos_token_id": eos}),
    )?;

    // 2. the tokenizer: tokenizer.json from the GGUF vocabulary, tokenizer_config.json with the
    //    special tokens and the chat template
    let t = &m.tokenizer;
    write_json("tokenizer.json", &t.to_tokenizer_json())?;
    let text_of = |id: Option<u32>| id.and_then(|i| t.decode(&[i]).ok());
    let mut added = Map::new();
    for (s, id) in t.special_tokens() {
        added.insert(
            id.to_string(),
            json!({"content": s, "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false}),
        );
    }
    let tok_config = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": text_of(t.bos_id()),
        "eos_token": text_of(t.eos_ids().first().copied()),
        "pad_token": text_of(t.eos_ids().first().copied()),
        "add_bos_token": false,
        "add_prefix_space": false,
        "clean_up_tokenization_spaces": false,
        "model_max_length": c.max_position_embeddings,
        "added_tokens_decoder": added,
        "chat_template": m.chat_template,
    });
    write_json("tokenizer_config.json", &tok_config)?;

    // 3. model.safetensors, tensors in name order
    let tensors = m.weights.by_name();
    let mut header = Map::new();
    let mut offset = 0usize;
    for (name, w) in &tensors {
        let shape = hf_shape(w);
        let n: usize = shape.iter().product();
        let len = n * dtype.bytes();
        header.insert(
            name.to_string(),
            json!({"dtype": dtype.safetensors_name(), "shape": shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    // the crate's reader wants tensors sorted by offset; metadata marks the file as PyTorch's
    let mut sorted = Map::new();
    sorted.insert(
        "__metadata__".into(),
        json!({"format": "pt", "converted_by": "glassbox convert"}),
    );
    for (name, v) in header {
        sorted.insert(name, v);
    }
    let mut head =
        serde_json::to_string(&Value::Object(sorted)).map_err(|e| Error::invalid(e.to_string()))?;
    while head.len() % 8 != 0 {
        head.push(' ');
    }
    let st = out.join("model.safetensors");
    file::write_atomic_with(&st, |w| {
        w.write_all(&(head.len() as u64).to_le_bytes())?;
        w.write_all(head.as_bytes())?;
        let mut row = Vec::new();
        for wm in tensors.values() {
            row.resize(wm.cols, 0f32);
            for r in 0..wm.rows {
                wm.dequantize_row(r, &mut row);
                for v in &row {
                    match dtype {
                        OutDType::F32 => w.write_all(&v.to_le_bytes())?,
                        OutDType::Bf16 => w.write_all(&half::bf16::from_f32(*v).to_le_bytes())?,
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok((tensors.len(), (8 + head.len() + offset) as u64))
}
