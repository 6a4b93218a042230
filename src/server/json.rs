//! Typed access to a request's JSON, with errors that name the field: the helpers every parser
//! in `request.rs` is built from. `null` reads as "not given"; a value of the wrong type or out
//! of range is a 400 whose `param` is the field and whose message says what was expected and
//! what came (``"`temperature` must be a number between 0 and 2, got a string"``).

use serde_json::{Map, Value};

use super::request::{MAX_BODY_BYTES, MAX_JSON_DEPTH};
use super::wire::ApiError;

/// Refuse JSON nested deeper than `max` before handing it to the parser: a scan of the bytes
/// that counts `[`/`{` outside strings. `[[[1]]]` has depth 3.
pub fn check_depth(body: &[u8], max: usize) -> Result<(), ApiError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(ApiError::bad_request(format!(
                        "the request body is nested more than {max} levels deep"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The body as a JSON object.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::bad_request(format!(
            "the request body is {} bytes; at most {MAX_BODY_BYTES} are accepted",
            body.len()
        )));
    }
    check_depth(body, MAX_JSON_DEPTH)?;
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: {e}"
        ))),
    }
}

/// The name of a JSON value's type, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed access to the fields of one JSON object; `null` reads as absent.
pub struct Fields<'a>(pub &'a Map<String, Value>);

impl Fields<'_> {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }
    pub fn wrong(name: &str, want: &str, v: &Value) -> ApiError {
        ApiError::bad_param(
            name,
            format!("`{name}` must be {want}, got {}", type_name(v)),
        )
    }
    /// A number in `[lo, hi]`.
    pub fn num(&self, name: &str, default: f32, lo: f64, hi: f64) -> Result<f32, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        let want = format!("a number between {lo} and {hi}");
        match v.as_f64() {
            Some(x) if (lo..=hi).contains(&x) => Ok(x as f32),
            Some(x) => Err(ApiError::bad_param(
                name,
                format!("`{name}` must be {want}, got {x}"),
            )),
            None => Err(Fields::wrong(name, &want, v)),
        }
    }
    /// A non-negative integer at most `hi`.
    pub fn uint(&self, name: &str, hi: u64) -> Result<Option<u64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let want = format!("an integer between 0 and {hi}");
        match v.as_u64() {
            Some(x) if x <= hi => Ok(Some(x)),
            _ if v.is_number() => Err(ApiError::bad_param(
                name,
                format!("`{name}` must be {want}, got {v}"),
            )),
            _ => Err(Fields::wrong(name, &want, v)),
        }
    }
    pub fn boolean(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(Fields::wrong(name, "true or false", v)),
        }
    }
    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(Fields::wrong(name, "a string", v)),
        }
    }
}
