//! # Which type each tensor gets: llama.cpp's file types, their per-tensor mix and fallbacks
//!
//! A "Q4_K_M" file is not a file of Q4_K tensors. llama.cpp's `llama-quantize` picks a type
//! per tensor from the requested **file type**:
//!
//! ```text
//! 1. not a weight matrix (1-D, a norm)               → kept as stored (F32)
//! 2. the mix: some tensors matter more                 (Q4_K_M / Q5_K_M shown; others below)
//!      output.weight (or token_embd when tied)       → Q6_K    (Q8_0 for a Q8_0 file)
//!      attn_v in "more bits" layers                  → Q6_K
//!      ffn_down in "more bits" layers                → Q6_K
//!      "more bits" = the first 1/8 of the layers, the last 1/8, and every third in between
//! 3. the fallback: a K-quant needs rows that are whole super-blocks of 256
//!      Q4_K → Q5_0   Q5_K → Q5_1   Q6_K → Q8_0   Q2_K, Q3_K → Q4_0   (then F16 if still no fit)
//! ```
//!
//! The fallback is why a small model's Q4_K_M is mostly *not* Q4_K: SmolLM2's rows are 576
//! wide (2.25 super-blocks), so every matrix that reads the residual stream falls back to Q5_0;
//! only `ffn_down` (1536 = 6 × 256 wide) is a K-quant.
//!
//! `--pure` (llama-quantize's flag) skips step 2: one type for every weight matrix, fallbacks
//! still applied. Rules for architectures glassbox does not run (Falcon, mixture-of-experts,
//! the 70B attn_v bump) and for the IQ types are left out.
//!
//! Reference: llama.cpp `src/llama-quant.cpp` (`llama_tensor_get_type_impl`,
//! `tensor_type_fallback`, `tensor_allows_quantization`, `llama_ftype_get_default_type`).

use super::DType;
use crate::{Error, Result};

/// A file type as `llama-quantize` names it (`general.file_type` in GGUF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum FileType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q2_K,
    Q2_K_S,
    Q3_K_S,
    Q3_K_M,
    Q3_K_L,
    Q4_K_S,
    Q4_K_M,
    Q5_K_S,
    Q5_K_M,
    Q6_K,
}

/// Every file type with its `--type` names (llama-quantize's; Q3_K, Q4_K, Q5_K are its aliases
/// for the _M mixes), `general.file_type` id, and default tensor type.
const TABLE: [(FileType, &[&str], u32, DType); 18] = [
    (FileType::F32, &["f32"], 0, DType::F32),
    (FileType::F16, &["f16"], 1, DType::F16),
    (FileType::BF16, &["bf16"], 32, DType::BF16),
    (FileType::Q8_0, &["q8_0"], 7, DType::Q8_0),
    (FileType::Q4_0, &["q4_0"], 2, DType::Q4_0),
    (FileType::Q4_1, &["q4_1"], 3, DType::Q4_1),
    (FileType::Q5_0, &["q5_0"], 8, DType::Q5_0),
    (FileType::Q5_1, &["q5_1"], 9, DType::Q5_1),
    (FileType::Q2_K, &["q2_k"], 10, DType::Q2_K),
    (FileType::Q2_K_S, &["q2_k_s"], 21, DType::Q2_K),
    (FileType::Q3_K_S, &["q3_k_s"], 11, DType::Q3_K),
    (FileType::Q3_K_M, &["q3_k_m", "q3_k"], 12, DType::Q3_K),
    (FileType::Q3_K_L, &["q3_k_l"], 13, DType::Q3_K),
    (FileType::Q4_K_S, &["q4_k_s"], 14, DType::Q4_K),
    (FileType::Q4_K_M, &["q4_k_m", "q4_k"], 15, DType::Q4_K),
    (FileType::Q5_K_S, &["q5_k_s"], 16, DType::Q5_K),
    (FileType::Q5_K_M, &["q5_k_m", "q5_k"], 17, DType::Q5_K),
    (FileType::Q6_K, &["q6_k"], 18, DType::Q6_K),
];

impl FileType {
    fn row(self) -> &'static (FileType, &'static [&'static str], u32, DType) {
        TABLE
            .iter()
            .find(|r| r.0 == self)
            .expect("every file type is in TABLE")
    }

