//! Bad input never panics: every corrupt, truncated or mismatched model file gives an error
//! that names what is wrong (the field, the tensor, the expected and found shape).

use std::path::{Path, PathBuf};

use glassbox::formats::gguf::{GgufFile, GgufValue};
use glassbox::weights::model_files::ModelFiles;
use glassbox::weights::tensor::WeightMatrix;
use glassbox::Error;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn tiny_bytes() -> Vec<u8> {
    std::fs::read(fixture("tiny.gguf")).expect("tests/fixtures/tiny/tiny.gguf")
}

/// A scratch directory for this test (removed first, so reruns start clean).
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glassbox-weights-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

// ---- a minimal GGUF writer, to make files with one thing wrong ----

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn type_id(v: &GgufValue) -> u32 {
    match v {
        GgufValue::U8(_) => 0,
        GgufValue::I8(_) => 1,
        GgufValue::U16(_) => 2,
        GgufValue::I16(_) => 3,
        GgufValue::U32(_) => 4,
        GgufValue::I32(_) => 5,
        GgufValue::F32(_) => 6,
        GgufValue::Bool(_) => 7,
        GgufValue::String(_) => 8,
        GgufValue::Array(_) => 9,
        GgufValue::U64(_) => 10,
        GgufValue::I64(_) => 11,
        GgufValue::F64(_) => 12,
    }
}

fn put_value(out: &mut Vec<u8>, v: &GgufValue) {
    match v {
        GgufValue::U8(x) => out.push(*x),
        GgufValue::I8(x) => out.extend(x.to_le_bytes()),
        GgufValue::U16(x) => out.extend(x.to_le_bytes()),
        GgufValue::I16(x) => out.extend(x.to_le_bytes()),
        GgufValue::U32(x) => out.extend(x.to_le_bytes()),
        GgufValue::I32(x) => out.extend(x.to_le_bytes()),
        GgufValue::F32(x) => out.extend(x.to_le_bytes()),
        GgufValue::Bool(x) => out.push(*x as u8),
        GgufValue::String(s) => put_str(out, s),
        GgufValue::U64(x) => out.extend(x.to_le_bytes()),
        GgufValue::I64(x) => out.extend(x.to_le_bytes()),
        GgufValue::F64(x) => out.extend(x.to_le_bytes()),
        GgufValue::Array(a) => {
            out.extend(a.first().map_or(4, type_id).to_le_bytes());
            out.extend((a.len() as u64).to_le_bytes());
            for x in a {
                put_value(out, x);
            }
        }
    }
}

/// One tensor to write: name, dims (ne[0] first), ggml type id, data bytes.
struct T {
    name: String,
    dims: Vec<u64>,
    ty: u32,
    data: Vec<u8>,
}

fn write_gguf(meta: &[(String, GgufValue)], tensors: &[T]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((meta.len() as u64).to_le_bytes());
    for (k, v) in meta {
        put_str(&mut out, k);
        out.extend(type_id(v).to_le_bytes());
        put_value(&mut out, v);
    }
    let mut offset = 0u64;
    for t in tensors {
        put_str(&mut out, &t.name);
        out.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            out.extend(d.to_le_bytes());
        }
        out.extend(t.ty.to_le_bytes());
        out.extend(offset.to_le_bytes());
        offset += (t.data.len() as u64).div_ceil(32) * 32;
    }
    out.resize(out.len().div_ceil(32) * 32, 0);
    for t in tensors {
        out.extend(&t.data);
        out.resize(out.len().div_ceil(32) * 32, 0);
    }
    out
}

/// The tiny model's header and tensors, to be modified and written back.
fn tiny_parts() -> (Vec<(String, GgufValue)>, Vec<T>) {
    let g = GgufFile::open(&fixture("tiny.gguf")).expect("open tiny.gguf");
    let tensors = g
        .tensors
        .iter()
        .map(|t| T {
            name: t.name.clone(),
            dims: t.dims.clone(),
            ty: t.type_id,
            data: WeightMatrix::from_gguf(&g, &t.name)
                .expect("tensor")
                .bytes()
                .to_vec(),
        })
        .collect();
    (g.metadata.clone(), tensors)
}

fn open_gguf_bytes(name: &str, bytes: &[u8]) -> glassbox::Result<ModelFiles> {
    let dir = scratch(name);
    let p = dir.join("model.gguf");
    std::fs::write(&p, bytes).expect("write");
    ModelFiles::open(&p)
}

