//! Stage 3 · the Llama forward pass.
//!
//! One transformer block, exactly as Hugging Face's `LlamaDecoderLayer` (pre-norm, two
//! residual branches), for the `seq` new tokens at absolute positions `pos .. pos + seq`:
//!
//! ```text
//! h   = RMSNorm(x; input_layernorm)                          h: [seq, d]
//! q   = h · W_qᵀ,  k = h · W_kᵀ,  v = h · W_vᵀ               q: [seq, n_heads·hd], k, v: [seq, n_kv·hd]
//! q, k ← RoPE(q, k) at positions pos ..                      (half-split pairs (i, i + hd/2))
//! cache[layer, pos ..] ← k, v
//! a   = softmax(q·Kᵀ/√hd + causal mask) · V                   a: [seq, n_heads·hd]   (GQA: head h reads KV head h / group)
//! x   = x + a · W_oᵀ
//! h   = RMSNorm(x; post_attention_layernorm)
//! x   = x + (silu(h · W_gateᵀ) ⊙ (h · W_upᵀ)) · W_downᵀ          (the SwiGLU MLP, ffn wide)
//! ```
//!
//! After the last block only the last position matters for the next token:
//! `logits = RMSNorm(x_last; norm) · W_headᵀ`, with `W_head` = the embedding matrix when the
//! model ties them (SmolLM2 does).
//!
//! Gemma 3 runs through this same pass: where it differs, the block asks the config's
//! [`Family`](crate::weights::family::Family) (`weights/family.rs`, one named answer per
//! difference) and a Llama model's answer leaves the step as above:
//!
//! ```text
//! x   = embedding · √d                                       (embedding_scale)
//! q, k ← RMSNorm of each head (q_norm, k_norm), then RoPE    (qk_norm; RoPE base per layer)
//! a   = softmax(...) over the last `window` positions only   (local layers; the cache is a ring)
//! x   = x + RMSNorm(a · W_oᵀ; post_attention_norm)           (sandwich norms)
//! x   = x + RMSNorm(down(gelu_tanh(gate) ⊙ up); post_ffw)    (GeGLU; sandwich norms)
//! ```
//!
//! The weights keep their stored type (Q4_1, Q8_0, F32, BF16, ...); every product goes through
//! `WeightMatrix::matmul`, which is a matrix–vector product when `seq == 1` (decode) and a tiled
//! GEMM otherwise (prefill). Activations are f32 throughout.
//!
//! Reference: `transformers.models.llama.modeling_llama` (`LlamaModel.forward`,
//! `LlamaDecoderLayer`, `LlamaAttention`, `LlamaMLP`); Touvron et al., "LLaMA" (2023).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::attention::{attention, AttentionShape};
use crate::model::pool::on_pool;
use crate::model::profile::{Clock, Step};
use crate::model::session::Session;
use crate::quant::q8act::{Activations, Q8Act};
use crate::rmsnorm::{rmsnorm, rmsnorm_rows, rmsnorm_rows_inplace};
use crate::rope::RopeLayout;
use crate::swiglu::glu_inplace;
use crate::tokenizer::Tokenizer;
use crate::weights::checkpoint::{LlamaWeights, TensorSource, IN_MEMORY};
use crate::weights::config::LlamaConfig;
use crate::weights::model_files::ModelFiles;
use crate::weights::tensor::{WeightMatrix, GEMV_MAX_SEQ};
use crate::{Error, Result};

/// A Llama-architecture model (or a family that differs from Llama in the named places of
/// `config.family`, such as Gemma 3): its config, tokenizer and weights as stored.
pub struct Llama {
    pub config: LlamaConfig,
    /// Where the model came from (a `.gguf` file or a Hugging Face directory).
    pub path: PathBuf,
    pub tokenizer: Tokenizer,
    pub chat_template: Option<String>,
    /// Every weight, under its Hugging Face name (`weights::checkpoint`).
    pub weights: LlamaWeights,
}

