//! Lesson 6b: quantization, from one super-block to a whole file.
//!
//! 1. Quantizes row 0 of SmolLM2's layer-0 `down_proj` (1536 wide: six super-blocks) to Q4_K
//!    and decodes its first super-block *by hand*: d, dmin, the eight 6-bit (scale, min)
//!    pairs, then `x = d·sc·q − dmin·m` — checked against the library's decoder.
//! 2. Shows which type each of SmolLM2's tensors gets in a Q4_K_M file, and why most are not
//!    Q4_K (the fallback for rows 576 wide).
//! 3. Measures the two scale rules (max-abs, llama.cpp's search) per K-type: the relative RMS
//!    error on real rows of SmolLM2 (already on Q4_1's 16-level grid) and of Gemma 3 270M's
//!    Q8_0 embedding (256 levels: nearly the original weights), when that file is present
//!    (`glassbox pull --all`).
//!
//! Run: `cargo run --release --example 06b_quantization`

use std::collections::BTreeMap;

use glassbox::data;
use glassbox::formats::gguf::GgufFile;
use glassbox::model::Llama;
use glassbox::quant::kquant::scale_min_k4;
use glassbox::quant::mix::{tensor_type, FileType, TensorFacts};
use glassbox::quant::{self, DType, ScaleRule};
use glassbox::weights::tensor::WeightMatrix;

// ANCHOR: q4_k_by_hand
/// Element `i` (0..256) of a Q4_K super-block, from its 144 bytes and nothing else:
///
/// ```text
/// bytes 0..2 d, 2..4 dmin (f16) · 4..16 eight 6-bit (scale, min) pairs · 16..144 nibbles
/// sub-block s = i / 32;  byte 16 + 32·(i / 64) + i % 32;  low nibble if (i / 32) is even
/// x = (d · sc[s]) · q − (dmin · m[s])
/// ```
fn q4_k_element(block: &[u8], i: usize) -> f32 {
    let f16 = |k: usize| half::f16::from_le_bytes([block[k], block[k + 1]]).to_f32();
    let (d, dmin) = (f16(0), f16(2));
    let s = i / 32;
    let (sc, m) = scale_min_k4(s, &block[4..16]);
    let byte = block[16 + 32 * (i / 64) + i % 32];
    let q = if s.is_multiple_of(2) {
        byte & 0x0F
    } else {
        byte >> 4
    };
    (d * sc as f32) * q as f32 - dmin * m as f32
}
// ANCHOR_END: q4_k_by_hand

/// ‖x − x̂‖ / ‖x‖ over rows quantized to `t` with `rule`.
fn rel_rms(rows: &[Vec<f32>], t: DType, rule: ScaleRule) -> f64 {
    let (mut e, mut s) = (0.0f64, 0.0f64);
    for x in rows {
        let q = quant::quantize_row_with(t, x, rule);
        let mut y = vec![0.0f32; x.len()];
        quant::dequantize_row(t, &q, &mut y);
        for (a, b) in x.iter().zip(&y) {
            e += ((a - b) as f64).powi(2);
            s += (*a as f64).powi(2);
        }
    }
    (e / s).sqrt()
}

