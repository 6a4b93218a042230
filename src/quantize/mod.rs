//! # Quantizing a whole model: a GGUF or Hugging Face model in, a GGUF file out
//!
//! ```text
//! IN (.gguf, or an HF dir)  ──open──▶ metadata + tensors under GGUF names, GGUF row order
//!   for each tensor:  quant::mix::tensor_type(file type, name, width, layer)   (the mix + fallbacks)
//!     kept        → its stored bytes, copied
//!     a new type  → rows decoded to f32 ─▶ quantize_row(type) ─▶ bytes, in parallel batches
//! ──gguf_write──▶ DIR/.OUT.<pid>.<n>.tmp ──fsync, rename──▶ OUT.gguf
//! ```
//!
//! From a Hugging Face directory the GGUF metadata (`llama.*`, `tokenizer.ggml.*`) is written
//! from its config and tokenizer, and the Q/K rows are put in GGUF's interleaved order with
//! `rope::hf_row_of_gguf_row` (the inverse of what loading does), so the file loads in
//! llama.cpp as one made by its own converter.
//!
//! While it writes, the quantizer measures what it did: for every tensor Σ(x − x̂)² and Σx², and
//! for K-quant tensors the same error under the simple max-abs scale rule, so the report can
//! say what the scale search bought.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::formats::gguf::{GgufFile, GgufValue};
use crate::formats::gguf_write::{write_gguf, TensorSpec};
use crate::formats::safetensors::SafetensorsModel;
use crate::quant::mix::{tensor_type, FileType, TensorFacts};
use crate::quant::{self, DType, ScaleRule};
use crate::rope::hf_row_of_gguf_row;
use crate::weights::checkpoint::{gguf_name_of, hf_shape};
use crate::weights::model_files::ModelFiles;
use crate::weights::tensor::WeightMatrix;
use crate::{Error, Result};

pub mod hf_meta;

