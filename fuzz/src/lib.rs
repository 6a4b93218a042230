//! What the fuzz targets share: each parser's input goes as far into glassbox as it can, and
//! whatever loads is then *used* (encoded with, run one step, written back and re-read), with
//! the properties that must hold checked by `assert!`. A panic, an abort, a timeout or an
//! allocation past libFuzzer's `-rss_limit_mb` is a finding; an `Err` is the right answer.
//!
//! ```text
//! gguf_bytes        GgufFile::from_bytes → every tensor → tokenizer → config → model → 2 tokens
//! tokenizer_checks  encode / decode / stream / write as tokenizer.json and read back
//! config_checks     counts, KV-cache sizes, RoPE frequencies, config.json written and re-read
//! ```

use std::path::Path;

use glassbox::formats::gguf::GgufFile;
use glassbox::model::Llama;
use glassbox::rope::inv_freq;
use glassbox::tokenizer::{Tokenizer, WHOLE_PIECES_MIN_TEXT};
use glassbox::weights::config::LlamaConfig;
use glassbox::weights::model_files::ModelFiles;
use glassbox::weights::tensor::WeightMatrix;

pub mod fields;
pub mod gguf_writer;

/// A row longer than this is not dequantized (it would only cost time: the row's bytes were
/// already checked against the input, so it cannot be larger than the input × 8).
const MAX_ROW: usize = 1 << 16;

/// Models with more parameters than this are loaded but not run (a forward pass over a big
/// random model teaches nothing a small one does not, and costs seconds).
const MAX_RUN_PARAMS: usize = 1 << 21;

/// Text every tokenizer is tried on, besides text taken from the input itself.
const SAMPLES: &[&str] = &[
    "Hello world! The quick brown fox.",
    "  tabs\tand\nnewlines\r\n 123456 ½ 日本語 🦀",
    "<|endoftext|><|im_start|>user\nhi<|im_end|>",
];

/// A GGUF file's bytes, all the way: header, metadata, every tensor, the tokenizer, the
/// config and the model; a small model is run on two tokens.
pub fn gguf_bytes(data: &[u8]) {
    let Ok(g) = GgufFile::from_bytes(Path::new("fuzz.gguf"), data) else {
        return;
    };
    for (k, v) in &g.metadata {
        let _ = format!("{k} = {v} ({})", v.type_name());
    }
    let mut row = Vec::new();
    for t in &g.tensors {
        let _ = (t.rows_cols(), t.n_bytes(), t.shape(), g.tensor_extent(t));
        if let Ok(w) = WeightMatrix::from_gguf(&g, &t.name) {
            dequantize_first_row(&w, &mut row);
        }
    }
    if let Ok(tok) = Tokenizer::from_gguf(&g) {
        tokenizer_checks(&tok, &String::from_utf8_lossy(data));
    }
    if let Ok(c) = LlamaConfig::from_gguf(&g) {
        config_checks(&c);
    }
    if let Ok(files) = ModelFiles::from_gguf(g) {
        run_model(files);
    }
}

fn dequantize_first_row(w: &WeightMatrix, row: &mut Vec<f32>) {
    if w.rows > 0 && w.cols <= MAX_ROW {
        row.resize(w.cols, 0.0);
        w.dequantize_row(0, row);
        w.dequantize_row(w.rows - 1, row);
    }
}

/// Load the model and, when it is small, run two tokens: the logits are finite, or the
/// forward pass says why not (NaN weights are refused, never sampled from).
pub fn run_model(files: ModelFiles) {
    let c = files.config.clone();
    config_checks(&c);
    if c.param_counts().total() > MAX_RUN_PARAMS {
        return;
    }
    let Ok(model) = Llama::from_files(files) else {
        return;
    };
    let ctx = c.max_position_embeddings.min(8);
    let Ok(mut s) = model.new_session(ctx) else {
        return;
    };
    let ids: Vec<u32> = [0u32, 1].iter().map(|&i| i % c.vocab_size as u32).collect();
    let ids = &ids[..ids.len().min(ctx)];
    if let Ok(logits) = model.forward(&mut s, ids) {
        assert_eq!(logits.len(), c.vocab_size);
        assert!(
            logits.iter().all(|l| l.is_finite()),
            "forward returned non-finite logits without an error"
        );
    }
}

/// What a config that passed validation must allow: its counts and sizes do not overflow,
/// RoPE's frequencies are finite, and config.json written from it reads back the same.
pub fn config_checks(c: &LlamaConfig) {
    let _ = c.param_counts().total();
    let _ = c.kv_cache_bytes(8192, 4);
    let hd = c.head_dim();
    if hd <= 4096 {
        let f = inv_freq(hd, c.rope_theta, c.rope_scaling.as_ref());
        assert!(
            f.iter().all(|x| x.is_finite()),
            "a validated config gives non-finite RoPE frequencies: {c:?}"
        );
    }
    let json = c.to_hf_json("float32");
    let back = LlamaConfig::from_hf_value(&json, Path::new("written-config.json"))
        .unwrap_or_else(|e| panic!("config.json written from a valid config does not load: {e}"));
    assert_eq!(&back, c, "config.json round trip");
}

/// What every loaded tokenizer must do: encode without panicking; decode(encode(s)) == s for
/// text whose bytes all have tokens; stream-decode to the same text; the same ids before and
/// after the whole-piece table is built (a text of `WHOLE_PIECES_MIN_TEXT` bytes builds it; the
/// short texts before it use the merge loop alone); write itself as a tokenizer.json that reads
/// back and encodes the same.
pub fn tokenizer_checks(tok: &Tokenizer, extra: &str) {
    let extra: String = extra.chars().take(512).collect();
    let texts = SAMPLES
        .iter()
        .copied()
        .chain(std::iter::once(extra.as_str()));
    let mut before_table = Vec::new();
    for text in texts.clone() {
        let ids = tok.encode(text);
        before_table.push(ids.clone());
        let _ = tok.encode_with_special(text);
        if tok.covers(text) {
            let bytes = tok.decode_bytes(&ids).expect("encoded ids decode");
            assert_eq!(bytes, text.as_bytes(), "decode(encode(s)) != s");
            let mut dec = tok.stream_decoder();
            let mut streamed = String::new();
            for &id in &ids {
                streamed += &dec.push(id).expect("encoded id streams");
            }
            streamed += &dec.flush();
            assert_eq!(streamed, text, "streamed decode != s");
        }
    }
    let mut long = String::new();
    while long.len() < WHOLE_PIECES_MIN_TEXT {
        for text in texts.clone() {
            long.push_str(text);
            long.push(' ');
        }
    }
    let _ = tok.encode(&long); // builds the table
    for (text, ids) in texts.clone().zip(&before_table) {
        assert_eq!(
            &tok.encode(text),
            ids,
            "the whole-piece table changes the ids of {text:?}"
        );
    }
    let _ = (
        tok.vocab_size(),
        tok.special_tokens().count(),
        tok.merges().len(),
    );
    let json = tok.to_tokenizer_json();
    let back = Tokenizer::from_tokenizer_json(&json, Path::new("written-tokenizer.json"))
        .unwrap_or_else(|e| {
            panic!("tokenizer.json written from a loaded tokenizer does not load: {e}")
        });
    for text in texts {
        if tok.covers(text) {
            assert_eq!(
                back.decode_bytes(&back.encode(text)).ok().as_deref(),
                Some(text.as_bytes()),
                "the re-read tokenizer.json does not round-trip {text:?}"
            );
        }
    }
}
