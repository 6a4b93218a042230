//! Structure-aware GGUF: start from the tiny test model's fields (metadata, tensor infos,
//! tensor data), apply a list of typed edits chosen by `arbitrary` (set a key to an extreme
//! integer or float, lie about a count or an array length, change a tensor's dims, type,
//! offset or name, write NaN into a weight), serialise with `glassbox_fuzz::gguf_writer`, and
//! run the bytes through everything `gguf_bytes` exercises. This is how the fields that broke
//! glassbox were found: layer counts of 2³¹, ids of 2³²+3, a `rope.freq_base` of NaN.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use glassbox::formats::gguf::{GgufFile, GgufValue};
use glassbox::weights::tensor::WeightMatrix;
use glassbox_fuzz::fields::{Float, Int};
use glassbox_fuzz::gguf_writer::{File, Tensor};
use libfuzzer_sys::fuzz_target;

/// Keys the loaders read; an edit picks one of these most of the time.
const KEYS: &[&str] = &[
    "general.architecture",
    "general.alignment",
    "llama.block_count",
    "llama.context_length",
    "llama.embedding_length",
    "llama.feed_forward_length",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.attention.key_length",
    "llama.attention.layer_norm_rms_epsilon",
    "llama.rope.freq_base",
    "llama.rope.scaling.type",
    "llama.vocab_size",
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.eot_token_id",
    "tokenizer.chat_template",
];

#[derive(Arbitrary, Debug)]
enum Key {
    Known(u8),
    Other(String),
}