fn err_text<T>(r: glassbox::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn writer_round_trips_the_tiny_model() {
    let (meta, tensors) = tiny_parts();
    let m = open_gguf_bytes("roundtrip", &write_gguf(&meta, &tensors))
        .expect("rewritten tiny model loads");
    assert_eq!(m.weights.by_name().len(), 21);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = tiny_bytes();
    let g = GgufFile::from_bytes(Path::new("tiny.gguf"), &bytes).expect("whole file parses");
    // Every prefix through the header and tensor infos, then a stride through the data
    // (each cut there shortens some tensor), then the last bytes one by one.
    let lens = (0..g.data_offset + 64)
        .chain((g.data_offset + 64..bytes.len()).step_by(61))
        .chain(bytes.len() - 40..bytes.len());
    let mut n = 0;
    for len in lens {
        let r = GgufFile::from_bytes(Path::new("tiny.gguf"), &bytes[..len]);
        match r {
            Err(Error::Format { what, .. }) => assert!(
                what.contains("truncated")
                    || what.contains("past the end")
                    || what.contains("cannot fit"),
                "prefix {len}: unexpected message {what}"
            ),
            Err(e) => panic!("prefix {len}: wrong error kind {e}"),
            Ok(_) => panic!("prefix {len} of {} bytes parsed without error", bytes.len()),
        }
        n += 1;
    }
    assert!(n > g.data_offset);
}

#[test]
fn wrong_magic_and_version() {
    let mut bytes = tiny_bytes();
    bytes[..4].copy_from_slice(b"GGML");
    let e = err_text(GgufFile::from_bytes(Path::new("x.gguf"), &bytes));
    assert!(e.contains("wrong magic"), "{e}");
    let mut bytes = tiny_bytes();
    bytes[4..8].copy_from_slice(&1u32.to_le_bytes());
    let e = err_text(GgufFile::from_bytes(Path::new("x.gguf"), &bytes));
    assert!(e.contains("GGUF version 1"), "{e}");
    // a file that is not a model at all
    let e = err_text(open_gguf_bytes(
        "magic",
        b"hello, I am a text file with a .gguf name",
    ));
    assert!(e.contains("wrong magic"), "{e}");
}

#[test]
fn absurd_counts_do_not_allocate() {
    let mut bytes = tiny_bytes();
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes()); // metadata_kv_count
    let e = err_text(GgufFile::from_bytes(Path::new("x.gguf"), &bytes));
    assert!(
        e.contains("metadata_kv_count") && e.contains("cannot fit"),
        "{e}"
    );
    let mut bytes = tiny_bytes();
    bytes[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes()); // tensor_count
    let e = err_text(GgufFile::from_bytes(Path::new("x.gguf"), &bytes));
    assert!(e.contains("tensor_count"), "{e}");
    // a string length of 2^62 in the first key
    let mut bytes = tiny_bytes();
    bytes[24..32].copy_from_slice(&(1u64 << 62).to_le_bytes());
    let e = err_text(GgufFile::from_bytes(Path::new("x.gguf"), &bytes));
    assert!(e.contains("metadata key #0"), "{e}");
}

#[test]
fn tensor_offset_past_the_end() {
    let (meta, tensors) = tiny_parts();
    let mut bytes = write_gguf(&meta, &tensors);
    // patch the offset field of the last tensor info: it is the u64 just before the padding
    let g = GgufFile::from_bytes(Path::new("x"), &bytes).expect("parse");
    let last = g.tensors.last().expect("tensors").clone();
    let pos = find_tensor_info_offset_field(&bytes, &last.name);
    bytes[pos..pos + 8].copy_from_slice(&(1u64 << 20).to_le_bytes());
    let e = err_text(GgufFile::from_bytes(Path::new("x.gguf"), &bytes));
    assert!(
        e.contains(&format!("tensor `{}`", last.name)) && e.contains("past the end of the file"),
        "{e}"
    );
}

/// Byte position of the `offset` field in a tensor's info (name, n_dims, dims, type, offset).
fn find_tensor_info_offset_field(bytes: &[u8], name: &str) -> usize {
    let mut key = (name.len() as u64).to_le_bytes().to_vec();
    key.extend(name.as_bytes());
    let start = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("tensor info")
        + key.len();
    let n_dims = u32::from_le_bytes(bytes[start..start + 4].try_into().expect("4 bytes")) as usize;
    start + 4 + 8 * n_dims + 4
}

#[test]
fn unsupported_tensor_type_is_named() {
    let (meta, mut tensors) = tiny_parts();
    let t = tensors
        .iter_mut()
        .find(|t| t.name == "blk.1.ffn_down.weight")
        .expect("tensor");
    t.ty = 14; // Q6_K
    let bytes = write_gguf(&meta, &tensors);
    let g = GgufFile::from_bytes(Path::new("x.gguf"), &bytes).expect("header still parses");
    let e = err_text(WeightMatrix::from_gguf(&g, "blk.1.ffn_down.weight"));
    assert!(
        e.contains("blk.1.ffn_down.weight") && e.contains("Q6_K"),
        "{e}"
    );
    let e = err_text(open_gguf_bytes("unsupported", &bytes));
    assert!(
        e.contains("blk.1.ffn_down.weight") && e.contains("Q6_K"),
        "{e}"
    );
}

