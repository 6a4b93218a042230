//! Stage 2 golden values: glassbox against PyTorch / Hugging Face `transformers`, from the
//! fixtures that scripts/fixtures_stage2.py wrote into tests/fixtures/stage2/ (versions and
//! seeds recorded in each file's "meta").

use glassbox::attention::{attention, attention_naive, AttentionShape};
use glassbox::compare::check_close;
use glassbox::kv_cache::KvCache;
use glassbox::rmsnorm::{rmsnorm_rows, rmsnorm_rows_naive};
use glassbox::rope::{inv_freq, Llama3RopeScaling, RopeLayout, RopeTable};
use glassbox::swiglu::mlp_naive;
use serde_json::Value;

/// LlamaRMSNorm computes the same f32 formula; differences are the order of the sum of
/// squares (torch reduces pairwise) and rsqrt vs 1/sqrt: a few ulp of |y| <= ~6.
const RMSNORM_TOL: f32 = 1e-5;
/// inv_freq: base^(2i/d) in f64 rounded to f32 vs torch's f32 pow — at most 1 ulp of a value <= 1.
const INV_FREQ_TOL: f32 = 1e-7;
/// RoPE: same f32 angles (m·θ_i), cos/sin correctly rounded here vs torch's f32 cos/sin
/// (<= 1 ulp); values |x| <= ~4, positions up to 3000.
const ROPE_TOL: f32 = 1e-5;
/// Attention: torch's SDPA (f32 matmul + softmax) vs ours; outputs are averages of values ~N(0,1).
const ATTN_TOL: f32 = 1e-5;
/// LlamaMLP through three f32 matmuls with sums of <= 40 terms, outputs ~0.1-1.
const MLP_TOL: f32 = 1e-5;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/stage2/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{path}: {e} (regenerate with: /work/venv/bin/python scripts/fixtures_stage2.py)")
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON: {e}"))
}

fn f32s(v: &Value, key: &str) -> Vec<f32> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("fixture has no array `{key}`"))
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn usize_of(v: &Value, key: &str) -> usize {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("fixture has no integer `{key}`")) as usize
}

fn cases(v: &Value) -> &Vec<Value> {
    v["cases"].as_array().expect("fixture has `cases`")
}

#[test]
fn rmsnorm_matches_llama_rmsnorm() {
    for c in cases(&load("rmsnorm.json")) {
        let (x, w, want) = (f32s(c, "x"), f32s(c, "weight"), f32s(c, "y"));
        let eps = c["eps"].as_f64().expect("eps") as f32;
        let mut got = vec![0.0; x.len()];
        rmsnorm_rows(&x, &w, eps, &mut got);
        let d = check_close("rmsnorm vs LlamaRMSNorm", &got, &want, RMSNORM_TOL);
        rmsnorm_rows_naive(&x, &w, eps, &mut got);
        check_close("rmsnorm_naive vs LlamaRMSNorm", &got, &want, RMSNORM_TOL);
        println!("rmsnorm d={}: max diff {d:.2e}", usize_of(c, "d"));
    }
}

#[test]
fn rope_matches_llama_rotary_embedding() {
    for c in cases(&load("rope.json")) {
        let (nh, nkv, hd) = (
            usize_of(c, "n_heads"),
            usize_of(c, "n_kv_heads"),
            usize_of(c, "head_dim"),
        );
        let theta = c["rope_theta"].as_f64().expect("rope_theta") as f32;
        let scaling = (c["rope_type"] == "llama3").then(|| Llama3RopeScaling {
            factor: c["factor"].as_f64().expect("factor") as f32,
            low_freq_factor: c["low_freq_factor"].as_f64().expect("low") as f32,
            high_freq_factor: c["high_freq_factor"].as_f64().expect("high") as f32,
            original_max_position_embeddings: usize_of(c, "original_max_position_embeddings"),
        });
        let name = c["name"].as_str().unwrap_or("?");
        check_close(
            &format!("inv_freq ({name})"),
            &inv_freq(hd, theta, scaling.as_ref()),
            &f32s(c, "inv_freq"),
            INV_FREQ_TOL,
        );
        let positions: Vec<usize> = c["positions"]
            .as_array()
            .expect("positions")
            .iter()
            .map(|p| p.as_u64().expect("position") as usize)
            .collect();
        let table = RopeTable::new(
            hd,
            positions.iter().max().unwrap() + 1,
            theta,
            scaling.as_ref(),
        );
        for (key, n) in [("q", nh), ("k", nkv)] {
            let mut x = f32s(c, key); // [seq, n * hd], row t at positions[t]
            for (t, &pos) in positions.iter().enumerate() {
                table.apply_heads(
                    &mut x[t * n * hd..(t + 1) * n * hd],
                    n,
                    pos,
                    RopeLayout::HalfSplit,
                );
            }
            let d = check_close(
                &format!("rope {key} ({name})"),
                &x,
                &f32s(c, &format!("{key}_rot")),
                ROPE_TOL,
            );
            println!("rope {name} {key}: max diff {d:.2e}");
        }
    }
}

#[test]
fn attention_matches_sdpa() {
    for c in cases(&load("attention.json")) {
        let shape = AttentionShape {
            n_heads: usize_of(c, "n_heads"),
            n_kv_heads: usize_of(c, "n_kv_heads"),
            head_dim: usize_of(c, "head_dim"),
        };
        let start_pos = usize_of(c, "start_pos");
        let (q, k, v, want) = (f32s(c, "q"), f32s(c, "k"), f32s(c, "v"), f32s(c, "out"));
        let total = k.len() / shape.kv_dim();
        let mut cache = KvCache::new(1, total, shape.kv_dim());
        cache.write_rows(0, 0, &k, &v);
        let mut got = vec![0.0; q.len()];
        attention(&q, &cache, 0, start_pos, &shape, &mut got, None);
        let d = check_close("attention vs sdpa", &got, &want, ATTN_TOL);
        attention_naive(&q, &cache, 0, start_pos, &shape, &mut got, None);
        check_close("attention_naive vs sdpa", &got, &want, ATTN_TOL);
        println!("attention {shape:?} start {start_pos}: max diff {d:.2e}");
    }
}

#[test]
fn mlp_matches_llama_mlp() {
    for c in cases(&load("mlp.json")) {
        let (seq, d, ffn) = (usize_of(c, "seq"), usize_of(c, "d"), usize_of(c, "ffn"));
        let mut got = vec![0.0; seq * d];
        mlp_naive(
            &f32s(c, "x"),
            &f32s(c, "w_gate"),
            &f32s(c, "w_up"),
            &f32s(c, "w_down"),
            seq,
            d,
            ffn,
            &mut got,
        );
        let diff = check_close("mlp vs LlamaMLP", &got, &f32s(c, "y"), MLP_TOL);
        println!("mlp d={d} ffn={ffn}: max diff {diff:.2e}");
    }
}
