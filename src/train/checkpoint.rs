//! Stage 8 · checkpoints: a Hugging Face directory that `glassbox generate --model DIR` and
//! `transformers` both load, plus what resuming needs.
//!
//! ```text
//! OUT/checkpoint-000500/          written as OUT/.checkpoint-000500.partial/, then renamed
//!     config.json                 LlamaForCausalLM, tied embeddings, float32
//!     generation_config.json      bos/eos ids
//!     tokenizer.json              the tokenizer trained on, byte for byte
//!     model.safetensors           every parameter under its Hugging Face name, f32
//!     optimizer.safetensors       AdamW's moments: m.<name>, v.<name>
//!     trainer_state.json          step, AdamW's step count, the run's whole configuration
//! OUT/config.json, generation_config.json, tokenizer.json, model.safetensors
//!                                 the newest model, each file replaced atomically
//! ```
//!
//! A checkpoint directory appears whole or not at all (the rename is atomic), so `--resume`
//! never reads half a checkpoint. Each file is fsynced before the rename.

use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde_json::{json, Value};

use crate::formats::file;
use crate::train::optim::AdamW;
use crate::train::params::Params;
use crate::weights::config::LlamaConfig;
use crate::{Error, Result};

/// The files of a checkpoint that make it a Hugging Face model directory.
pub const MODEL_FILES: [&str; 4] = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "model.safetensors",
];

/// `OUT/checkpoint-NNNNNN` for a step (zero-padded, so names sort by step).
pub fn checkpoint_dir(out: &Path, step: usize) -> PathBuf {
    out.join(format!("checkpoint-{step:06}"))
}

/// Tensors as a safetensors file in memory: `(name, [rows, cols], values)`, f32, with a
/// vector (`rows == 1`) stored as shape `[cols]` as Hugging Face does.
pub fn safetensors_bytes(tensors: &[(String, [usize; 2], &[f32])]) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, t)| t.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, [r, c], _), b)| {
            let shape = if *r == 1 { vec![*c] } else { vec![*r, *c] };
            let view = TensorView::new(Dtype::F32, shape, b)
                .map_err(|e| Error::invalid(format!("tensor {name}: {e}")))?;
            Ok((name.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = [("format".to_string(), "pt".to_string())]
        .into_iter()
        .collect();
    safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| Error::invalid(format!("cannot write safetensors: {e}")))
}

/// Read f32 tensor `name` of a safetensors file's bytes into `dst` (length checked).
fn read_f32(st: &SafeTensors, path: &Path, name: &str, dst: &mut [f32]) -> Result<()> {
    let t = st
        .tensor(name)
        .map_err(|_| Error::missing_tensor(path, name))?;
    if t.dtype() != Dtype::F32 || t.data().len() != dst.len() * 4 {
        return Err(Error::format(
            path,
            format!(
                "tensor {name}: {:?} {:?}, expected F32 with {} values (does the checkpoint \
                 belong to this model shape?)",
                t.dtype(),
                t.shape(),
                dst.len()
            ),
        ));
    }
    for (v, b) in dst.iter_mut().zip(t.data().chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    Ok(())
}

/// Everything a checkpoint holds.
pub struct Saved<'a> {
    pub config: &'a LlamaConfig,
    pub params: &'a Params,
    pub opt: &'a AdamW,
    /// Steps completed.
    pub step: usize,
    /// The run's configuration (`trainer_state.json` → `"run"`).
    pub run: Value,
    pub tokenizer_json: &'a [u8],
}

// ANCHOR: save
/// Write checkpoint `OUT/checkpoint-{step}` atomically, then the model files at the top of
/// `out`; keep only the newest `keep` checkpoint directories. Returns the checkpoint's path.
pub fn save(out: &Path, s: &Saved, keep: usize) -> Result<PathBuf> {
    let c = s.config;
    let names = Params::names_and_shapes(c);
    let model = named(&names, s.params, "");
    let mut opt = named(&names, &s.opt.m, "m.");
    opt.extend(named(&names, &s.opt.v, "v."));
    let eos = match c.eos_token_ids.as_slice() {
        [] => Value::Null,
        [one] => json!(one),
        many => json!(many),
    };
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("config.json", json_bytes(&c.to_hf_json("float32"))?),
        (
            "generation_config.json",
            json_bytes(&json!({"bos_token_id": c.bos_token_id, "eos_token_id": eos}))?,
        ),
        ("tokenizer.json", s.tokenizer_json.to_vec()),
        ("model.safetensors", safetensors_bytes(&model)?),
        ("optimizer.safetensors", safetensors_bytes(&opt)?),
        (
            "trainer_state.json",
            json_bytes(&json!({"step": s.step, "adam_t": s.opt.t, "run": s.run}))?,
        ),
    ];
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let dir = checkpoint_dir(out, s.step);
    let partial = out.join(format!(".checkpoint-{:06}.partial", s.step));
    let _ = std::fs::remove_dir_all(&partial); // a leftover of an interrupted save
    std::fs::create_dir(&partial).map_err(|e| Error::io(&partial, e))?;
    for (name, bytes) in &files {
        file::write_atomic(&partial.join(name), bytes)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    std::fs::rename(&partial, &dir).map_err(|e| Error::io(&dir, e))?;
    for (name, bytes) in files.iter().filter(|(n, _)| MODEL_FILES.contains(n)) {
        file::write_atomic(&out.join(name), bytes)?;
    }
    let all = list_checkpoints(out)?;
    for (_, old) in all.iter().rev().skip(keep.max(1)) {
        std::fs::remove_dir_all(old).map_err(|e| Error::io(old, e))?;
    }
    Ok(dir)
}
// ANCHOR_END: save

/// `(prefix + name, shape, values)` of every tensor of `p`.
fn named<'p>(
    names: &[(String, [usize; 2])],
    p: &'p Params,
    prefix: &str,
) -> Vec<(String, [usize; 2], &'p [f32])> {
    names
        .iter()
        .zip(p.tensors())
        .map(|((n, shape), t)| (format!("{prefix}{n}"), *shape, t.as_slice()))
        .collect()
}

