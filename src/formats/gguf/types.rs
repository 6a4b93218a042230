//! The ggml tensor types a GGUF file may store: id, name, and the size of one block.
//!
//! A quantized type stores its elements in blocks (32 or 256 elements sharing a scale); a
//! float type is a "block" of one element. The reader uses the sizes to check that every
//! tensor's bytes lie inside the file, for every type, also the ones glassbox cannot compute
//! with. `quant::DType` reads its block sizes from this table, so each size is written once.
//!
//! Reference: ggml `ggml.c` (`type_traits`), gguf-py `GGML_QUANT_SIZES`.

/// One ggml tensor type: its name and, when known, how many bytes a block of elements takes.
#[derive(Clone, Copy, Debug)]
pub struct GgmlType {
    pub id: u32,
    pub name: &'static str,
    /// `(elements per block, bytes per block)`; `None` for types never stored in model files.
    pub block: Option<(usize, usize)>,
}

const fn ty(id: u32, name: &'static str, elements: usize, bytes: usize) -> GgmlType {
    GgmlType {
        id,
        name,
        block: Some((elements, bytes)),
    }
}

/// Every ggml type id, as in ggml's `type_traits` (sizes checked against gguf-py's
/// `GGML_QUANT_SIZES`). The quantized layouts glassbox decodes are drawn in `quant/`.
pub const GGML_TYPES: &[GgmlType] = &[
    ty(0, "F32", 1, 4),
    ty(1, "F16", 1, 2),
    ty(2, "Q4_0", 32, 2 + 16),     // d f16, 32 nibbles
    ty(3, "Q4_1", 32, 2 + 2 + 16), // d f16, m f16, 32 nibbles
    GgmlType {
        id: 4,
        name: "Q4_2",
        block: None,
    }, // removed from ggml
    GgmlType {
        id: 5,
        name: "Q4_3",
        block: None,
    }, // removed from ggml
    ty(6, "Q5_0", 32, 22),
    ty(7, "Q5_1", 32, 24),
    ty(8, "Q8_0", 32, 2 + 32), // d f16, 32 int8
    GgmlType {
        id: 9,
        name: "Q8_1",
        block: None,
    }, // an activation type, not stored in files
    ty(10, "Q2_K", 256, 84),
    ty(11, "Q3_K", 256, 110),
    ty(12, "Q4_K", 256, 144),
    ty(13, "Q5_K", 256, 176),
    ty(14, "Q6_K", 256, 210),
    ty(15, "Q8_K", 256, 292),
    ty(16, "IQ2_XXS", 256, 66),
    ty(17, "IQ2_XS", 256, 74),
    ty(18, "IQ3_XXS", 256, 98),
    ty(19, "IQ1_S", 256, 50),
    ty(20, "IQ4_NL", 32, 18),
    ty(21, "IQ3_S", 256, 110),
    ty(22, "IQ2_S", 256, 82),
    ty(23, "IQ4_XS", 256, 136),
    ty(24, "I8", 1, 1),
    ty(25, "I16", 1, 2),
    ty(26, "I32", 1, 4),
    ty(27, "I64", 1, 8),
    ty(28, "F64", 1, 8),
    ty(29, "IQ1_M", 256, 56),
    ty(30, "BF16", 1, 2),
    ty(34, "TQ1_0", 256, 54),
    ty(35, "TQ2_0", 256, 66),
    ty(39, "MXFP4", 32, 17),
];

/// The ggml type with this id.
pub fn ggml_type(id: u32) -> Option<&'static GgmlType> {
    GGML_TYPES.iter().find(|t| t.id == id)
}

/// The ggml type name for a GGUF tensor type id (also for types glassbox cannot compute with).
pub fn ggml_type_name(id: u32) -> String {
    match ggml_type(id) {
        Some(t) => t.name.to_string(),
        None => format!("type id {id}"),
    }
}
