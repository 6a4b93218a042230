//! `POST /v1/embeddings`: sentence vectors from the BERT encoder (stage 7), in OpenAI's shape.
//!
//! ```text
//! POST /v1/embeddings {"model": "all-MiniLM-L6-v2", "input": ["Paris is in France.", "…"]}
//!   → {"object": "list", "model": "all-MiniLM-L6-v2",
//!      "data": [{"object": "embedding", "index": 0, "embedding": [0.0431, -0.0127, …]}, …],
//!      "usage": {"prompt_tokens": 9, "total_tokens": 9}}
//! ```
//!
//! - `input`: a string, a list of strings, a list of token ids (one input), or a list of such
//!   lists. Token ids are the encoder's word pieces of a text *without* `[CLS]`/`[SEP]`: both
//!   kinds of input get them added, so `"Hello"` and its ids give the same vector.
//! - `encoding_format`: `"float"` (default) or `"base64"` — the vector's little-endian f32
//!   bytes, base64-encoded (what the `openai` Python client asks for when none is named).
//! - `dimensions`: only the model's own (384). all-MiniLM-L6-v2 was not trained to be cut
//!   shorter (as Matryoshka models are), so any other value is a 400, not a silent cut.
//! - An input over the encoder's 256 tokens (`[CLS]`/`[SEP]` included) is a 400 naming
//!   `input[i]`, unless the request asks for `"truncate": true` (text-embeddings-inference's
//!   name for it; the `openai` client sends it with `extra_body`): then the first 256 are
//!   read, as sentence-transformers does.
//! - `usage.prompt_tokens`: the tokens the encoder read, `[CLS]`/`[SEP]` included.
//! - `model`: optional; if given, the encoder's directory name (`all-MiniLM-L6-v2`, also
//!   accepted with an owner, `sentence-transformers/all-MiniLM-L6-v2`), else a 404.
//!
//! The encoder (`glassbox serve --embedder DIR`; default all-MiniLM-L6-v2, fetched on first
//! use) is loaded by the first embeddings request and kept. It runs off the async threads,
//! one request at a time (bounded memory), [`BATCH`] inputs per forward pass.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::completions::body_bytes;
use super::json::{object, Fields};
use super::wire::ApiError;
use super::{json_headers, AppState};
use crate::model::Bert;

/// At most this many inputs in one request (OpenAI's limit).
pub const MAX_INPUTS: usize = 2048;
/// Inputs per forward pass: 32 × 256 tokens keep the FFN's activations near 50 MB.
pub const BATCH: usize = 32;

/// One input as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Text(String),
    Ids(Vec<u64>),
}

/// A parsed `POST /v1/embeddings` body.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    pub model: Option<String>,
    pub inputs: Vec<Input>,
    pub base64: bool,
    pub dimensions: Option<u64>,
    pub truncate: bool,
}

// ANCHOR: handler
pub async fn create(
    State(s): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    respond(s, body).await.unwrap_or_else(|e| e.into_response())
}

async fn respond(
    s: Arc<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // 1. parse (400 naming the field) before anything is loaded
    let req = parse_embeddings(&body_bytes(body)?)?;
    // 2. one request at a time on the encoder: the others wait here, holding only their body
    static RUNNING: Semaphore = Semaphore::const_new(1);
    let _turn = RUNNING
        .acquire()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // 3. load (first time), check, tokenize and run, off the async threads
    let dir = s.opts.embedder.clone();
    let body = tokio::task::spawn_blocking(move || {
        let m = encoder(dir)?;
        let ids = model_inputs(&m, &req)?;
        embed(&m, &req, &ids)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the embeddings task failed: {e}")))??;
    Ok((json_headers(), body).into_response())
}
// ANCHOR_END: handler

/// The encoder for `dir` (`None`: the default one), loaded once per process and shared by
/// every server in it.
fn encoder(dir: Option<PathBuf>) -> Result<Arc<Bert>, ApiError> {
    static LOADED: Mutex<Vec<(Option<PathBuf>, Arc<Bert>)>> = Mutex::new(Vec::new());
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, m)) = loaded.iter().find(|(d, _)| *d == dir) {
        return Ok(m.clone());
    }
    let fail = |e: crate::Error| {
        ApiError::unavailable(
            "load_failed",
            format!("the embedding model could not be loaded: {e}"),
        )
    };
    let path = match &dir {
        Some(d) => d.clone(),
        None => crate::data::default_embedder().map_err(fail)?,
    };
    let m = Arc::new(Bert::load(&path).map_err(fail)?);
    loaded.push((dir, m.clone()));
    Ok(m)
}

