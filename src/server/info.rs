//! The small endpoints: `/health`, `/v1/models`, `/tokenize`, `/detokenize`, and the page.
//!
//! `/tokenize` and `/detokenize` have the shape of llama.cpp's server:
//!
//! ```text
//! POST /tokenize   {"content": "Hello", "add_special": false, "with_pieces": true}
//!               →  {"tokens": [{"id": 19556, "piece": "Hello"}]}      (without pieces: [19556])
//! POST /detokenize {"tokens": [19556]}  →  {"content": "Hello"}
//! ```
//!
//! A piece that is not valid UTF-8 on its own (part of a character) is given as its bytes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::completions::body_bytes;
use super::request::{parse_detokenize, parse_tokenize};
use super::wire::ApiError;
use super::{json_headers, AppState};

fn ok(v: Value) -> Response {
    (json_headers(), v.to_string()).into_response()
}

/// `GET /health`: 200 `{"status":"ok"}` once the model is loaded, 503 before.
pub async fn health(State(s): State<Arc<AppState>>) -> Response {
    match s.loaded() {
        Ok(_) => ok(json!({"status": "ok"})),
        Err(e) => e.into_response(),
    }
}

/// `GET /v1/models`: the one model this server runs.
pub async fn models(State(s): State<Arc<AppState>>) -> Response {
    let l = match s.loaded() {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let c = &l.model.config;
    ok(json!({
        "object": "list",
        "data": [{
            "id": l.name,
            "object": "model",
            "created": l.created,
            "owned_by": "glassbox",
            "meta": {
                "path": l.model.path.display().to_string(),
                "n_ctx": l.ctx,
                "n_ctx_train": c.max_position_embeddings,
                "n_vocab": c.vocab_size,
                "n_embd": c.hidden_size,
                "n_layer": c.num_hidden_layers,
            },
        }],
    }))
}

/// `POST /tokenize`.
pub async fn tokenize(
    State(s): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let run = || -> Result<Value, ApiError> {
        let req = parse_tokenize(&body_bytes(body)?)?;
        let tok = &s.loaded()?.model.tokenizer;
        let mut ids = Vec::new();
        if req.add_special {
            ids.extend(tok.bos_id());
        }
        ids.extend(tok.encode_with_special(&req.content));
        if !req.with_pieces {
            return Ok(json!({ "tokens": ids }));
        }
        let pieces: Vec<Value> = ids
            .iter()
            .map(|&id| {
                let bytes = tok.token_bytes(id).unwrap_or(&[]);
                let piece = match std::str::from_utf8(bytes) {
                    Ok(s) => json!(s),
                    Err(_) => json!(bytes),
                };
                json!({"id": id, "piece": piece})
            })
            .collect();
        Ok(json!({ "tokens": pieces }))
    };
    run().map(ok).unwrap_or_else(|e| e.into_response())
}

/// `POST /detokenize`.
pub async fn detokenize(
    State(s): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let run = || -> Result<Value, ApiError> {
        let ids = parse_detokenize(&body_bytes(body)?)?;
        let tok = &s.loaded()?.model.tokenizer;
        let text = tok
            .decode(&ids)
            .map_err(|e| ApiError::bad_param("tokens", e.to_string()))?;
        Ok(json!({ "content": text }))
    };
    run().map(ok).unwrap_or_else(|e| e.into_response())
}

// ANCHOR: page
/// `GET /`: the glass-box chat page, compiled into the binary (works offline, no CDN).
pub async fn page() -> Response {
    let html = include_str!("page.html");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// `GET /page.js`: the page's script.
pub async fn page_js() -> Response {
    let js = include_str!("page.js");
    let ct = "text/javascript; charset=utf-8";
    (StatusCode::OK, [(header::CONTENT_TYPE, ct)], js).into_response()
}
// ANCHOR_END: page