    /// Parse a `--type` name (case-insensitive): `q4_k_m`, `Q8_0`, `q4_k` (= Q4_K_M), ...
    pub fn parse(name: &str) -> Result<FileType> {
        let n = name.to_ascii_lowercase();
        TABLE
            .iter()
            .find(|r| r.1.contains(&n.as_str()))
            .map(|r| r.0)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown quantization type `{name}`: expected one of {}",
                    FileType::names().join(", ")
                ))
            })
    }

    /// Every accepted `--type` name.
    pub fn names() -> Vec<&'static str> {
        TABLE.iter().flat_map(|r| r.1.iter().copied()).collect()
    }

    /// The canonical name, upper case (`Q4_K_M`).
    pub fn name(self) -> String {
        self.row().1[0].to_ascii_uppercase()
    }

    /// llama.cpp's `llama_ftype` id, written as `general.file_type`.
    pub fn gguf_id(self) -> u32 {
        self.row().2
    }

    /// The type most tensors get (`llama_ftype_get_default_type`).
    pub fn default_type(self) -> DType {
        self.row().3
    }
}

/// What the rules need to know about one tensor and its model.
#[derive(Clone, Debug)]
pub struct TensorFacts<'a> {
    /// GGUF name (`blk.3.attn_v.weight`).
    pub name: &'a str,
    /// GGUF dims, `dims[0]` = row width.
    pub dims: &'a [u64],
    /// Transformer blocks in the model.
    pub n_layers: usize,
    /// Query heads per KV head.
    pub n_gqa: usize,
    /// True when the model has no `output.weight` (the embedding is the head).
    pub tied_embeddings: bool,
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers, and every third layer
/// in between, get more bits in the _M mixes.
pub fn use_more_bits(i_layer: usize, n_layers: usize) -> bool {
    let (i, n) = (i_layer as i64, n_layers as i64);
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// Does this tensor get quantized at all (`tensor_allows_quantization`)? 2-D or more, named
/// `*weight`, not a norm.
pub fn allows_quantization(name: &str, n_dims: usize) -> bool {
    n_dims >= 2 && name.ends_with("weight") && !name.contains("_norm.weight")
}

/// The block index N of `blk.N.…`.
fn layer_of(name: &str) -> Option<usize> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

// ANCHOR: tensor_type
/// The type llama.cpp's `llama-quantize FILE_TYPE` (with `--pure` when `pure`) gives this tensor,
/// or `None` when the tensor is kept as stored.
pub fn tensor_type(ftype: FileType, t: &TensorFacts, pure: bool) -> Option<DType> {
    use DType as D;
    use FileType as F;
    if !allows_quantization(t.name, t.dims.len()) {
        return None;
    }
    let default = ftype.default_type();
    if !default.is_quantized() {
        return Some(default); // F32 / F16 / BF16 files: no mix, no fallback
    }
    let cols = t.dims[0] as usize;
    let mut ty = default;
    let (name, layer) = (t.name, layer_of(t.name).unwrap_or(0));
    let more_bits = use_more_bits(layer, t.n_layers);
    let is_output = name == "output.weight" || (t.tied_embeddings && name == "token_embd.weight");
    if pure {
        // one type everywhere
    } else if is_output {
        if !cols.is_multiple_of(default.block_size()) {
            ty = D::Q8_0;
        } else if default != D::Q8_0 {
            ty = D::Q6_K;
        }
    } else if name.contains("attn_v.weight") {
        ty = match ftype {
            F::Q2_K if t.n_gqa >= 4 => D::Q4_K,
            F::Q2_K => D::Q3_K,
            F::Q2_K_S if t.n_gqa >= 4 => D::Q4_K,
            F::Q3_K_M if layer < 2 => D::Q5_K,
            F::Q3_K_M => D::Q4_K,
            F::Q3_K_L => D::Q5_K,
            F::Q4_K_M | F::Q5_K_M if more_bits => D::Q6_K,
            F::Q4_K_S if layer < 4 => D::Q5_K,
            _ => ty,
        };
    } else if name.contains("ffn_down") {
        let (i, n) = (layer, t.n_layers);
        ty = match ftype {
            F::Q2_K => D::Q3_K,
            F::Q2_K_S if i < n / 8 => D::Q4_K,
            F::Q3_K_M if i < n / 16 => D::Q5_K,
            F::Q3_K_M => D::Q4_K, // (Falcon alone keeps Q3_K in some layers)
            F::Q3_K_L => D::Q5_K,
            F::Q4_K_M | F::Q5_K_M if more_bits => D::Q6_K,
            F::Q4_K_S if i < n / 8 => D::Q5_K,
            _ => ty,
        };
    } else if name.contains("attn_output.weight") {
        ty = match ftype {
            F::Q2_K => D::Q3_K,
            F::Q3_K_M => D::Q4_K,
            F::Q3_K_L => D::Q5_K,
            _ => ty,
        };
    }
    Some(fallback(ty, cols))
}
// ANCHOR_END: tensor_type

/// `tensor_type_fallback`: a type whose block does not divide the row width is replaced by a
/// 32-element type of about the same size; if even that does not fit, F16.
pub fn fallback(ty: DType, cols: usize) -> DType {
    if cols.is_multiple_of(ty.block_size()) {
        return ty;
    }
    let smaller = match ty {
        DType::Q2_K | DType::Q3_K => DType::Q4_0,
        DType::Q4_K => DType::Q5_0,
        DType::Q5_K => DType::Q5_1,
        DType::Q6_K => DType::Q8_0,
        other => other,
    };
    if cols.is_multiple_of(smaller.block_size()) {
        smaller
    } else {
        DType::F16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(name: &'a str, dims: &'a [u64]) -> TensorFacts<'a> {
        TensorFacts {
            name,
            dims,
            n_layers: 30,
            n_gqa: 3,
            tied_embeddings: true,
        }
    }

    #[test]
    fn names_parse() {
        assert_eq!(FileType::parse("Q4_K_M").unwrap(), FileType::Q4_K_M);
        assert_eq!(FileType::parse("q4_k").unwrap(), FileType::Q4_K_M);
        let e = FileType::parse("q4_k_x").unwrap_err().to_string();
        assert!(e.contains("q4_k_x") && e.contains("q5_k_m"), "{e}");
    }

    /// SmolLM2 at Q4_K_M: 576-wide rows fall back to Q5_0, the tied embedding is Q8_0 (Q6_K
    /// does not fit), ffn_down (1536 wide) is Q6_K in "more bits" layers, else Q4_K.
    #[test]
    fn smollm2_q4_k_m() {
        let q = |name: &str, dims: &[u64]| tensor_type(FileType::Q4_K_M, &facts(name, dims), false);
        assert_eq!(q("token_embd.weight", &[576, 49152]), Some(DType::Q8_0));
        assert_eq!(q("blk.5.attn_q.weight", &[576, 576]), Some(DType::Q5_0));
        assert_eq!(q("blk.0.attn_v.weight", &[576, 192]), Some(DType::Q8_0)); // Q6_K → Q8_0
        assert_eq!(q("blk.4.attn_v.weight", &[576, 192]), Some(DType::Q5_0));
        assert_eq!(q("blk.0.ffn_down.weight", &[1536, 576]), Some(DType::Q6_K));
        assert_eq!(q("blk.4.ffn_down.weight", &[1536, 576]), Some(DType::Q4_K));
        assert_eq!(q("blk.4.attn_norm.weight", &[576]), None);
        // --pure: no mix, fallbacks still apply
        let p = |name: &str, dims: &[u64]| tensor_type(FileType::Q4_K_M, &facts(name, dims), true);
        assert_eq!(p("token_embd.weight", &[576, 49152]), Some(DType::Q5_0));
        assert_eq!(p("blk.0.ffn_down.weight", &[1536, 576]), Some(DType::Q4_K));
    }

    /// layers 0–2, 27–29 and every third from 3 (5, 8, 11, …) for 30 layers
    #[test]
    fn more_bits_layers() {
        let got: Vec<usize> = (0..30).filter(|&i| use_more_bits(i, 30)).collect();
        assert_eq!(got, [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]);
    }

    #[test]
    fn fallbacks() {
        assert_eq!(fallback(DType::Q4_K, 576), DType::Q5_0);
        assert_eq!(fallback(DType::Q5_K, 576), DType::Q5_1);
        assert_eq!(fallback(DType::Q2_K, 576), DType::Q4_0);
        assert_eq!(fallback(DType::Q6_K, 40), DType::F16);
        assert_eq!(fallback(DType::Q4_K, 1536), DType::Q4_K);
    }
}
