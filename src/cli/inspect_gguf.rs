//! `glassbox inspect` for a GGUF file of an architecture glassbox does not run (yet): what the
//! header says, and whether every tensor's storage type is one glassbox can read.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use crate::formats::gguf::{ggml_type_name, GgufFile};
use crate::quant::DType;
use crate::Result;

/// Per storage type: tensors, elements, bytes (bytes only for types glassbox can size).
#[derive(Default)]
struct TypeSums {
    tensors: usize,
    elements: u64,
    bytes: u64,
}

/// Print the header-level report of a GGUF file.
pub fn run(path: &Path, as_json: bool) -> Result<()> {
    let g = GgufFile::open(path)?;
    let arch = g.architecture().unwrap_or("(none)").to_string();
    let mut types: BTreeMap<String, TypeSums> = BTreeMap::new();
    let mut unknown = Vec::new();
    for t in &g.tensors {
        let e = types.entry(ggml_type_name(t.type_id)).or_default();
        e.tensors += 1;
        e.elements += t.n_elements();
        match t.n_bytes() {
            Some(n) => e.bytes += n as u64,
            None => unknown.push(t),
        }
    }
    let key = |k: &str| g.get(&format!("{arch}.{k}")).map(|v| v.to_string());
    if as_json {
        let v = json!({
            "path": path.display().to_string(),
            "format": "GGUF",
            "version": g.version,
            "architecture": arch,
            "name": g.get_str("general.name"),
            "runs_in_glassbox": false,
            "metadata_keys": g.metadata.len(),
            "tensors": g.tensors.len(),
            "stored_types": types.iter().map(|(k, s)| (k.clone(), json!({"tensors": s.tensors, "parameters": s.elements, "bytes": s.bytes}))).collect::<serde_json::Map<_, _>>(),
            "unrecognised_tensors": unknown.iter().map(|t| json!({"name": t.name, "type": ggml_type_name(t.type_id), "type_id": t.type_id})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    println!("{} (GGUF v{})", path.display(), g.version);
    println!(
        "\narchitecture  {arch}{}",
        g.get_str("general.name")
            .map_or(String::new(), |n| format!("  ({n})"))
    );
    for (label, k) in [
        ("layers", "block_count"),
        ("d_model", "embedding_length"),
        ("ffn", "feed_forward_length"),
        ("heads", "attention.head_count"),
        ("KV heads", "attention.head_count_kv"),
        ("context", "context_length"),
    ] {
        if let Some(v) = key(k) {
            println!("  {label:<9} {v}");
        }
    }
    println!(
        "  glassbox does not run the `{arch}` architecture yet; this is what its header holds"
    );
    println!(
        "\nstored types ({} tensors, {} metadata keys)",
        g.tensors.len(),
        g.metadata.len()
    );
    for (k, s) in &types {
        let bpw = if s.elements > 0 {
            format!(
                "{:.3} bits/weight",
                8.0 * s.bytes as f64 / s.elements as f64
            )
        } else {
            String::new()
        };
        println!(
            "  {k:<8} {:>4} tensors {:>12} parameters {:>12} bytes  {bpw}",
            s.tensors, s.elements, s.bytes
        );
    }
    if unknown.is_empty() {
        println!(
            "every tensor's type is one glassbox reads ({})",
            DType::names()
        );
    } else {
        println!("{} tensors have types glassbox cannot read:", unknown.len());
        for t in unknown.iter().take(20) {
            println!(
                "  {} ({}, id {})",
                t.name,
                ggml_type_name(t.type_id),
                t.type_id
            );
        }
    }
    Ok(())
}