/// What to make.
#[derive(Clone, Copy, Debug)]
pub struct QuantizeOptions {
    pub file_type: FileType,
    /// One type for every weight matrix (llama-quantize's `--pure`); fallbacks still apply.
    pub pure: bool,
    /// How the K-quants choose their scales.
    pub rule: ScaleRule,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// What happened to one tensor.
#[derive(Clone, Debug)]
pub struct TensorReport {
    pub name: String,
    pub from: DType,
    pub to: DType,
    pub elements: usize,
    pub bytes: usize,
    /// Σ (x − x̂)² and Σ x² over the tensor (0 and 0 for a copied tensor).
    pub sq_err: f64,
    pub sq_sum: f64,
    /// Σ (x − x̂)² had the K-quant used the max-abs scale rule (K-quant tensors only).
    pub sq_err_max_abs: Option<f64>,
}

/// GGUF metadata, in file order.
type Metadata = Vec<(String, GgufValue)>;

/// A source tensor: GGUF name and dims, the stored matrix, and for HF Q/K the head size whose
/// rows must be put in GGUF order.
struct SourceTensor {
    name: String,
    dims: Vec<u64>,
    w: WeightMatrix,
    qk_head_dim: Option<usize>,
}

impl SourceTensor {
    /// Stored row `r` of the output (GGUF) order.
    fn src_row(&self, r: usize) -> usize {
        self.qk_head_dim.map_or(r, |hd| hf_row_of_gguf_row(r, hd))
    }
}

/// Rows quantized per parallel batch (bounds the memory: a batch of the 49152-row embedding is
/// 1024 × 576 f32 = 2.4 MB).
const BATCH_ROWS: usize = 1024;

/// Quantize the model at `input` (a `.gguf` file or a Hugging Face directory) into `out`.
pub fn quantize_model(
    input: &Path,
    out: &Path,
    opts: &QuantizeOptions,
) -> Result<Vec<TensorReport>> {
    crate::formats::file::refuse_overwrite(out, &[input.to_path_buf()])?;
    let (mut metadata, tensors) = if input.is_dir() {
        open_hf(input)?
    } else {
        open_gguf(input)?
    };
    set_meta(
        &mut metadata,
        "general.file_type",
        GgufValue::U32(opts.file_type.gguf_id()),
    );
    set_meta(
        &mut metadata,
        "general.quantization_version",
        GgufValue::U32(2),
    );
    let facts = ModelFacts::of(&metadata, &tensors);
    // 1. choose every tensor's type, and size the file
    let mut plan = Vec::with_capacity(tensors.len());
    for t in &tensors {
        let f = TensorFacts {
            name: &t.name,
            dims: &t.dims,
            n_layers: facts.n_layers,
            n_gqa: facts.n_gqa,
            tied_embeddings: facts.tied,
        };
        let to = tensor_type(opts.file_type, &f, opts.pure).unwrap_or(t.w.dtype);
        let row_bytes = to.row_bytes(t.w.cols).ok_or_else(|| {
            Error::invalid(format!(
                "tensor `{}`: a row of {} is not a whole number of {to} blocks of {}",
                t.name,
                t.w.cols,
                to.block_size()
            ))
        })?;
        plan.push(TensorSpec {
            name: t.name.clone(),
            dims: t.dims.clone(),
            type_id: to.gguf_type_id(),
            n_bytes: (row_bytes * t.w.rows) as u64,
        });
    }
    // 2. write, tensor by tensor
    let total: u64 = tensors.iter().map(|t| (t.w.rows * t.w.cols) as u64).sum();
    let bar = if opts.progress {
        ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {percent:>3}% {msg}  (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    } else {
        ProgressBar::hidden()
    };
    let mut reports = Vec::with_capacity(tensors.len());
    write_gguf(out, &metadata, &plan, |i, w| {
        let (t, spec) = (&tensors[i], &plan[i]);
        let to = DType::from_gguf_type_id(spec.type_id).expect("a type chosen above");
        bar.set_message(format!("{} → {to}", t.name));
        let rep = write_tensor(t, to, opts.rule, w, &bar)?;
        reports.push(rep);
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(reports)
}

/// Write one tensor's bytes in type `to`; returns its report.
fn write_tensor(
    t: &SourceTensor,
    to: DType,
    rule: ScaleRule,
    w: &mut dyn Write,
    bar: &ProgressBar,
) -> Result<TensorReport> {
    let (rows, cols) = (t.w.rows, t.w.cols);
    let io = |e| Error::io("(output file)", e);
    let mut rep = TensorReport {
        name: t.name.clone(),
        from: t.w.dtype,
        to,
        elements: rows * cols,
        bytes: 0,
        sq_err: 0.0,
        sq_sum: 0.0,
        sq_err_max_abs: None,
    };
    if to == t.w.dtype {
        // kept: the stored rows, in output order
        for r in 0..rows {
            w.write_all(t.w.row(t.src_row(r))).map_err(io)?;
        }
        rep.bytes = rows * t.w.row_bytes();
        bar.inc((rows * cols) as u64);
        return Ok(rep);
    }
    let k_quant = to.block_size() == quant::QK_K;
    for r0 in (0..rows).step_by(BATCH_ROWS) {
        let r1 = (r0 + BATCH_ROWS).min(rows);
        // each row: (bytes, Σ(x−x̂)², Σx², Σ(x−x̂)² under max-abs)
        let done: Vec<(Vec<u8>, f64, f64, f64)> = (r0..r1)
            .into_par_iter()
            .map_init(
                || (vec![0.0f32; cols], vec![0.0f32; cols]),
                |(x, back), r| {
                    t.w.dequantize_row(t.src_row(r), x);
                    let q = quant::quantize_row_with(to, x, rule);
                    quant::dequantize_row(to, &q, back);
                    let (e, s) = sq_err(x, back);
                    let e_max_abs = if k_quant && rule == ScaleRule::Search {
                        let q2 = quant::quantize_row_with(to, x, ScaleRule::MaxAbs);
                        quant::dequantize_row(to, &q2, back);
                        sq_err(x, back).0
                    } else {
                        e
                    };
                    (q, e, s, e_max_abs)
                },
            )
            .collect();
        for (q, e, s, e2) in done {
            w.write_all(&q).map_err(io)?;
            rep.bytes += q.len();
            rep.sq_err += e;
            rep.sq_sum += s;
            *rep.sq_err_max_abs.get_or_insert(0.0) += e2;
        }
        bar.inc(((r1 - r0) * cols) as u64);
    }
    if !k_quant {
        rep.sq_err_max_abs = None;
    }
    Ok(rep)
}

/// (Σ (x − y)², Σ x²) in f64.
fn sq_err(x: &[f32], y: &[f32]) -> (f64, f64) {
    x.iter().zip(y).fold((0.0, 0.0), |(e, s), (&a, &b)| {
        let d = (a - b) as f64;
        (e + d * d, s + (a as f64) * (a as f64))
    })
}

/// Replace or append a metadata key.
fn set_meta(md: &mut Metadata, key: &str, v: GgufValue) {
    match md.iter_mut().find(|(k, _)| k == key) {
        Some(e) => e.1 = v,
        None => md.push((key.to_string(), v)),
    }
}

/// The facts the type rules need from the whole model.
struct ModelFacts {
    n_layers: usize,
    n_gqa: usize,
    tied: bool,
}

impl ModelFacts {
    fn of(md: &[(String, GgufValue)], tensors: &[SourceTensor]) -> ModelFacts {
        let arch = md
            .iter()
            .find(|(k, _)| k == "general.architecture")
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("llama")
            .to_string();
        let get = |key: &str| {
            md.iter()
                .find(|(k, _)| *k == format!("{arch}.{key}"))
                .and_then(|(_, v)| v.as_u64())
        };
        let heads = get("attention.head_count").unwrap_or(1).max(1);
        let kv = get("attention.head_count_kv").unwrap_or(heads).max(1);
        ModelFacts {
            n_layers: get("block_count").unwrap_or(0) as usize,
            n_gqa: (heads / kv) as usize,
            tied: !tensors.iter().any(|t| t.name == "output.weight"),
        }
    }
}

/// A GGUF input: its metadata as is, every tensor in file order.
fn open_gguf(path: &Path) -> Result<(Metadata, Vec<SourceTensor>)> {
    let g = GgufFile::open(path)?;
    let mut tensors = Vec::with_capacity(g.tensors.len());
    for info in &g.tensors {
        tensors.push(SourceTensor {
            name: info.name.clone(),
            dims: info.dims.clone(),
            w: WeightMatrix::from_gguf(&g, &info.name)?,
            qk_head_dim: None,
        });
    }
    Ok((g.metadata.clone(), tensors))
}

/// A Hugging Face input: tensors renamed to GGUF names, Q/K to be permuted, metadata built.
fn open_hf(dir: &Path) -> Result<(Metadata, Vec<SourceTensor>)> {
    // config, tokenizer, and every weight checked against the config, under HF names
    let m = ModelFiles::open_hf(dir)?;
    let metadata = hf_meta::llama_metadata(&m, dir)?;
    let hd = m.config.head_dim();
    let st = SafetensorsModel::open(dir)?; // the same tensors, over the mapped files again
    let mut tensors = Vec::new();
    for (hf, checked) in m.weights.by_name() {
        let w = WeightMatrix::from_safetensors(&st, hf)?;
        let name =
            gguf_name_of(hf).ok_or_else(|| Error::invalid(format!("no GGUF name for `{hf}`")))?;
        let dims = hf_shape(checked).iter().rev().map(|&d| d as u64).collect();
        let qk = hf.ends_with("q_proj.weight") || hf.ends_with("k_proj.weight");
        tensors.push(SourceTensor {
            name,
            dims,
            w,
            qk_head_dim: qk.then_some(hd),
        });
    }
    Ok((metadata, tensors))
}