/// The name clients give in `model`: the encoder directory's name.
pub fn served_name(m: &Bert) -> String {
    m.path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| m.path.display().to_string())
}

// ANCHOR: inputs
/// Check the request against the model and turn every input into `[CLS] … [SEP]` ids.
fn model_inputs(m: &Bert, req: &EmbeddingsRequest) -> Result<Vec<Vec<u32>>, ApiError> {
    let name = served_name(m);
    if let Some(asked) = req.model.as_deref() {
        if asked != name && !asked.ends_with(&format!("/{name}")) {
            let mut e = ApiError::model_not_found(asked, &name);
            e.message = format!(
                "the embedding model `{asked}` does not exist: this server embeds with `{name}`"
            );
            return Err(e);
        }
    }
    if let Some(d) = req.dimensions.filter(|&d| d as usize != m.dim()) {
        return Err(ApiError::bad_param(
            "dimensions",
            format!(
                "`{name}` gives {}-dimensional vectors and was not trained to be shortened; \
                 `dimensions` may only be {} (or left out), got {d}",
                m.dim(),
                m.dim()
            ),
        ));
    }
    let (max, vocab) = (m.max_len(), m.config.vocab_size);
    let tok = &m.tokenizer;
    let mut out = Vec::with_capacity(req.inputs.len());
    for (i, input) in req.inputs.iter().enumerate() {
        let param = || format!("input[{i}]");
        let mut pieces: Vec<u32> = match input {
            Input::Text(t) => tok.tokenize(t),
            Input::Ids(ids) => {
                if let Some((j, id)) = ids.iter().enumerate().find(|(_, &id)| id >= vocab as u64) {
                    return Err(ApiError::bad_param(
                        &param(),
                        format!(
                            "token id {id} at position {j} is outside the vocabulary of {vocab}"
                        ),
                    ));
                }
                ids.iter().map(|&id| id as u32).collect()
            }
        };
        if pieces.len() + 2 > max {
            if !req.truncate {
                return Err(ApiError {
                    code: Some("context_length_exceeded"),
                    ..ApiError::bad_param(
                        &param(),
                        format!(
                            "input {i} has {} tokens with [CLS] and [SEP]; `{name}` reads at most \
                             {max}. Shorten it, or send \"truncate\": true to embed its first {max}",
                            pieces.len() + 2
                        ),
                    )
                });
            }
            pieces.truncate(max - 2);
        }
        let mut ids = Vec::with_capacity(pieces.len() + 2);
        ids.push(tok.cls_id());
        ids.extend(pieces);
        ids.push(tok.sep_id());
        out.push(ids);
    }
    Ok(out)
}
// ANCHOR_END: inputs

