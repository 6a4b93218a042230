//! `glassbox quantize`: a model in, a quantized GGUF file out, and what it cost in error.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;

use crate::quant::mix::FileType;
use crate::quant::ScaleRule;
use crate::quantize::{quantize_model, QuantizeOptions, TensorReport};
use crate::{Error, Result};

/// Quantize a model (a .gguf file or a Hugging Face directory) into a GGUF file.
///
/// --type names a file type as llama.cpp's llama-quantize does, with the same per-tensor mix:
///   f32 f16 bf16                   every weight matrix in that float type
///   q8_0 q4_0 q4_1 q5_0 q5_1       blocks of 32 (the output head gets Q6_K, or Q8_0 when its
///                                  rows do not split into super-blocks)
///   q2_k q2_k_s q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m q6_k
///                                  super-blocks of 256; the _M mixes give the output head,
///                                  half the attn_v and ffn_down layers more bits
///   q3_k q4_k q5_k                 llama-quantize's names for q3_k_m, q4_k_m, q5_k_m
/// Norms and other vectors stay as stored (F32).
///
/// Rows that are not a whole number of blocks fall back as llama.cpp does: Q4_K → Q5_0,
/// Q5_K → Q5_1, Q6_K → Q8_0, Q2_K/Q3_K → Q4_0 (then F16). A model 576 wide, like SmolLM2,
/// therefore gets mostly 32-element blocks even at q4_k_m.
///
/// --scales picks how the K-quants choose their scales: `search` (default; llama.cpp's
/// weighted least-squares search, byte-identical to llama-quantize without an imatrix) or
/// `max-abs` (the simple rule it starts from). The report shows the weights' relative RMS error
/// per stored type under both.
///
/// The file is written under a temporary name beside OUT and renamed when complete; OUT may not
/// be the input file.
///
/// Examples:
///   glassbox quantize ~/.cache/glassbox/SmolLM2-135M-Instruct.Q4_1.gguf --type f32 --out smollm2-f32.gguf
///   glassbox quantize smollm2-f32.gguf --type q4_k_m --out smollm2-q4_k_m.gguf
///   glassbox quantize smollm2-hf/ --type q8_0 --out smollm2-q8_0.gguf
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The model to quantize: a .gguf file or a Hugging Face directory.
    pub input: PathBuf,
    /// The file type (see above), e.g. q4_k_m.
    #[arg(long = "type", value_name = "TYPE")]
    pub file_type: String,
    /// The GGUF file to write.
    #[arg(long, short)]
    pub out: PathBuf,
    /// One type for every weight matrix (no per-tensor mix; fallbacks still apply).
    #[arg(long)]
    pub pure: bool,
    /// How K-quants choose scales: search (llama.cpp's) or max-abs.
    #[arg(long, default_value = "search", value_parser = ["search", "max-abs"])]
    pub scales: String,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Per stored type: tensors, elements, bytes, Σerr², Σx², Σerr² under max-abs (when measured).
#[derive(Default)]
struct Sums {
    tensors: usize,
    elements: usize,
    bytes: usize,
    sq_err: f64,
    sq_sum: f64,
    sq_err_max_abs: Option<f64>,
}

fn rel_rms(err: f64, sum: f64) -> f64 {
    if sum > 0.0 {
        (err / sum).sqrt()
    } else {
        0.0
    }
}

pub fn run(args: Args) -> Result<()> {
    let file_type = FileType::parse(&args.file_type)?;
    if args.out.is_dir() {
        return Err(Error::invalid(format!(
            "--out {} is a directory; give the .gguf file to write",
            args.out.display()
        )));
    }
    let opts = QuantizeOptions {
        file_type,
        pure: args.pure,
        rule: match args.scales.as_str() {
            "max-abs" => ScaleRule::MaxAbs,
            _ => ScaleRule::Search,
        },
        progress: !args.json,
    };
    let t0 = std::time::Instant::now();
    let reports = quantize_model(&args.input, &args.out, &opts)?;
    let secs = t0.elapsed().as_secs_f64();
    let file_bytes = std::fs::metadata(&args.out)
        .map_err(|e| Error::io(&args.out, e))?
        .len();

    let mut by_type: BTreeMap<&str, Sums> = BTreeMap::new();
    for r in &reports {
        let s = by_type.entry(r.to.name()).or_default();
        s.tensors += 1;
        s.elements += r.elements;
        s.bytes += r.bytes;
        s.sq_err += r.sq_err;
        s.sq_sum += r.sq_sum;
        if let Some(e) = r.sq_err_max_abs {
            *s.sq_err_max_abs.get_or_insert(0.0) += e;
        }
    }
    let elements: usize = reports.iter().map(|r| r.elements).sum();
    let weight_bytes: usize = reports.iter().map(|r| r.bytes).sum();
    let bpw = 8.0 * weight_bytes as f64 / elements.max(1) as f64;
    let quantized: Vec<&TensorReport> = reports.iter().filter(|r| r.from != r.to).collect();
    let (e, s) = quantized
        .iter()
        .fold((0.0, 0.0), |(e, s), r| (e + r.sq_err, s + r.sq_sum));

    if args.json {
        let types: serde_json::Map<_, _> = by_type
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    json!({
                        "tensors": v.tensors, "elements": v.elements, "bytes": v.bytes,
                        "bits_per_weight": 8.0 * v.bytes as f64 / v.elements.max(1) as f64,
                        "rel_rms_error": rel_rms(v.sq_err, v.sq_sum),
                        "rel_rms_error_max_abs": v.sq_err_max_abs.map(|m| rel_rms(m, v.sq_sum)),
                    }),
                )
            })
            .collect();
        let v = json!({
            "input": args.input.display().to_string(),
            "output": args.out.display().to_string(),
            "file_type": file_type.name(),
            "pure": args.pure,
            "scales": args.scales,
            "file_bytes": file_bytes,
            "elements": elements,
            "bits_per_weight": bpw,
            "rel_rms_error": rel_rms(e, s),
            "types": types,
            "seconds": secs,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    println!(
        "{} → {} ({}{}), {} tensors in {secs:.1} s",
        args.input.display(),
        args.out.display(),
        file_type.name(),
        if args.pure { ", pure" } else { "" },
        reports.len()
    );
    println!(
        "\n{:<6} {:>8} {:>12} {:>12} {:>8} {:>14} {:>14}",
        "type", "tensors", "weights", "bytes", "bits/w", "rel RMS error", "… max-abs rule"
    );
    for (k, v) in &by_type {
        println!(
            "{:<6} {:>8} {:>12} {:>12} {:>8.3} {:>14} {:>14}",
            k,
            v.tensors,
            v.elements,
            v.bytes,
            8.0 * v.bytes as f64 / v.elements.max(1) as f64,
            if v.sq_sum > 0.0 {
                format!("{:.4}", rel_rms(v.sq_err, v.sq_sum))
            } else {
                "(copied)".into()
            },
            v.sq_err_max_abs
                .map_or(String::new(), |m| format!("{:.4}", rel_rms(m, v.sq_sum))),
        );
    }
    println!(
        "\nfile {file_bytes} bytes; weights {weight_bytes} bytes for {elements} parameters = {bpw:.3} bits per weight"
    );
    if s > 0.0 {
        println!(
            "relative RMS error of the {} re-encoded tensors: {:.4} (‖x − x̂‖ / ‖x‖)",
            quantized.len(),
            rel_rms(e, s)
        );
    }
    Ok(())
}
