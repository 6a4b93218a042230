//! Stage 4b · the `tojson` filter as Hugging Face defines it: Python's `json.dumps`.
//!
//! Templates that list tools print them with `tools | tojson(indent=4)`, and print a past call's
//! arguments with `arguments | tojson`. Jinja2's own `tojson` (and minijinja's) escape HTML
//! characters (`'` → `\u0027`) and write compact JSON; transformers replaces it with
//!
//! ```text
//! json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
//!   indent None:  {"a": 1, "b": [1, 2]}        separators ", " and ": "
//!   indent 4:     {\n    "a": 1,\n    "b": [\n        1,\n ...   separators "," and ": "
//!   empty:        {} and []                    at any indent
//! ```
//!
//! so the prompt the model was trained on is byte-for-byte this. Floats print as Python's
//! `repr` (`1e-05`, `1e+16`, `2.0`); keys keep their order (minijinja's `preserve_order`).

use minijinja::value::{Kwargs, Value};
use minijinja::{Error, ErrorKind};
use serde_json::Value as Json;

/// Python's `json.dumps` options that `tojson` takes.
struct Options {
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
    sort_keys: bool,
    ensure_ascii: bool,
}

/// `value | tojson(indent=None, separators=None, sort_keys=False, ensure_ascii=False)`.
pub fn filter(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let separators: Option<Vec<String>> = kwargs.get("separators")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    kwargs.assert_all_used()?;
    let (item_sep, key_sep) = match separators.as_deref() {
        Some([i, k]) => (i.clone(), k.clone()),
        Some(_) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "tojson: `separators` is a pair (item separator, key separator)",
            ))
        }
        // Python: ", " without indent, "," with one (the newline separates)
        None if indent.is_some() => (",".into(), ": ".into()),
        None => (", ".into(), ": ".into()),
    };
    let opts = Options {
        indent: indent.map(|n| " ".repeat(n)),
        item_sep,
        key_sep,
        sort_keys: sort_keys.unwrap_or(false),
        ensure_ascii: ensure_ascii.unwrap_or(false),
    };
    let json = serde_json::to_value(&value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    let mut out = String::new();
    dump(&json, &opts, 0, &mut out);
    Ok(out)
}

/// Write `v` at nesting `level` the way `json.dumps` does.
fn dump(v: &Json, o: &Options, level: usize, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&python_number(n)),
        Json::String(s) => string(s, o.ensure_ascii, out),
        Json::Array(a) if a.is_empty() => out.push_str("[]"),
        Json::Object(m) if m.is_empty() => out.push_str("{}"),
        Json::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                separate(o, i == 0, level + 1, out);
                dump(x, o, level + 1, out);
            }
            newline(o, level, out);
            out.push(']');
        }
        Json::Object(m) => {
            let mut entries: Vec<(&String, &Json)> = m.iter().collect();
            if o.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                separate(o, i == 0, level + 1, out);
                string(k, o.ensure_ascii, out);
                out.push_str(&o.key_sep);
                dump(x, o, level + 1, out);
            }
            newline(o, level, out);
            out.push('}');
        }
    }
}

/// Before an item: the item separator (not before the first), then the line break if indenting.
fn separate(o: &Options, first: bool, level: usize, out: &mut String) {
    if !first {
        out.push_str(&o.item_sep);
    }
    newline(o, level, out);
}

fn newline(o: &Options, level: usize, out: &mut String) {
    if let Some(ind) = &o.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

/// A JSON string as Python writes it: `"` `\\` `\n` `\r` `\t` `\b` `\f` escaped, other control
/// characters as `\u00XX`, and with `ensure_ascii` every non-ASCII character as `\uXXXX`
/// (UTF-16 halves above U+FFFF).
fn string(s: &str, ensure_ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Integers as they are; floats as Python's `repr`: the shortest digits that read back to the
/// same float, written out (`2.0`, `0.0001`) when the decimal exponent is in -4..16, else in
/// scientific form with a signed two-digit exponent (`1e-05`, `1.5e+16`).
fn python_number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => python_float(f),
        _ => n.to_string(),
    }
}

fn python_float(f: f64) -> String {
    // Rust's `{:e}` is the shortest round-trip form too: "-1.5e16", "1e-5", "2.5e0"
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let body = if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{neg}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dumps(v: Json, indent: Option<usize>) -> String {
        let o = Options {
            indent: indent.map(|n| " ".repeat(n)),
            item_sep: if indent.is_some() { "," } else { ", " }.into(),
            key_sep: ": ".into(),
            sort_keys: false,
            ensure_ascii: false,
        };
        let mut out = String::new();
        dump(&v, &o, 0, &mut out);
        out
    }

    // Expected strings are what CPython 3.11's json.dumps prints for the same values.
    #[test]
    fn matches_python_json_dumps() {
        let v =
            json!({"b": [1, 2.5, {}], "a": "it's <é>\n", "c": [], "d": null, "e": 1e16, "f": 1e-5});
        assert_eq!(
            dumps(v.clone(), None),
            r#"{"b": [1, 2.5, {}], "a": "it's <é>\n", "c": [], "d": null, "e": 1e+16, "f": 1e-05}"#
        );
        // repr(x) for each, from CPython 3.11
        for (x, py) in [
            (2.0, "2.0"),
            (-0.5, "-0.5"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1e-5, "1e-05"),
            (-1.25e-7, "-1.25e-07"),
            (123456.789, "123456.789"),
            (1e15, "1000000000000000.0"),
            (1.5e16, "1.5e+16"),
            (1e300, "1e+300"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(python_float(x), py, "{x}");
        }
        assert_eq!(
            dumps(json!({"a": [1, {"x": true}], "b": {}}), Some(2)),
            "{\n  \"a\": [\n    1,\n    {\n      \"x\": true\n    }\n  ],\n  \"b\": {}\n}"
        );
    }
}