#[test]
fn unknown_metadata_type_is_an_error() {
    let (mut meta, tensors) = tiny_parts();
    meta.push(("x.bad".into(), GgufValue::U32(7)));
    let mut bytes = write_gguf(&meta, &tensors);
    let mut key = 5u64.to_le_bytes().to_vec();
    key.extend(b"x.bad");
    let pos = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("key")
        + key.len();
    bytes[pos..pos + 4].copy_from_slice(&99u32.to_le_bytes());
    let e = err_text(GgufFile::from_bytes(Path::new("x.gguf"), &bytes));
    assert!(
        e.contains("x.bad") && e.contains("unknown value type 99"),
        "{e}"
    );
}

#[test]
fn missing_tensor_is_named() {
    let (meta, mut tensors) = tiny_parts();
    tensors.retain(|t| t.name != "blk.1.attn_v.weight");
    let r = open_gguf_bytes("missing", &write_gguf(&meta, &tensors));
    let e = err_text(open_gguf_bytes("missing", &write_gguf(&meta, &tensors)));
    assert!(e.contains("missing tensor `blk.1.attn_v.weight`"), "{e}");
    assert!(e.contains("model.layers.1.self_attn.v_proj.weight"), "{e}");
    assert!(e.contains("model.gguf"), "the error names the file: {e}");
    assert!(
        matches!(r, Err(Error::MissingTensor { .. })),
        "a missing tensor has its own error variant"
    );
}

/// `r` is the shape error of gate_proj with intermediate_size 96 instead of 128, naming the
/// file and the tensor as that file calls it.
fn assert_shape_error(r: glassbox::Result<ModelFiles>, file_name: &str, tensor: &str) {
    match r {
        Err(Error::Shape {
            file,
            name,
            expected,
            found,
        }) => {
            assert!(file.ends_with(file_name), "{}", file.display());
            assert_eq!(name, tensor);
            assert_eq!((expected, found), (vec![96, 64], vec![128, 64]));
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("loaded a model whose shapes disagree with its config"),
    }
}

#[test]
fn wrong_shape_names_tensor_expected_and_found() {
    let (mut meta, tensors) = tiny_parts();
    // claim a wider feed-forward than the tensors have
    for (k, v) in meta.iter_mut() {
        if k == "llama.feed_forward_length" {
            *v = GgufValue::U32(96);
        }
    }
    let r = open_gguf_bytes("shape", &write_gguf(&meta, &tensors));
    assert_shape_error(r, "model.gguf", "blk.0.ffn_gate.weight");
}

fn copy_hf(name: &str) -> PathBuf {
    let d = scratch(name);
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        std::fs::copy(fixture("hf").join(f), d.join(f)).expect("copy fixture");
    }
    d
}

fn edit_config(dir: &Path, key: &str, value: serde_json::Value) {
    let p = dir.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
    v[key] = value;
    std::fs::write(&p, v.to_string()).expect("write");
}

#[test]
fn hf_wrong_shape_missing_tensor_and_vocab() {
    let d = copy_hf("hf-shape");
    edit_config(&d, "intermediate_size", 96.into());
    let r = ModelFiles::open(&d);
    assert_shape_error(
        r,
        "model.safetensors",
        "model.layers.0.mlp.gate_proj.weight",
    );
    let d = copy_hf("hf-layers");
    edit_config(&d, "num_hidden_layers", 3.into());
    let e = err_text(ModelFiles::open(&d));
    assert!(
        e.contains("missing tensor `model.layers.2.input_layernorm.weight`"),
        "{e}"
    );
    let d = copy_hf("hf-vocab");
    edit_config(&d, "vocab_size", 300.into());
    let e = err_text(ModelFiles::open(&d));
    assert!(
        e.contains("tokenizer has 320 tokens") && e.contains("300"),
        "{e}"
    );
    let d = copy_hf("hf-truncated");
    let st = d.join("model.safetensors");
    let bytes = std::fs::read(&st).expect("read");
    std::fs::write(&st, &bytes[..bytes.len() - 100]).expect("write");
    let e = err_text(ModelFiles::open(&d));
    assert!(e.contains("model.safetensors"), "{e}");
    let e = err_text(ModelFiles::open(&d.join("nothing-here")));
    assert!(e.contains("nothing-here"), "{e}");
}

/// Found by the `gguf_fields` fuzz target (2026-12-02, the test command's 8-s smoke run): a
/// zero dim makes the element count 0, which passed the header's bound, while the other dim was
/// huge, and the byte size of a row (dims[0] × 4 for f32) overflowed — a panic with overflow
/// checks, a wrapped size without them. Every dim is now bounded on its own.
#[test]
fn a_huge_dim_beside_a_zero_dim_is_an_error() {
    let (meta, mut tensors) = tiny_parts();
    let t = tensors
        .iter_mut()
        .find(|t| t.ty == 0)
        .expect("an f32 tensor");
    t.dims = vec![1 << 62, 0];
    let name = t.name.clone();
    let bytes = write_gguf(&meta, &tensors);
    let e = err_text(GgufFile::from_bytes(Path::new("x.gguf"), &bytes));
    assert!(
        e.contains(&format!("tensor `{name}`")) && e.contains("are too large"),
        "{e}"
    );
}
