//! Stage 3 · a session: one sequence's KV-cache and scratch buffers, allocated once.
//!
//! Everything the forward pass writes lives here, sized when the session is made:
//!
//! ```text
//! cache   k, v: [layers, max_seq, kv_dim]        2 × 30 × 192 × 4 B = 46,080 B per position (SmolLM2)
//!                                                (a sliding-window layer: a ring of window − 1 + chunk rows)
//! rope    cos, sin: [max_seq, head_dim/2]        the rotation angles of every position
//!                                                (rope_local: the same for the local layers' base)
//! x, xn   [chunk, d]                             residual stream, normed input / branch output
//! q, att  [chunk, n_heads·hd]                    queries, attention output
//! k, v    [chunk, kv_dim]                        the new keys and values, before they go into the cache
//! gate, up [chunk, ffn]                          the MLP's two projections
//! last    [d], logits [vocab]                    the last position after the final norm, and its logits
//! ```
//!
//! `chunk` = min(max_seq, [`PREFILL_CHUNK`]): a long prompt is run in chunks of that many
//! tokens (each chunk attends to everything cached before it, so the result is the same), which
//! bounds the scratch memory. Decoding one token writes into these same buffers: no allocation
//! per token in the model.

use crate::kv_cache::KvCache;
use crate::model::profile::Profile;
use crate::quant::q8act::{Activations, Q8Act};
use crate::rope::RopeTable;
use crate::weights::config::LlamaConfig;
use crate::{Error, Result};

pub use crate::kv_cache::PREFILL_CHUNK;

/// One sequence in progress: the KV-cache of every token so far and the scratch buffers.
#[derive(Debug)]
pub struct Session {
    pub(crate) cache: KvCache,
    /// The ids whose K/V rows the cache holds, in position order (what prefix caching compares).
    pub(crate) tokens: Vec<u32>,
    pub(crate) rope: RopeTable,
    /// The local layers' rotations when their RoPE base differs (Gemma 3: 10,000 vs 1,000,000).
    pub(crate) rope_local: Option<RopeTable>,
    chunk: usize,
    hidden: usize,
    vocab: usize,
    pub(crate) x: Vec<f32>,      // x: [chunk, d]
    pub(crate) xn: Vec<f32>,     // xn: [chunk, d]
    pub(crate) q: Vec<f32>,      // q: [chunk, n_heads·hd]
    pub(crate) k: Vec<f32>,      // k: [chunk, kv_dim]
    pub(crate) v: Vec<f32>,      // v: [chunk, kv_dim]
    pub(crate) att: Vec<f32>,    // att: [chunk, n_heads·hd]
    pub(crate) gate: Vec<f32>,   // gate: [chunk, ffn]
    pub(crate) up: Vec<f32>,     // up: [chunk, ffn]
    pub(crate) last: Vec<f32>,   // last: [d]
    pub(crate) logits: Vec<f32>, // logits: [vocab]
    /// With an attention probe on layer `l`: `(l, weights)`, that layer's attention
    /// probabilities `[n_heads, seq, start + seq]` for the last chunk a forward pass ran.
    pub(crate) attn_probe: Option<(usize, Vec<f32>)>,
    /// With capture on: `[n_layers + 2, d]`, the last position's hidden state after the
    /// embedding (row 0), after each layer (rows 1..=n_layers) and after the final norm.
    pub(crate) capture: Option<Vec<f32>>,
    /// With profiling on: the time of every step of every forward pass so far.
    pub(crate) profile: Option<Profile>,
    /// f32 (default) or 8-bit activations for the matrix–vector products.
    pub(crate) activations: Activations,
    /// xq: the current product's x as 8-bit blocks (8-bit activations only).
    pub(crate) xq: Q8Act,
}

impl Session {
    /// Allocate a session for up to `max_seq` positions of a model with this config.
    pub fn new(c: &LlamaConfig, max_seq: usize) -> Result<Session> {
        Session::with_chunk(c, max_seq, PREFILL_CHUNK)
    }

