//! Stage 4c: what the generation loop runs — the model behind one trait, real or scripted.

use crate::model::{Llama, Session};
use crate::{Error, Result};

/// What the loop needs from a model: append ids to the KV-cache and return the last logits.
pub trait NextTokenModel {
    /// Run `ids` after everything already cached; return the last position's logits `[vocab]`.
    fn forward(&mut self, ids: &[u32]) -> Result<&[f32]>;
    /// Positions already in the KV-cache.
    fn cached(&self) -> usize;
    /// The most positions the cache holds (the context window).
    fn context_size(&self) -> usize;
    /// Bytes of KV-cache memory allocated.
    fn kv_cache_bytes(&self) -> usize;
    /// Forget every cached position.
    fn reset(&mut self);
    /// Keep the cached positions whose ids equal the start of `ids` (at most `ids.len() − 1`),
    /// forget the rest; returns how many were kept (prefix caching).
    fn reuse_prefix(&mut self, ids: &[u32]) -> usize;
}

/// The real model with its session (KV-cache and scratch buffers).
pub struct LlamaRunner<'m> {
    pub model: &'m Llama,
    pub session: Session,
}

impl<'m> LlamaRunner<'m> {
    /// A runner whose context holds `ctx` positions (at most the model's own maximum).
    pub fn new(model: &'m Llama, ctx: usize) -> Result<LlamaRunner<'m>> {
        Ok(LlamaRunner {
            model,
            session: model.new_session(ctx)?,
        })
    }
}

impl NextTokenModel for LlamaRunner<'_> {
    fn forward(&mut self, ids: &[u32]) -> Result<&[f32]> {
        self.model.forward(&mut self.session, ids)
    }
    fn cached(&self) -> usize {
        self.session.len()
    }
    fn context_size(&self) -> usize {
        self.session.max_seq()
    }
    fn kv_cache_bytes(&self) -> usize {
        self.session.kv_cache_bytes()
    }
    fn reset(&mut self) {
        self.session.reset()
    }
    fn reuse_prefix(&mut self, ids: &[u32]) -> usize {
        self.session.reuse_prefix(ids)
    }
}

/// A stand-in model for tests and the book: call `i` returns `script[min(i, len-1)]`.
pub struct ScriptedModel {
    pub script: Vec<Vec<f32>>,
    /// Every `forward` call's ids, to check what the loop fed the model.
    pub calls: Vec<Vec<u32>>,
    pub context: usize,
    /// The ids "in the cache", as a real session would hold them.
    cached: Vec<u32>,
}

impl ScriptedModel {
    pub fn new(script: Vec<Vec<f32>>, context: usize) -> ScriptedModel {
        ScriptedModel {
            script,
            calls: Vec::new(),
            context,
            cached: Vec::new(),
        }
    }
    /// Logits `[vocab]` that are 0 everywhere and `10` at `id`: greedy picks `id`.
    pub fn one_hot(vocab: usize, id: u32) -> Vec<f32> {
        let mut l = vec![0.0; vocab];
        l[id as usize] = 10.0;
        l
    }
}

impl NextTokenModel for ScriptedModel {
    fn forward(&mut self, ids: &[u32]) -> Result<&[f32]> {
        if self.cached.len() + ids.len() > self.context {
            return Err(Error::invalid("scripted model: past the context"));
        }
        self.cached.extend_from_slice(ids);
        self.calls.push(ids.to_vec());
        let i = (self.calls.len() - 1).min(self.script.len() - 1);
        Ok(&self.script[i])
    }
    fn cached(&self) -> usize {
        self.cached.len()
    }
    fn context_size(&self) -> usize {
        self.context
    }
    fn kv_cache_bytes(&self) -> usize {
        0
    }
    fn reset(&mut self) {
        self.cached.clear();
    }
    fn reuse_prefix(&mut self, ids: &[u32]) -> usize {
        let common = self
            .cached
            .iter()
            .zip(ids)
            .take_while(|(a, b)| a == b)
            .count();
        let keep = common.min(ids.len().saturating_sub(1));
        self.cached.truncate(keep);
        keep
    }
}
