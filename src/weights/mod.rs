//! Stage 3, loading: real weights as people have them, mapped into memory as stored.
//!
//! ```text
//! config       LlamaConfig from GGUF metadata; its checks and derived sizes
//! family       what Gemma 3 does differently from Llama, each difference one named answer
//! hf_config    LlamaConfig ⇄ Hugging Face config.json
//! tensor       WeightMatrix: one weight as stored (dtype, rows, cols, mapped or owned bytes)
//! matvec       its decode products: W · x for one token, across the threads
//! mapped       a GGUF or safetensors tensor as a WeightMatrix over the mapped bytes
//! checkpoint   LlamaWeights: every tensor taken under its Hugging Face name, shape checked (once)
//! model_files  one entry point: a .gguf or an HF directory → config + tokenizer + LlamaWeights
//! convert      GGUF → Hugging Face directory (config.json, model.safetensors, tokenizer files)
//! ```
//!
//! The containers themselves (GGUF, safetensors) are read in `formats/`; fetching the default
//! model is `data/`.

pub mod checkpoint;
pub mod config;
pub mod convert;
pub mod family;
pub mod hf_config;
pub mod mapped;
pub mod matvec;
pub mod model_files;
pub mod tensor;
pub mod tile_decode;