    /// [`Session::new`] with prefills run `chunk` tokens at a time (tests use small chunks to
    /// check that chunking does not change the result).
    pub fn with_chunk(c: &LlamaConfig, max_seq: usize, chunk: usize) -> Result<Session> {
        if chunk == 0 {
            return Err(Error::invalid("the prefill chunk must be at least 1 token"));
        }
        if max_seq == 0 {
            return Err(Error::invalid(
                "the context length must be at least 1 token",
            ));
        }
        if max_seq > c.max_position_embeddings {
            return Err(Error::invalid(format!(
                "a context of {max_seq} tokens is longer than the model's maximum ({} positions)",
                c.max_position_embeddings
            )));
        }
        let (d, hd, ffn) = (c.hidden_size, c.head_dim(), c.intermediate_size);
        let q_dim = c.num_attention_heads * hd;
        let chunk = max_seq.min(chunk);
        check_allocation(c, max_seq, chunk)?;
        let windows = c.family.windows(c.num_hidden_layers);
        // the local layers' base, if any layer has one of its own
        let local_theta = (0..c.num_hidden_layers)
            .map(|l| c.family.rope_theta(l, c.rope_theta))
            .find(|&t| t != c.rope_theta);
        Ok(Session {
            cache: KvCache::with_windows(max_seq, c.kv_dim(), &windows, chunk),
            tokens: Vec::with_capacity(max_seq),
            rope: RopeTable::new(hd, max_seq, c.rope_theta, c.rope_scaling.as_ref()),
            rope_local: local_theta.map(|t| RopeTable::new(hd, max_seq, t, None)),
            chunk,
            hidden: d,
            vocab: c.vocab_size,
            x: vec![0.0; chunk * d],
            xn: vec![0.0; chunk * d],
            q: vec![0.0; chunk * q_dim],
            k: vec![0.0; chunk * c.kv_dim()],
            v: vec![0.0; chunk * c.kv_dim()],
            att: vec![0.0; chunk * q_dim],
            gate: vec![0.0; chunk * ffn],
            up: vec![0.0; chunk * ffn],
            last: vec![0.0; d],
            logits: vec![0.0; c.vocab_size],
            attn_probe: None,
            capture: None,
            profile: None,
            activations: Activations::F32,
            xq: Q8Act::default(),
        })
    }

    /// Positions already in the cache (the next token goes at this position).
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// The most positions this session holds.
    pub fn max_seq(&self) -> usize {
        self.cache.max_seq()
    }

    /// Tokens a prefill runs through the model at once.
    pub fn chunk_rows(&self) -> usize {
        self.chunk
    }

    /// Forget the sequence; the next forward starts at position 0 (the buffers are reused).
    pub fn reset(&mut self) {
        self.cache.reset();
        self.tokens.clear();
    }

    /// Go back to `len` positions (e.g. to re-run the end of a prompt). Panics if `len` is
    /// more than what is cached, or if a sliding-window layer's ring no longer holds the
    /// positions position `len` would attend to (`KvCache::can_rewind_to`).
    pub fn truncate(&mut self, len: usize) {
        assert!(
            len <= self.cache.len(),
            "truncate to {len} > {} cached positions",
            self.cache.len()
        );
        assert!(
            self.cache.can_rewind_to(len),
            "truncate to {len}: a sliding-window layer has overwritten the rows it needs"
        );
        self.cache.set_len(len);
        self.tokens.truncate(len);
    }