impl Llama {
    /// Open a `.gguf` file or a Hugging Face directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Llama> {
        let model = Llama::from_files(ModelFiles::open(path.as_ref())?)?;
        // parsing the file's metadata (49,152 token strings, as many merges) and building the
        // tokenizer left ~6 MB of freed heap behind: give it back (`release_free_heap`)
        release_free_heap();
        Ok(model)
    }

    /// Build the model from opened model files (config and tokenizer checked, every weight
    /// under its Hugging Face name, GGUF Q/K rows already in half-split order).
    pub fn from_files(files: ModelFiles) -> Result<Llama> {
        let ModelFiles {
            path,
            config,
            tokenizer,
            chat_template,
            weights,
            ..
        } = files;
        Ok(Llama {
            config,
            path,
            tokenizer,
            chat_template,
            weights,
        })
    }

    /// Build the model from Hugging Face-named tensors in memory (tests make small random
    /// models this way), with the same checks as a model file: the config, the tokenizer
    /// against the vocabulary, and every tensor's presence and shape.
    pub fn from_tensors(
        config: LlamaConfig,
        tensors: BTreeMap<String, WeightMatrix>,
        tokenizer: Tokenizer,
    ) -> Result<Llama> {
        let source = Path::new(IN_MEMORY);
        config.validate(source)?;
        config.check_tokenizer(&tokenizer, source)?;
        let weights = LlamaWeights::load(TensorSource::Memory(tensors), &config)?;
        Ok(Llama {
            config,
            path: PathBuf::new(),
            tokenizer,
            chat_template: None,
            weights,
        })
    }

    /// The output head: `lm_head`, or the embedding matrix when tied.
    pub fn head(&self) -> &WeightMatrix {
        self.weights.head()
    }

    /// Head counts and size, as the attention module wants them.
    pub fn attention_shape(&self) -> AttentionShape {
        let c = &self.config;
        AttentionShape {
            n_heads: c.num_attention_heads,
            n_kv_heads: c.num_key_value_heads,
            head_dim: c.head_dim(),
        }
    }

    /// A new session for sequences of up to `max_seq` tokens (prompt + generated).
    /// Refused past the model's `max_position_embeddings`.
    pub fn new_session(&self, max_seq: usize) -> Result<Session> {
        Session::new(&self.config, max_seq)
    }

    /// KV-cache memory for `seq_len` positions in f32 (the formula is `KvCache::bytes_for`).
    pub fn kv_cache_bytes(&self, seq_len: usize) -> usize {
        self.config
            .kv_cache_bytes(seq_len, std::mem::size_of::<f32>())
    }

    // ANCHOR: forward
    /// Run the new token `ids` through the model, after whatever the session already holds,
    /// and return the logits of the last position `[vocab]`.
    ///
    /// Many ids (a prompt) are a prefill: matrix–matrix products, in chunks of at most the
    /// session's scratch size. One id is a decode step: matrix–vector products. Ids outside
    /// the vocabulary, or more ids than the context has room for, are refused before any work.
    pub fn forward<'s>(&self, s: &'s mut Session, ids: &[u32]) -> Result<&'s [f32]> {
        s.check_fits(&self.config)?;
        let vocab = self.config.vocab_size;
        if ids.is_empty() {
            return Err(Error::invalid("forward: no token ids to run"));
        }
        if let Some((i, id)) = ids.iter().enumerate().find(|(_, &id)| id as usize >= vocab) {
            return Err(Error::invalid(format!(
                "token id {id} at index {i} is outside the vocabulary (size {vocab})"
            )));
        }
        let start = s.len();
        if start + ids.len() > s.max_seq() {
            return Err(Error::invalid(format!(
                "{} new tokens after the {start} already in the session exceed its context of {} tokens \
                 (start a session with a larger context; this model allows up to {})",
                ids.len(),
                s.max_seq(),
                self.config.max_position_embeddings
            )));
        }
        // The whole pass runs on one of rayon's threads: one hand-off per pass instead of one
        // per product, and inside the pool the products split their rows by work stealing, so
        // a thread the OS has descheduled simply takes no rows (see `on_pool`). A decode step's
        // other threads stay awake between its products (`stay_awake`).
        on_pool(ids.len() <= GEMV_MAX_SEQ, || self.run(s, ids));
        if ids.len() > GEMV_MAX_SEQ {
            release_free_heap(); // a prefill's packed inputs and tiles, freed by now
            s.release_prefill_rows(); // and the scratch rows a decode step does not use
        }
        self.check_finite(&s.logits, start + ids.len() - 1)?;
        Ok(&s.logits)
    }
    // ANCHOR_END: forward

    /// Every block for `ids` (in chunks), then the final norm and the head for the last one.
    fn run(&self, s: &mut Session, ids: &[u32]) {
        for chunk in ids.chunks(s.chunk_rows()) {
            self.run_chunk(s, chunk);
        }
        s.tokens.extend_from_slice(ids);
        // Only the last position's next-token distribution is needed.
        let d = self.config.hidden_size;
        let last = (ids.len() - 1) % s.chunk_rows(); // row of the last id inside the last chunk
        let mut clock = Clock::start(s.profile.as_mut());
        let x_last = &s.x[last * d..(last + 1) * d];
        let norm = &self.weights.norm.weight;
        rmsnorm(x_last, norm, self.config.rms_norm_eps, &mut s.last);
        if let Some(cap) = s.capture.as_mut() {
            cap[(self.config.num_hidden_layers + 1) * d..].copy_from_slice(&s.last);
        }
        clock.lap(Step::FinalNorm);
        let xq = quantize_if(s.activations, &mut s.xq, &s.last);
        WeightMatrix::matvec_many(&s.last, xq, [(self.head(), &mut s.logits)]);
        clock.lap(Step::Head);
        if let Some(p) = s.profile.as_mut() {
            p.forwards += 1;
        }
    }

    /// NaN or infinite logits come from NaN/inf weights (a corrupt or hostile file: the
    /// weights are not scanned at load time) and have no distribution to sample from: they
    /// are an error naming the model, never handed to the sampler. Cost: one pass over
    /// `[vocab]` per forward.
    fn check_finite(&self, logits: &[f32], pos: usize) -> Result<()> {
        match logits.iter().position(|l| !l.is_finite()) {
            None => Ok(()),
            Some(id) => Err(Error::format(
                &self.path,
                format!(
                    "the forward pass produced a non-finite logit ({}) for token id {id} at position {pos}: \
                     the model's weights hold NaN or infinite values",
                    logits[id]
                ),
            )),
        }
    }

    // ANCHOR: block
    /// The embedding and every block for `ids` (at most `chunk_rows` of them) at the session's
    /// next positions; the K/V rows go into the cache and its length advances.
    pub(crate) fn run_chunk(&self, s: &mut Session, ids: &[u32]) {
        let c = &self.config;
        let f = &c.family; // where Gemma differs from Llama
        let (seq, d, pos, eps) = (ids.len(), c.hidden_size, s.len(), c.rms_norm_eps);
        let (nh, nkv, ffn) = (
            c.num_attention_heads,
            c.num_key_value_heads,
            c.intermediate_size,
        );
        let (q_dim, kv_dim) = (nh * c.head_dim(), c.kv_dim());
        let shape = self.attention_shape();
        let Session {
            cache,
            rope,
            rope_local,
            x,
            xn,
            q,
            k,
            v,
            att,
            gate,
            up,
            capture,
            profile,
            activations,
            xq,
            ..
        } = s;
        // 8-bit activations apply to one-token (matrix–vector) products only
        let act = match seq {
            1 => *activations,
            _ => Activations::F32,
        };
        let mut clock = Clock::start(profile.as_mut());
        // With capture on, keep the last position's hidden state: row 0 after the embedding,
        // row l + 1 after layer l (row n_layers + 1, after the final norm, is written by forward).
        let mut keep = |i: usize, x: &[f32]| {
            if let Some(cap) = capture.as_mut() {
                cap[i * d..(i + 1) * d].copy_from_slice(&x[(seq - 1) * d..]);
            }
        };
        let x = &mut x[..seq * d]; //        x:    [seq, d]   the residual stream
        let xn = &mut xn[..seq * d]; //      xn:   [seq, d]   normed input, then a branch's output
        let q = &mut q[..seq * q_dim]; //    q:    [seq, n_heads·hd]
        let k = &mut k[..seq * kv_dim]; //   k, v: [seq, n_kv·hd]   the new keys and values
        let v = &mut v[..seq * kv_dim];
        let att = &mut att[..seq * q_dim]; // att:  [seq, n_heads·hd]
        let gate = &mut gate[..seq * ffn]; // gate: [seq, ffn]
        let up = &mut up[..seq * ffn]; //    up:   [seq, ffn]

        // Embedding lookup: row `id` of the embedding matrix, decoded from its stored type
        // (Gemma: times √d).
        for (row, &id) in x.chunks_exact_mut(d).zip(ids) {
            self.weights.embed_tokens.dequantize_row(id as usize, row);
        }
        if let Some(scale) = f.embedding_scale(d) {
            x.iter_mut().for_each(|xi| *xi *= scale);
        }
        keep(0, x);
        clock.lap(Step::Embed);

        for (l, w) in self.weights.layers.iter().enumerate() {
            // ---- attention branch: x = x + o_proj(attention(rope(q), rope(k), v))
            rmsnorm_rows(x, &w.input_layernorm.weight, eps, xn);
            clock.lap(Step::AttnNorm);
            // K and V go to the session's buffers first, then into the cache: a sliding-window
            // layer's ring may wrap inside a prompt.
            let qkv = [
                (&w.q_proj, &mut *q),
                (&w.k_proj, &mut *k),
                (&w.v_proj, &mut *v),
            ];
            WeightMatrix::matmul_many(xn, quantize_if(act, xq, xn), seq, qkv);
            clock.lap(Step::Qkv);
            if let Some(n) = &w.qk_norm {
                // Gemma: each head of q and k normalised on its own ([hd] weights)
                rmsnorm_rows_inplace(q, &n.q.weight, eps);
                rmsnorm_rows_inplace(k, &n.k.weight, eps);
            }
            // a local layer rotates with its own base (Gemma 3)
            let rope = match (f.window(l), rope_local.as_ref()) {
                (Some(_), Some(local)) => local,
                _ => &*rope,
            };
            rope.apply_rows(q, nh, pos, RopeLayout::HalfSplit);
            rope.apply_rows(k, nkv, pos, RopeLayout::HalfSplit);
            if let Some(scale) = f.query_scale(c.head_dim()) {
                q.iter_mut().for_each(|qi| *qi *= scale);
            }
            clock.lap(Step::Rope);
            // K and V join the cache (a sliding-window layer's ring keeps only its window)
            cache.write_rows(l, pos, k, v);
            let probe = s.attn_probe.as_mut().filter(|p| p.0 == l).map(|p| &mut p.1);
            attention(q, cache, l, pos, &shape, att, probe);
            clock.lap(Step::Attention);
            WeightMatrix::matmul_many(att, quantize_if(act, xq, att), seq, [(&w.o_proj, xn)]);
            if let Some(n) = &w.sandwich {
                rmsnorm_rows_inplace(xn, &n.after_attention.weight, eps); // Gemma
            }
            clock.lap(Step::OProj);
            add_assign(x, xn);
            clock.lap(Step::Residual);

            // ---- MLP branch: x = x + down(act(gate(h)) ⊙ up(h))   (SiLU: SwiGLU, GELU: GeGLU)
            rmsnorm_rows(x, &w.post_attention_layernorm.weight, eps, xn);
            clock.lap(Step::FfnNorm);
            let gate_up = [(&w.gate_proj, &mut *gate), (&w.up_proj, &mut *up)];
            WeightMatrix::matmul_many(xn, quantize_if(act, xq, xn), seq, gate_up);
            clock.lap(Step::GateUp);
            glu_inplace(f.activation(), gate, up);
            clock.lap(Step::Glu);
            WeightMatrix::matmul_many(gate, quantize_if(act, xq, gate), seq, [(&w.down_proj, xn)]);
            if let Some(n) = &w.sandwich {
                rmsnorm_rows_inplace(xn, &n.after_mlp.weight, eps); // Gemma
            }
            clock.lap(Step::Down);
            add_assign(x, xn);
            keep(l + 1, x);
            clock.lap(Step::Residual);
        }
        cache.set_len(pos + seq);
    }
    // ANCHOR_END: block
}

/// `x` as 8-bit blocks in `buf` when the activations are 8-bit, else `None` (f32).
fn quantize_if<'b>(act: Activations, buf: &'b mut Q8Act, x: &[f32]) -> Option<&'b Q8Act> {
    (act == Activations::Q8).then(|| {
        buf.quantize(x);
        &*buf
    })
}

/// Return the heap's free pages to the OS. The allocator keeps memory a program freed for the
/// next allocation, so after loading (temporary strings, hash maps) and after a prefill (packed
/// inputs, decoded tiles: per thread) the resident set holds megabytes no one uses while the
/// decode runs. glibc's `malloc_trim(0)` releases every whole free page of every arena (a
/// fraction of a millisecond here); elsewhere this does nothing.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the OS; it takes the allocator's locks
    // like any malloc call and invalidates no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `x += y`, element-wise (the residual connection).
fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