impl Key {
    fn name(&self) -> String {
        match self {
            Key::Known(i) => KEYS[*i as usize % KEYS.len()].to_string(),
            Key::Other(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Value {
    U8(u8),
    I32(i32),
    U32(Int),
    U64(Int),
    I64(Int),
    F32(Float),
    F64(Float),
    Bool(bool),
    Str(String),
    Strings(Vec<String>),
    /// An array of `n` (at most 4096) copies of a u8.
    Bytes(u16, u8),
    Ints(Vec<i32>),
}

impl Value {
    fn get(&self) -> GgufValue {
        match self {
            Value::U8(v) => GgufValue::U8(*v),
            Value::I32(v) => GgufValue::I32(*v),
            Value::U32(v) => GgufValue::U32(v.get() as u32),
            Value::U64(v) => GgufValue::U64(v.get()),
            Value::I64(v) => GgufValue::I64(v.get() as i64),
            Value::F32(v) => GgufValue::F32(v.get()),
            Value::F64(v) => GgufValue::F64(v.get() as f64),
            Value::Bool(v) => GgufValue::Bool(*v),
            Value::Str(s) => GgufValue::String(s.clone()),
            Value::Strings(v) => {
                GgufValue::Array(v.iter().cloned().map(GgufValue::String).collect())
            }
            Value::Bytes(n, b) => GgufValue::Array(vec![GgufValue::U8(*b); (*n % 4097) as usize]),
            Value::Ints(v) => GgufValue::Array(v.iter().map(|&x| GgufValue::I32(x)).collect()),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Set(Key, Value),
    Remove(Key),
    /// Replace one element of an array value (`tokenizer.ggml.tokens[i]`, a merge, a type).
    SetElement(Key, u16, Value),
    ArrayLenLie(Key, Int),
    TensorCountLie(Int),
    KvCountLie(Int),
    Dims(u8, Vec<Int>),
    Type(u8, u8),
    Offset(u8, Int),
    Name(u8, String),
    Drop(u8),
    Duplicate(u8),
    /// Write a float into tensor `.0`'s data at element `.1` (f32 tensors) or raw bytes.
    Poke(u8, u16, Float),
    Truncate(u16),
    Version(u32),
    Alignment(Int),
}

#[derive(Arbitrary, Debug)]
struct Input {
    edits: Vec<Edit>,
}

/// The tiny model's fields, read once.
fn base() -> &'static File {
    static BASE: OnceLock<File> = OnceLock::new();
    BASE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny/tiny.gguf");
        let g = GgufFile::open(&path).expect("tests/fixtures/tiny/tiny.gguf");
        let tensors = g
            .tensors
            .iter()
            .map(|t| Tensor {
                name: t.name.clone(),
                dims: t.dims.clone(),
                ty: t.type_id,
                offset: None,
                data: WeightMatrix::from_gguf(&g, &t.name)
                    .expect("tensor")
                    .bytes()
                    .to_vec(),
            })
            .collect();
        File {
            version: g.version,
            metadata: g.metadata.clone(),
            tensors,
            alignment: g.alignment as u64,
            ..File::default()
        }
    })
}

fn apply(f: &mut File, e: &Edit, truncate: &mut Option<usize>) {
    let pick = |f: &File, i: u8| (!f.tensors.is_empty()).then(|| i as usize % f.tensors.len());
    match e {
        Edit::Set(k, v) => {
            let (k, v) = (k.name(), v.get());
            match f.metadata.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => f.metadata.push((k, v)),
            }
        }
        Edit::Remove(k) => {
            let k = k.name();
            f.metadata.retain(|(key, _)| *key != k);
        }
        Edit::SetElement(k, i, v) => {
            let k = k.name();
            if let Some((_, GgufValue::Array(a))) = f.metadata.iter_mut().find(|(key, _)| *key == k)
            {
                if !a.is_empty() {
                    let n = a.len();
                    a[*i as usize % n] = v.get();
                }
            }
        }
        Edit::ArrayLenLie(k, n) => f.claimed_array_len.push((k.name(), n.get())),
        Edit::TensorCountLie(n) => f.claimed_tensors = Some(n.get()),
        Edit::KvCountLie(n) => f.claimed_kv = Some(n.get()),
        Edit::Dims(i, dims) => {
            if let Some(i) = pick(f, *i) {
                f.tensors[i].dims = dims.iter().take(6).map(|d| d.get()).collect();
            }
        }
        Edit::Type(i, ty) => {
            if let Some(i) = pick(f, *i) {
                f.tensors[i].ty = *ty as u32 % 42;
            }
        }
        Edit::Offset(i, off) => {
            if let Some(i) = pick(f, *i) {
                f.tensors[i].offset = Some(off.get());
            }
        }
        Edit::Name(i, name) => {
            if let Some(i) = pick(f, *i) {
                f.tensors[i].name = name.clone();
            }
        }
        Edit::Drop(i) => {
            if let Some(i) = pick(f, *i) {
                f.tensors.remove(i);
            }
        }
        Edit::Duplicate(i) => {
            if let Some(i) = pick(f, *i) {
                let t = f.tensors[i].clone();
                f.tensors.push(t);
            }
        }
        Edit::Poke(i, at, x) => {
            if let Some(i) = pick(f, *i) {
                let data = &mut f.tensors[i].data;
                if data.len() >= 4 {
                    let at = (*at as usize % (data.len() / 4)) * 4;
                    data[at..at + 4].copy_from_slice(&x.get().to_le_bytes());
                }
            }
        }
        Edit::Truncate(n) => *truncate = Some(*n as usize),
        Edit::Version(v) => f.version = *v,
        Edit::Alignment(a) => {
            let a = a.get();
            f.metadata.retain(|(k, _)| k != "general.alignment");
            f.metadata
                .push(("general.alignment".into(), GgufValue::U64(a)));
            if a.is_power_of_two() && a <= 4096 {
                f.alignment = a;
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let mut f = base().clone();
    let mut truncate = None;
    for e in input.edits.iter().take(16) {
        apply(&mut f, e, &mut truncate);
    }
    let mut bytes = f.to_bytes();
    if let Some(n) = truncate {
        bytes.truncate(bytes.len().saturating_sub(n));
    }
    glassbox_fuzz::gguf_bytes(&bytes);
});