    /// The ids in the cache, in position order.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    // ANCHOR: reuse_prefix
    /// Prefix caching: keep the cached positions whose ids equal the start of `ids`, forget
    /// the rest, and return how many were kept. Row `p` of the cache depends only on the ids
    /// at positions `0..=p` (attention is causal), so those rows are exactly what a prefill of
    /// `ids` would write there. At most `ids.len() − 1` are kept: the last id is always run
    /// again, because its logits are what the caller needs.
    ///
    /// ```text
    /// cached: [s y s u s e r Q 1 a s s t A 1]      (turn 1 and its answer)
    /// ids:    [s y s u s e r Q 1 a s s t A 1 u s e r Q 2 a s s t]
    ///          └────────── kept: 15 ─────────┘└── run: 9 ──────┘
    /// ```
    pub fn reuse_prefix(&mut self, ids: &[u32]) -> usize {
        let common = self
            .tokens
            .iter()
            .zip(ids)
            .take_while(|(a, b)| a == b)
            .count();
        let mut keep = common.min(ids.len().saturating_sub(1));
        if !self.cache.can_rewind_to(keep) {
            keep = 0; // a ring (sliding-window layer) overwrote rows the kept prefix needs
        }
        self.truncate(keep);
        keep
    }
    // ANCHOR_END: reuse_prefix

    /// After a prefill: hand the scratch rows past the first back to the OS. A decode step
    /// writes and reads row 0 only, so the other rows of `[chunk, …]` (≈ 3 MB after a 128-token
    /// prompt on SmolLM2) would sit in the resident set doing nothing while the model decodes.
    /// Their pages come back (as zeros) when the next prefill writes them; every row a pass
    /// reads it has written first, so no result depends on what they held. The program's code
    /// pages go too where the command chose it (`resident::after_prefill`): a decode step runs
    /// a small part of it.
    pub(crate) fn release_prefill_rows(&mut self) {
        let chunk = self.chunk;
        let buffers = [
            &mut self.x,
            &mut self.xn,
            &mut self.q,
            &mut self.k,
            &mut self.v,
            &mut self.att,
            &mut self.gate,
            &mut self.up,
        ];
        for buf in buffers {
            let row = buf.len() / chunk;
            release_pages_of(&mut buf[row..]);
        }
        // the code the load and the prefill ran: a decode step faults back what it runs
        crate::model::resident::after_prefill();
    }

    /// The KV-cache, read-only (lessons look at its rows).
    pub fn cache(&self) -> &KvCache {
        &self.cache
    }

    /// Bytes really allocated for the KV-cache (K and V of every layer and position).
    pub fn kv_cache_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// The logits of the last forward pass `[vocab]`.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Keep the attention probabilities of `layer` on every forward pass from now on (`None`:
    /// stop). The weights are those of the last chunk run, so run a prompt in one chunk
    /// ([`Session::with_chunk`]) to see all of it; asking for them takes the row-by-row
    /// attention path, which computes exactly the probabilities it returns.
    pub fn set_attention_probe(&mut self, layer: Option<usize>) {
        self.attn_probe = layer.map(|l| (l, Vec::new()));
    }

    /// The probed layer's attention probabilities from the last forward pass:
    /// `[n_heads, seq, start + seq]` (row `t` of head `h` is query position `start + t`; 0 where
    /// masked). Empty until a forward pass has run.
    pub fn attention_probe(&self) -> Option<&[f32]> {
        self.attn_probe.as_ref().map(|(_, w)| w.as_slice())
    }

    /// Turn hidden-state capture on or off (on allocates `[n_layers + 2, d]` once).
    pub fn set_capture(&mut self, n_layers: usize, on: bool) {
        self.capture = on.then(|| vec![0.0; (n_layers + 2) * self.hidden]);
    }

    /// The captured hidden states of the last position of the last forward pass:
    /// `[0]` after the embedding, `[l + 1]` after layer `l`, the last after the final norm.
    pub fn captured(&self) -> Option<Vec<&[f32]>> {
        self.capture
            .as_ref()
            .map(|c| c.chunks_exact(self.hidden).collect())
    }

    /// f32 (default) or 8-bit activations for the matrix–vector products of this session
    /// (every one-token product: decode steps and the output head). Refused for a model whose
    /// widths are not whole blocks of 32.
    pub fn set_activations(&mut self, a: Activations) -> Result<()> {
        if a == Activations::Q8 && !self.hidden.is_multiple_of(32) {
            return Err(Error::invalid(format!(
                "8-bit activations need widths that are multiples of 32 (hidden size {})",
                self.hidden
            )));
        }
        self.activations = a;
        Ok(())
    }