// ANCHOR: embed
/// Run the encoder in batches and write the response body.
fn embed(m: &Bert, req: &EmbeddingsRequest, ids: &[Vec<u32>]) -> Result<String, ApiError> {
    let mut vectors = Vec::with_capacity(ids.len());
    for batch in ids.chunks(BATCH) {
        let v = m
            .embed_ids(batch)
            .map_err(|e| ApiError::internal(format!("the encoder failed: {e}")))?;
        vectors.extend(v);
    }
    // structs, not json!(): serde writes an f32 in its shortest form, a Value widens it to f64
    #[derive(serde::Serialize)]
    #[serde(untagged)]
    enum Vector<'a> {
        Float(&'a [f32]),
        Base64(String),
    }
    #[derive(serde::Serialize)]
    struct Item<'a> {
        object: &'static str,
        index: usize,
        embedding: Vector<'a>,
    }
    #[derive(serde::Serialize)]
    struct Usage {
        prompt_tokens: usize,
        total_tokens: usize,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        object: &'static str,
        data: Vec<Item<'a>>,
        model: String,
        usage: Usage,
    }
    let data = vectors
        .iter()
        .enumerate()
        .map(|(index, v)| Item {
            object: "embedding",
            index,
            embedding: match req.base64 {
                true => Vector::Base64(base64_f32(v)),
                false => Vector::Float(v),
            },
        })
        .collect();
    let tokens: usize = ids.iter().map(Vec::len).sum();
    let body = Body {
        object: "list",
        data,
        model: served_name(m),
        usage: Usage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    };
    serde_json::to_string(&body).map_err(|e| ApiError::internal(e.to_string()))
}
// ANCHOR_END: embed

/// A vector as base64 of its little-endian f32 bytes (`numpy.frombuffer(…, dtype="<f4")`).
pub fn base64_f32(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ANCHOR: parse
/// `POST /v1/embeddings` body → request (the checks that need the model come later).
pub fn parse_embeddings(body: &[u8]) -> Result<EmbeddingsRequest, ApiError> {
    let obj = object(body)?;
    let f = Fields(&obj);
    let inputs = parse_input(f.get("input"))?;
    let base64 = match f.string("encoding_format")?.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_param(
                "encoding_format",
                format!("`encoding_format` must be \"float\" or \"base64\", got {other:?}"),
            ))
        }
    };
    Ok(EmbeddingsRequest {
        model: f.string("model")?.filter(|m| !m.is_empty()),
        inputs,
        base64,
        dimensions: f.uint("dimensions", u32::MAX as u64)?,
        truncate: f.boolean("truncate")?,
    })
}

/// `input`: a string, a list of strings, a list of token ids, or a list of lists of ids.
fn parse_input(v: Option<&Value>) -> Result<Vec<Input>, ApiError> {
    const WANT: &str =
        "a string, a list of strings, a list of token ids, or a list of lists of token ids";
    let bad = |msg: String| ApiError::bad_param("input", msg);
    let items = match v {
        None => return Err(bad("`input` is required".into())),
        Some(Value::String(s)) => return Ok(vec![Input::Text(s.clone())]),
        Some(Value::Array(a)) => a,
        Some(v) => return Err(Fields::wrong("input", WANT, v)),
    };
    if items.is_empty() {
        return Err(bad("`input` must not be an empty list".into()));
    }
    if items.len() > MAX_INPUTS {
        return Err(bad(format!(
            "`input` may hold at most {MAX_INPUTS} inputs, got {}",
            items.len()
        )));
    }
    if items.iter().all(Value::is_number) {
        return Ok(vec![Input::Ids(token_ids(items, "input")?)]);
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(Input::Text(s.clone())),
            // `[]` here is the empty text, as `""` is ([CLS] [SEP])
            Value::Array(ids) => Ok(Input::Ids(token_ids(ids, &format!("input[{i}]"))?)),
            v => Err(Fields::wrong(
                &format!("input[{i}]"),
                "a string or a list of token ids",
                v,
            )),
        })
        .collect()
}

fn token_ids(items: &[Value], param: &str) -> Result<Vec<u64>, ApiError> {
    items
        .iter()
        .map(|v| {
            v.as_u64().ok_or_else(|| {
                ApiError::bad_param(
                    param,
                    format!("`{param}` must hold token ids (integers ≥ 0), found {v}"),
                )
            })
        })
        .collect()
}
// ANCHOR_END: parse
