//! `glassbox inspect [MODEL]`: what is inside a model file, without running it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;

use crate::cli::common::model_path;
use crate::weights::config::LlamaConfig;
use crate::weights::model_files::{ModelFiles, ModelFormat};
use crate::Result;

/// Show a model's architecture, parameter counts, stored types, KV-cache sizes and tokenizer.
///
/// MODEL is a .gguf file or a Hugging Face directory (config.json, model.safetensors,
/// tokenizer.json); without it, the default model (fetched on first use).
///
/// What to read in the output:
///   parameters   counted from the tensors, by group: the embedding table [vocab, d], the
///                attention projections (q, k, v, o), the MLP (gate, up, down), the RMSNorm
///                weights, and the output head (0 when it is tied to the embedding)
///   stored types how many bytes each storage type takes (Q4_1 = 20 bytes per 32 weights)
///   KV-cache     memory for K and V at a few context lengths, in f32:
///                2 × layers × kv_heads × head_dim × positions × 4 bytes
///                (a sliding-window layer keeps at most window − 1 + 512 positions)
///   family       for a model that is not plain Llama (Gemma 3), each place where it differs
///                from Llama, and what the file says there
///
/// Examples:
///   glassbox inspect
///   glassbox inspect tests/fixtures/tiny/hf --json
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// A .gguf file or a Hugging Face model directory (default: the default model).
    ///
    /// Memory bounds on a model file (as for every command's --model): every count in it
    /// (layers, tensors, vocabulary, array lengths) must fit in the file's own bytes before
    /// anything is allocated for it; a GGUF's metadata holds at most 8388608 array elements in
    /// all (256 MiB in memory); a chat template renders within 10000000 steps and 16 MiB of text.
    pub model: Option<PathBuf>,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Context lengths at which the KV-cache size is reported.
const KV_CONTEXTS: [usize; 3] = [512, 2048, 8192];

/// Which group a Hugging Face tensor name belongs to.
fn group_of(name: &str) -> &'static str {
    if name.contains("embed_tokens") {
        "embeddings"
    } else if name.contains("self_attn") {
        "attention"
    } else if name.contains(".mlp.") {
        "mlp"
    } else if name.contains("norm") {
        "norms"
    } else {
        "head"
    }
}

