//! Stage 3, loading: real weights as people have them, mapped into memory as stored.
//!
//! ```text
//! fetch        where the data lives; brings the default model / tiktoken files / Brown corpus on first use
//! gguf         hand-written GGUF v2/v3 reader: header, metadata, tensor infos, aligned data
//! gguf_value   GGUF typed values and the bounds-checked cursor that reads them
//! gguf_write   GGUF v3 writer: metadata, tensor infos, aligned data, written to OUT.part and renamed
//! safetensors  Hugging Face safetensors (one file or sharded), F32 / BF16 / F16, memory-mapped
//! config       LlamaConfig from config.json or from GGUF metadata
//! tensor       WeightMatrix: one weight as stored (dtype, rows, cols, mapped or owned bytes)
//! model_files  one entry point: a .gguf or an HF directory → config + tokenizer + HF-named tensors
//! convert      GGUF → Hugging Face directory (config.json, model.safetensors, tokenizer files)
//! ```

pub mod config;
pub mod convert;
pub mod fetch;
pub mod gguf;
pub mod gguf_value;
pub mod gguf_write;
pub mod model_files;
pub mod safetensors;
pub mod tensor;
