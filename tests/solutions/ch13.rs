//! Chapter 13, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch13_exercises --features solutions`).

use glassbox::tokenizer::Tokenizer;

// ANCHOR: ex1
/// After `{"a":` the value must be an integer, and JSON allows whitespace before it:
/// `1` starts one; `-` starts a negative one, and ` -` is whitespace then `-`; ` ` and `\n` are
/// whitespace. `"` would start a string, `}` and ` }` would close the object without its
/// required value, and `<|im_end|>` would end the text before the JSON is complete.
pub fn may_follow() -> [bool; 9] {
    // ["1", " -", "-", "\"", "}", " }", " ", "\n", "<|im_end|>"]
    [true, true, true, false, false, false, true, true, false]
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// After `{"a":12` a token may: continue the integer (only digits: no `.` or `e` in an
/// integer), pad with whitespace before the `}`, or close the object, after whitespace or not
/// (`}`, ` }`, `\n}`, …). After the closing `}` the value is complete: nothing else may follow in
/// the same token. And one rule of glassbox's grammar: a gap holds at most `MAX_WS` (20)
/// whitespace bytes, so the vocabulary's longer runs of spaces are refused. Counted:
pub fn allowed_after_12(tok: &Tokenizer) -> usize {
    use glassbox::constrain::grammar::MAX_WS;
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let (mut digits, mut blanks, mut closes) = (0, 0, 0);
    for id in 0..tok.vocab_size() as u32 {
        let Some(bytes) = tok.token_bytes(id) else {
            continue;
        };
        let ws = bytes.iter().take_while(|b| is_ws(b)).count();
        let rest = &bytes[ws..];
        if ws > MAX_WS as usize {
            continue;
        }
        if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) {
            digits += 1;
        } else if !bytes.is_empty() && rest.is_empty() {
            blanks += 1;
        } else if rest == b"}" {
            closes += 1;
        }
    }
    println!("{digits} digits + {blanks} whitespace tokens (≤ {MAX_WS} bytes) + {closes} closing `}}` tokens");
    digits + blanks + closes
}
// ANCHOR_END: ex2