pub fn run(args: Args) -> Result<()> {
    let path = model_path(args.model)?;
    // a GGUF of another architecture: its header, types and tensors (running it is not ours)
    if path.is_file() {
        if let Ok(g) = crate::formats::gguf::GgufFile::open(&path) {
            if !matches!(g.architecture(), Some("llama" | "gemma3")) {
                return crate::cli::inspect_gguf::run(&path, args.json);
            }
        }
    }
    let m = ModelFiles::open(&path)?;
    let c = &m.config;

    // parameters by group, from the tensors actually loaded
    let mut groups: Vec<(&str, usize)> = ["embeddings", "attention", "mlp", "norms", "head"]
        .iter()
        .map(|g| (*g, 0))
        .collect();
    // bytes by stored type: (tensors, parameters, bytes)
    let mut types: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let tensors = m.weights.by_name();
    for (name, w) in &tensors {
        let n = w.rows * w.cols;
        if let Some(g) = groups.iter_mut().find(|g| g.0 == group_of(name)) {
            g.1 += n;
        }
        let e = types.entry(w.dtype.name()).or_default();
        e.0 += 1;
        e.1 += n;
        e.2 += w.bytes().len();
    }
    let total: usize = groups.iter().map(|g| g.1).sum();
    let total_bytes: usize = types.values().map(|t| t.2).sum();
    let t = &m.tokenizer;
    let specials: Vec<(String, u32)> = t
        .special_tokens()
        .map(|(s, id)| (s.to_string(), id))
        .collect();
    let tok_text = |id: u32| t.decode(&[id]).unwrap_or_else(|_| format!("<{id}>"));
    let format = match m.format {
        ModelFormat::Gguf => "GGUF",
        ModelFormat::HfSafetensors => "Hugging Face safetensors",
    };

    let differences = family_differences(c);

    if args.json {
        let v = json!({
            "path": path.display().to_string(),
            "format": format,
            "architecture": c.family.hf_architecture(),
            "family": c.family.name(),
            "differences_from_llama": differences.iter().map(|(what, llama, this)| json!({"what": what, "llama": llama, "this_model": this})).collect::<Vec<_>>(),
            "config": c.to_hf_json("as stored"),
            "head_dim": c.head_dim(),
            "parameters": { "total": total, "by_group": groups.iter().map(|(g, n)| (g.to_string(), json!(n))).collect::<serde_json::Map<_, _>>() },
            "stored_types": types.iter().map(|(k, (n, p, b))| (k.to_string(), json!({"tensors": n, "parameters": p, "bytes": b}))).collect::<serde_json::Map<_, _>>(),
            "weight_bytes": total_bytes,
            "kv_cache_f32_bytes": KV_CONTEXTS.iter().map(|&n| (n.to_string(), json!(c.kv_cache_bytes(n, 4)))).collect::<serde_json::Map<_, _>>(),
            "tokenizer": {
                "kind": t.algorithm(),
                "pretokenizer": (!t.is_sentencepiece()).then(|| t.pretokenizer().name()),
                "add_bos": t.add_bos(),
                "vocab_size": t.vocab_size(),
                "merges": t.merges().len(),
                "special_tokens": specials,
                "bos": t.bos_id(),
                "eos": t.eos_ids(),
            },
            "chat_template": m.chat_template.is_some(),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }

    println!("{} ({format})", path.display());
    println!(
        "\narchitecture  {} (family `{}`)",
        c.family.hf_architecture(),
        c.family.name()
    );
    println!(
        "  layers {}, d_model {}, ffn {}, vocab {}",
        c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.vocab_size
    );
    println!(
        "  attention: {} query heads, {} KV heads (GQA: {} queries share each K/V), head_dim {}",
        c.num_attention_heads,
        c.num_key_value_heads,
        c.num_attention_heads / c.num_key_value_heads,
        c.head_dim()
    );
    println!(
        "  RoPE theta {}{}, RMSNorm eps {:e}, context {}",
        c.rope_theta,
        if c.rope_scaling.is_some() {
            " (llama3 scaling)"
        } else {
            ""
        },
        c.rms_norm_eps,
        c.max_position_embeddings
    );
    println!(
        "  output head {}",
        if c.tie_word_embeddings {
            "tied to the embedding"
        } else {
            "separate (lm_head)"
        }
    );

    if !differences.is_empty() {
        println!("\nwhat differs from Llama");
        let w = differences.iter().map(|d| d.0.len()).max().unwrap_or(0);
        println!("  {:<w$}  {:<26}  this model", "", "Llama");
        for (what, llama, this) in &differences {
            println!("  {what:<w$}  {llama:<26}  {this}");
        }
    }

    println!(
        "\nparameters    {:>14}  ({:.1} M)",
        group(total),
        total as f64 / 1e6
    );
    for (g, n) in &groups {
        println!(
            "  {g:<11} {:>14}  {:>5.1}%",
            group(*n),
            100.0 * *n as f64 / total.max(1) as f64
        );
    }
    println!("\nstored types  tensors     parameters          bytes");
    for (ty, (n, p, b)) in &types {
        println!(
            "  {ty:<10} {n:>8} {:>14} {:>14}  ({:.1} MB)",
            group(*p),
            group(*b),
            *b as f64 / 1e6
        );
    }
    println!(
        "  {:<10} {:>8} {:>14} {:>14}  ({:.2} bits per weight)",
        "total",
        tensors.len(),
        group(total),
        group(total_bytes),
        8.0 * total_bytes as f64 / total.max(1) as f64
    );

    println!(
        "\nKV-cache (f32) = 2 × {} layers × {} kv_heads × {} head_dim × positions × 4 bytes",
        c.num_hidden_layers,
        c.num_key_value_heads,
        c.head_dim()
    );
    let local = (0..c.num_hidden_layers)
        .filter(|&l| c.family.window(l).is_some())
        .count();
    if local > 0 {
        println!(
            "  ({local} sliding-window layers keep at most {} positions each)",
            crate::kv_cache::KvCache::rows_for(
                c.family.window(0).or(c.family.window(1)),
                usize::MAX,
                crate::kv_cache::PREFILL_CHUNK
            )
        );
    }
    for n in KV_CONTEXTS {
        let note = if n > c.max_position_embeddings {
            "  (past the model's context)"
        } else {
            ""
        };
        println!(
            "  {n:>6} positions: {:>8.1} MB{note}",
            c.kv_cache_bytes(n, 4) as f64 / 1e6
        );
    }

    if t.is_sentencepiece() {
        println!("\ntokenizer     SentencePiece BPE (merges by score, ▁ for spaces, <0xNN> bytes)");
        println!(
            "  vocab {}, {} special tokens",
            t.vocab_size(),
            specials.len()
        );
    } else {
        println!(
            "\ntokenizer     byte-level BPE, pre-tokenizer `{}`",
            t.pretokenizer().name()
        );
        println!(
            "  vocab {} ({} merges), {} special tokens",
            t.vocab_size(),
            t.merges().len(),
            specials.len()
        );
    }
    let shown: Vec<String> = specials
        .iter()
        .take(8)
        .map(|(s, id)| format!("{s}={id}"))
        .collect();
    let more = if specials.len() > 8 { ", …" } else { "" };
    println!("  specials: {}{more}", shown.join(", "));
    let bos = t
        .bos_id()
        .map_or("none".to_string(), |id| format!("{id} {:?}", tok_text(id)));
    let eos: Vec<String> = t
        .eos_ids()
        .iter()
        .map(|&id| format!("{id} {:?}", tok_text(id)))
        .collect();
    println!(
        "  bos: {bos}{}; eos: {}",
        if t.add_bos() {
            " (prompts start with it)"
        } else {
            " (not added to prompts)"
        },
        if eos.is_empty() {
            "none".into()
        } else {
            eos.join(", ")
        }
    );
    let default = match crate::chat::ChatTemplate::default_for(t) {
        crate::chat::GEMMA_TEMPLATE => "Gemma's turn format",
        _ => "ChatML",
    };
    println!(
        "  chat template: {}",
        if m.chat_template.is_some() {
            "the file's own".to_string()
        } else {
            format!("none in the file: {default} is used")
        }
    );
    Ok(())
}

/// Each place where this model's family differs from Llama: (what, Llama, this model), empty
/// for a Llama model. The answers come from `config.family` (`weights/family.rs`).
fn family_differences(c: &LlamaConfig) -> Vec<(&'static str, String, String)> {
    let f = &c.family;
    if f.name() == "llama" {
        return Vec::new();
    }
    let (d, hd) = (c.hidden_size, c.head_dim());
    let yes_no = |b: bool, yes: &str| if b { yes.to_string() } else { "no".into() };
    let local: Vec<usize> = (0..c.num_hidden_layers)
        .filter(|&l| f.window(l).is_some())
        .collect();
    let global: Vec<String> = (0..c.num_hidden_layers)
        .filter(|&l| f.window(l).is_none())
        .map(|l| l.to_string())
        .collect();
    let local_theta = local.first().map(|&l| f.rope_theta(l, c.rope_theta));
    vec![
        (
            "head_dim",
            "d / heads".into(),
            format!("{hd} (d / heads = {})", d / c.num_attention_heads.max(1)),
        ),
        (
            "embedding scale",
            "1".into(),
            f.embedding_scale(d)
                .map_or("1".into(), |s| format!("√d = {s:.4}")),
        ),
        (
            "norm weight",
            "× w".into(),
            format!(
                "× ({} + w) (the GGUF stores it added)",
                f.norm_weight_offset()
            ),
        ),
        (
            "QK-norm",
            "no".into(),
            yes_no(f.has_qk_norm(), "RMSNorm on each q and k head"),
        ),
        (
            "sandwich norms",
            "no (norm before a branch)".into(),
            yes_no(f.has_sandwich_norms(), "norm before and after each branch"),
        ),
        (
            "MLP gate",
            "SiLU (SwiGLU)".into(),
            format!("{} (GeGLU)", f.activation().hf_name()),
        ),
        (
            "attention scale",
            "1/√head_dim".into(),
            match f.query_scale(hd) {
                None => format!("1/√{hd}"),
                Some(s) => format!("1/√head_dim × {s}"),
            },
        ),
        (
            "sliding window",
            "none".into(),
            match f.window(local.first().copied().unwrap_or(0)) {
                Some(w) => format!(
                    "{w} positions on {} of {} layers",
                    local.len(),
                    c.num_hidden_layers
                ),
                None => "none".into(),
            },
        ),
        ("global layers", "all".into(), global.join(", ")),
        (
            "RoPE base",
            "rope_theta".into(),
            match local_theta {
                Some(t) => format!("{} global, {t} local", c.rope_theta),
                None => c.rope_theta.to_string(),
            },
        ),
        (
            "GGUF Q/K rows",
            "permuted (interleaved)".into(),
            if f.gguf_qk_interleaved() {
                "permuted (interleaved)".into()
            } else {
                "as stored (half-split)".into()
            },
        ),
    ]
}

/// 134515008 → "134,515,008".
fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