    pub fn activations(&self) -> Activations {
        self.activations
    }

    /// Turn step timing on (a fresh [`Profile`]) or off.
    pub fn set_profile(&mut self, on: bool) {
        self.profile = on.then(Profile::default);
    }

    /// The step times so far, when profiling is on.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// The step times so far, mutable (the caller adds the steps it times itself: sampling).
    pub fn profile_mut(&mut self) -> Option<&mut Profile> {
        self.profile.as_mut()
    }

    /// The step times so far; profiling is off afterwards.
    pub fn take_profile(&mut self) -> Option<Profile> {
        self.profile.take()
    }

    /// Refuse a session made for a different model.
    pub(crate) fn check_fits(&self, c: &LlamaConfig) -> Result<()> {
        let fits = self.cache.n_layers() == c.num_hidden_layers
            && self.cache.kv_dim() == c.kv_dim()
            && (0..c.num_hidden_layers).all(|l| self.cache.window(l) == c.family.window(l))
            && self.hidden == c.hidden_size
            && self.vocab == c.vocab_size
            && self.gate.len() == self.chunk * c.intermediate_size
            && self.q.len() == self.chunk * c.num_attention_heads * c.head_dim()
            && self
                .capture
                .as_ref()
                .is_none_or(|cap| cap.len() == (c.num_hidden_layers + 2) * c.hidden_size);
        if fits {
            Ok(())
        } else {
            Err(Error::invalid(
                "this session was made for a different model (use model.new_session)",
            ))
        }
    }
}

/// Return the whole pages inside `buf` to the OS (Linux; elsewhere nothing happens). They
/// read as 0.0 when next touched.
fn release_pages_of(buf: &mut [f32]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = buf.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(buf);
        let (a, b) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
        if b > a {
            // SAFETY: [a, b) lies inside `buf`, which is borrowed exclusively, and holds f32
            // values only (whole pages inside the allocation: no allocator metadata). On
            // private anonymous memory (the heap) MADV_DONTNEED makes the next read of these
            // pages see zero bytes, a valid f32 (0.0); no other reference observes them. A
            // failure leaves the pages resident and the values unchanged.
            unsafe {
                libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_DONTNEED);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}

/// Refuse, with an error, a session whose buffers cannot be allocated (a context of 2³¹
/// positions is 1 TiB of KV-cache even for a tiny model). Sizes are multiplied with overflow
/// checks, and each large buffer is reserved once and released before the real (zeroed,
/// lazily mapped) allocation: without this, `vec![0.0; n]` aborts the process.
fn check_allocation(c: &LlamaConfig, max_seq: usize, chunk: usize) -> Result<()> {
    let widest = c
        .hidden_size
        .max(c.intermediate_size)
        .max(c.num_attention_heads * c.head_dim());
    let kv = c
        .num_hidden_layers
        .checked_mul(max_seq)
        .and_then(|n| n.checked_mul(c.kv_dim()));
    // (what, elements of one buffer, how many such buffers)
    let buffers = [
        ("KV-cache", kv, 2),                       // k, v: [layer, max_seq, kv_dim]
        ("scratch", chunk.checked_mul(widest), 6), // x, xn, q, att, gate, up: [chunk, ≤ widest]
        ("logits buffer", Some(c.vocab_size), 1),  // logits: [vocab]
    ];
    for (what, elems, copies) in buffers {
        let bytes = elems.and_then(|n| n.checked_mul(copies * std::mem::size_of::<f32>()));
        let fits = match (elems, bytes) {
            (Some(n), Some(_)) => Vec::<f32>::new().try_reserve_exact(n).is_ok(),
            _ => false,
        };
        if !fits {
            let bytes = bytes.map_or("more than 2^64".to_string(), |b| b.to_string());
            return Err(Error::invalid(format!(
                "a session of {max_seq} positions needs a {what} of {bytes} bytes, which cannot \
                 be allocated: use a smaller context (--ctx-size)"
            )));
        }
    }
    Ok(())
}