fn main() -> glassbox::Result<()> {
    let path = data::default_model()?;
    let model = Llama::load(&path)?;

    // 1. one Q4_K super-block by hand
    let down = &model.weights.layers[0].down_proj; // [576, 1536]
    let mut row = vec![0.0f32; down.cols];
    down.dequantize_row(0, &mut row);
    let q4k = quant::quantize_row(DType::Q4_K, &row);
    let block = &q4k[..144];
    let f16 = |k: usize| half::f16::from_le_bytes([block[k], block[k + 1]]).to_f32();
    println!(
        "1. layer 0 down_proj, row 0 ({} weights) as Q4_K: {} bytes",
        row.len(),
        q4k.len()
    );
    println!("   super-block 0: d = {:.6}, dmin = {:.6}", f16(0), f16(2));
    let pairs: Vec<String> = (0..8)
        .map(|s| format!("{:?}", scale_min_k4(s, &block[4..16])))
        .collect();
    println!("   (scale, min) of its 8 sub-blocks: {}", pairs.join(" "));
    let mut lib = vec![0.0f32; 256];
    quant::dequantize_row(DType::Q4_K, block, &mut lib);
    for i in [0, 1, 32, 100, 255] {
        println!(
            "   element {i:>3}: original {:>9.5}  by hand {:>9.5}  library {:>9.5}",
            row[i],
            q4_k_element(block, i),
            lib[i]
        );
    }
    let same = (0..256).all(|i| q4_k_element(block, i) == lib[i]);
    println!("   all 256 by-hand values equal the library's: {same}");

    // 2. the Q4_K_M mix on SmolLM2
    let g = GgufFile::open(&path)?;
    let n_layers = model.config.num_hidden_layers;
    let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &g.tensors {
        let f = TensorFacts {
            name: &t.name,
            dims: &t.dims,
            n_layers,
            n_gqa: model.config.num_attention_heads / model.config.num_key_value_heads,
            tied_embeddings: g.tensor_info("output.weight").is_none(),
        };
        let ty = tensor_type(FileType::Q4_K_M, &f, false)
            .map_or("F32 (kept)".into(), |d| d.name().to_string());
        let kind = t
            .name
            .trim_start_matches("blk.")
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        let entry = by_type.entry(ty).or_default();
        if !entry.contains(&kind.to_string()) {
            entry.push(kind.to_string());
        }
    }
    println!("\n2. SmolLM2 at Q4_K_M: the type of each tensor kind");
    for (ty, kinds) in &by_type {
        println!("   {ty:<11} {}", kinds.join(", "));
    }
    println!("   (576-wide rows are 2.25 super-blocks: Q4_K falls back to Q5_0, Q6_K to Q8_0)");

    // 3. the two scale rules
    println!("\n3. relative RMS error ‖x − x̂‖/‖x‖ of the two scale rules");
    let mut sets: Vec<(String, Vec<Vec<f32>>)> = Vec::new();
    let smol: Vec<Vec<f32>> = (0..64)
        .map(|r| {
            let mut v = vec![0.0f32; down.cols];
            down.dequantize_row(r * 9, &mut v);
            v
        })
        .collect();
    sets.push(("SmolLM2 down_proj, 64 rows × 1536 (Q4_1 grid)".into(), smol));
    match data::data_dir().join(data::gemma::GEMMA3_Q4_K_M_FILE) {
        p if p.is_file() => {
            let gg = GgufFile::open(&p)?;
            let emb = WeightMatrix::from_gguf(&gg, "token_embd.weight")?; // [262144, 640] Q8_0
            let rows = (0..256)
                .map(|r| {
                    let mut v = vec![0.0f32; emb.cols];
                    emb.dequantize_row(r * 1021, &mut v);
                    v.truncate(512); // two super-blocks of each 640-wide row
                    v
                })
                .collect();
            sets.push((
                "Gemma 3 token_embd, 256 rows × 512 (Q8_0 grid)".into(),
                rows,
            ));
        }
        p => println!(
            "   ({} absent: run `glassbox pull --all` for the Gemma rows)",
            p.display()
        ),
    }
    for (what, rows) in &sets {
        println!("   {what}");
        println!("     type   max-abs    search   search/max-abs");
        for t in [
            DType::Q2_K,
            DType::Q3_K,
            DType::Q4_K,
            DType::Q5_K,
            DType::Q6_K,
        ] {
            let (a, b) = (
                rel_rms(rows, t, ScaleRule::MaxAbs),
                rel_rms(rows, t, ScaleRule::Search),
            );
            println!("     {:<5} {a:>8.4}  {b:>8.4}   {:>6.3}", t.name(), b / a);
        }
    }
    Ok(())
}
