//! # glassbox
//!
//! A transformer toolkit written from scratch, one stage per file, in the order a prompt flows
//! through a Llama-style model:
//!
//! ```text
//! prompt ──tokenizer──▶ ids ──embedding──▶ x: [seq, d_model]
//!        ──N × block (rmsnorm → attention with RoPE over the KV-cache → +x,
//!                     rmsnorm → SwiGLU → +x)──▶ final rmsnorm ──output head──▶ logits: [vocab]
//!        ──sampler──▶ next id ──streaming decoder──▶ text   (repeat, reusing the KV-cache)
//! ```
//!
//! The same parts without the causal mask make an encoder (`model::bert`, all-MiniLM-L6-v2):
//! text ──WordPiece──▶ ids ──6 bidirectional blocks──▶ mean ──▶ one unit vector per text, which
//! `rag` uses to find the passages of your documents that answer a question.
//!
//! ## The tensor convention (chosen once, used everywhere)
//!
//! * **Row-major, contiguous `f32` slices inside the hot loops.** A matrix `[rows, cols]` is a
//!   `&[f32]` of length `rows * cols`; element `(r, c)` is at `r * cols + c`. Kernels take the
//!   slices and the sizes explicitly, so a reader sees every index.
//! * **Weights are `[out_features, in_features]`**, as PyTorch's `nn.Linear`, Hugging Face
//!   checkpoints and GGUF store them. A linear layer computes `y = x · Wᵀ`:
//!   `x: [seq, in] , W: [out, in] → y: [seq, out]`. Each output element is a dot product of two
//!   contiguous rows, which is what SIMD and quantized blocks want.
//! * Shapes are written in comments with one notation: `// x: [seq, d_model]`,
//!   `// k_cache: [layer, pos, kv_dim]`.
//! * Activations are always `f32`. Weights stay in their stored type (F32, F16, BF16, Q8_0, Q4_0,
//!   Q4_1, Q5_0, Q5_1 and the K-quants Q2_K … Q6_K) and are memory-mapped; each type has its own
//!   matrix–vector kernel.

// Modules are listed in pipeline order, one per line with blank lines between them (rustfmt
// would otherwise sort them alphabetically). A module imports only from modules above it
// (the check: `grep -rn "use crate::" src/<module>`), so each can be read knowing only what
// comes before it.
//
// Where the next stages go: new stored types as one file each in `quant/`; a GGUF writer
// beside the reader in `formats/gguf/`; an encoder as `model/bert.rs` with
// `tokenizer/wordpiece.rs`, and retrieval on top of it in `rag/`; what Gemma 3 does
// differently from Llama in `model/gemma.rs` (its tokenizer in `tokenizer/sentencepiece.rs`);
// constrained decoding in `constrain/`, entering the sampler chain as one more step; the HTTP
// server in `server/` with its command in `cli/serve.rs`, built on `cli/common.rs`.
pub mod error;

// Below every stage: file formats (GGUF, safetensors, npy, JSON) and fetching data (the default
// model, tiktoken files, the Brown corpus). They know nothing of tokenizers or models, so each
// stage can read files without going through a later one.
pub mod formats;

pub mod data;

// Stage 1: text → token ids → text
pub mod tokenizer;

// Stage 2: the math of one transformer block, each piece with a naive reference beside it
pub mod matmul;

pub mod softmax;

pub mod rmsnorm;

pub mod rope;

pub mod kv_cache;

pub mod attention;

pub mod swiglu;

// Stage 2 for the encoder (BERT): its norm and activation
pub mod layernorm;

pub mod gelu;

// Comparing tensors (and making deterministic test inputs): what every numerical test uses.
pub mod compare;

// Stage 3: real weights as stored, and the forward pass over a KV-cache
pub mod quant;

pub mod weights;

pub mod model;

// Stage 3 tooling: a model file in, a quantized GGUF out (issue 14)
pub mod quantize;

// Stage 4: logits → text
pub mod sampler;

pub mod chat;

pub mod generate;

// Judging a model: perplexity over a text, KL divergence from a base model (issue 14)
pub mod perplexity;

// Stage 5: the generation loop behind an OpenAI-compatible HTTP API
pub mod server;

// Stage 6: structured output — a JSON-schema mask on the logits
pub mod constrain;
// Stage 7: sentence embeddings (model/bert.rs) and retrieval-augmented generation
pub mod rag;

// Stage 6: tool calls — the schema of "call one of these functions", and the reply split back
pub mod tools;

// The command-line front end (`glassbox <command>`), one file per command.
pub mod cli;

pub use error::{Error, Result};
