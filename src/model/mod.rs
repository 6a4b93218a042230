//! # Stage 3 · the model: a Llama forward pass over real weights, with a KV-cache
//!
//! ```text
//! ids: [seq] ──embedding lookup──▶ x: [seq, d]
//!   for each of the N layers:
//!     x = x + o_proj( attention( rope(q_proj(norm(x))), rope(k_proj(norm(x))), v_proj(norm(x)) ) )
//!     x = x + down_proj( silu(gate_proj(norm(x))) ⊙ up_proj(norm(x)) )
//! x_last: [d] ──final norm──▶ ──output head (lm_head, or the embedding when tied)──▶ logits: [vocab]
//! ```
//!
//! * [`llama`]: the weights ([`Llama`]), loaded from a `.gguf` or a Hugging Face directory
//!   through `weights::model_files`, and the forward pass, built from the stage-2 modules
//!   (`rmsnorm`, `rope`, `attention`, `swiglu`) and the stored-type kernels of
//!   `weights::tensor::WeightMatrix`.
//! * [`session`]: one sequence being processed ([`Session`]): its KV-cache, preallocated for the
//!   context asked for, and every scratch buffer, allocated once, so decoding a token allocates
//!   nothing in the model.
//! * [`pool`]: how a forward pass uses rayon's threads (one hand-off per pass; a decode step
//!   keeps the other threads awake between its products).
//! * [`probe`]: the logit lens and attention maps of one prompt, read through the session's
//!   hooks (`glassbox lens`, `glassbox attention`).
//! * [`reference`](mod@reference): the same forward pass the slow way (weights dequantized to f32, naive
//!   kernels, no cache, every position's logits), the yardstick for the fast one.
//!
//! The encoder (chapter 14) sits beside it, built from the same stage-2 modules with the mask off:
//!
//! * [`bert`]: a BERT sentence encoder ([`Bert`]: all-MiniLM-L6-v2 and its family) from a
//!   sentence-transformers directory, its forward pass over a packed batch, and pooling.
//! * [`bert_config`]: what the directory's JSON files say (sizes, pooling, normalisation, length).
//! * [`bert_reference`]: the same, the way PyTorch batches it (padded, masked, naive kernels).
//!
//! Prefill (the prompt) runs the projections as matrix–matrix products over all its tokens;
//! decode (one new token) runs them as matrix–vector products reading the cache. Both go through
//! the same [`Llama::forward`]: the number of new ids decides.

pub mod bert;
pub mod bert_config;
pub mod bert_reference;
pub mod llama;
pub mod pool;
pub mod probe;
pub mod profile;
pub mod reference;
pub mod resident;
pub mod session;

pub use bert::Bert;
pub use llama::Llama;
pub use session::Session;