fn json_bytes(v: &Value) -> Result<Vec<u8>> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::invalid(e.to_string()))?;
    Ok((s + "\n").into_bytes())
}

/// The complete checkpoints in `out`, oldest first: (step, directory).
pub fn list_checkpoints(out: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(Error::io(out, e)),
    };
    for e in entries {
        let e = e.map_err(|e| Error::io(out, e))?;
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(step) = name
            .strip_prefix("checkpoint-")
            .and_then(|s| s.parse().ok())
        {
            found.push((step, e.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// A checkpoint read back for resuming.
pub struct Loaded {
    pub step: usize,
    pub adam_t: u64,
    pub run: Value,
}

/// Read checkpoint `dir` into `params` and the optimizer's moments (shapes as already
/// allocated for the run's config); returns the step and the saved run configuration.
pub fn load(dir: &Path, params: &mut Params, opt: &mut AdamW, c: &LlamaConfig) -> Result<Loaded> {
    let state_path = dir.join("trainer_state.json");
    let state = file::read_json(&state_path)?;
    let field = |k: &str| {
        state
            .get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::format(&state_path, format!("no number `{k}`")))
    };
    let (step, adam_t) = (field("step")? as usize, field("adam_t")?);
    read_tensors(&dir.join("model.safetensors"), &mut [("", params)], c)?;
    read_tensors(
        &dir.join("optimizer.safetensors"),
        &mut [("m.", &mut opt.m), ("v.", &mut opt.v)],
        c,
    )?;
    opt.t = adam_t;
    Ok(Loaded {
        step,
        adam_t,
        run: state.get("run").cloned().unwrap_or(Value::Null),
    })
}

/// Fill each `Params` of `sets` from the f32 tensors `prefix + name` of the safetensors file
/// `path` (every tensor must be there with the config's shape).
pub fn read_tensors(path: &Path, sets: &mut [(&str, &mut Params)], c: &LlamaConfig) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::format(path, format!("not a safetensors file: {e}")))?;
    let names = Params::names_and_shapes(c);
    for (prefix, p) in sets.iter_mut() {
        for ((name, _), t) in names.iter().zip(p.tensors_mut()) {
            read_f32(&st, path, &format!("{prefix}{name}"), t)?;
        }
    }
    Ok(())
}

/// The parameters stored in the safetensors file `path`, shaped by `c`.
pub fn read_params(path: &Path, c: &LlamaConfig) -> Result<Params> {
    let mut p = Params::zeros(c);
    read_tensors(path, &mut [("", &mut p)], c)?;
    Ok(p)
}
