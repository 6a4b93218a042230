//! Stage 6b · the recognizer's containers: what a byte does when an object, one of its keys,
//! or an array is on top of the stack.
//!
//! ```text
//! object:  Open ─"─▶ Key ─(key read)─▶ AfterKey ─:─▶ AfterColon ─(value starts)─▶ Value
//!            │                                                                     │ (value ends)
//!            └─}─▶ done      AfterComma ◀─,─ AfterValue ◀──────────────────────────┘
//!                              └─"─▶ Key                 └─}─▶ done
//! array:   Open ─(value)─▶ Value ─▶ AfterValue ─,─▶ AfterComma ─(value)─▶ …   ]: done
//! ```
//!
//! Whitespace is counted per gap (at most `MAX_WS` bytes). `}` only when no required property
//! is left; `,` only when something may still follow; a key or item only if its value still
//! fits under `MAX_FRAMES` (so a recursive schema never walks into a dead end).

use super::grammar::{Grammar, Node, NodeId, ANY, ANY_STRING, MAX_WS};
use super::recognizer::{complete, is_ws, ArrPhase, Fed, Frame, ObjPhase, EXTRA, NONE};
use super::string::{string_byte, StrByte, StrState};

pub(super) fn feed_object(g: &Grammar, f: &mut Vec<Frame>, base: usize, b: u8) -> Fed {
    use ObjPhase::*;
    let top = f.len() - 1;
    let Frame::Object {
        node,
        phase,
        next,
        cur,
        ws,
    } = f[top]
    else {
        unreachable!("feed_object on an object frame")
    };
    let o = g.object(node);
    let depth = top - base;
    if is_ws(b) && !matches!(phase, Key | Value) {
        if ws >= MAX_WS {
            return Fed::Dead;
        }
        f[top] = Frame::Object {
            node,
            phase,
            next,
            cur,
            ws: ws + 1,
        };
        return Fed::Ok;
    }
    let set = |f: &mut Vec<Frame>, phase| {
        f[top] = Frame::Object {
            node,
            phase,
            next,
            cur,
            ws: 0,
        }
    };
    // A key may start if a declared property whose value fits may come next, or other keys may.
    let value_fits = |n: NodeId| g.fits(n, depth + 1);
    let key_possible = o.window(next as usize).any(|i| value_fits(o.props[i].node))
        || o.additional.is_some_and(value_fits);
    match (phase, b) {
        (Open | AfterValue, b'}') if o.can_close(next as usize) => {
            complete(f);
            Fed::Ok
        }
        (Open | AfterComma, b'"') if key_possible => {
            set(f, Key);
            if o.props.is_empty() {
                // no declared keys: any string is a key
                f.push(Frame::String {
                    node: ANY_STRING,
                    len: 0,
                    sub: StrState::Idle,
                });
            } else {
                let rep = o
                    .window(next as usize)
                    .find(|&i| value_fits(o.props[i].node))
                    .map_or(NONE, |i| i as u16);
                let extra = o.additional.is_some_and(value_fits);
                f.push(Frame::Key {
                    rep,
                    any: 0,
                    pos: 1,
                    extra,
                    utf8: StrState::Idle,
                });
            }
            Fed::Ok
        }
        (AfterKey, b':') => {
            set(f, AfterColon);
            Fed::Ok
        }
        (AfterColon, _) => {
            set(f, Value);
            let child = match cur {
                EXTRA => o.additional.unwrap_or(ANY),
                i => o.props[i as usize].node,
            };
            Fed::Start(child)
        }
        (AfterValue, b',') if key_possible => {
            set(f, AfterComma);
            Fed::Ok
        }
        _ => Fed::Dead,
    }
}

// ANCHOR: key
/// A key of the object below the top. Declared keys are literals (`"name"`, quotes included);
/// an undeclared key (when `additionalProperties` allows it) is any string without escapes
/// that is not a declared name.
pub(super) fn feed_key(g: &Grammar, f: &mut Vec<Frame>, base: usize, b: u8) -> Fed {
    let top = f.len() - 1;
    let Frame::Key {
        rep,
        any,
        pos,
        extra,
        utf8,
    } = f[top]
    else {
        unreachable!("feed_key on a key frame")
    };
    let Frame::Object { node, next, .. } = f[top - 1] else {
        unreachable!("a key frame sits on an object frame")
    };
    let o = g.object(node);
    let props = &o.props;
    let depth = top - 1 - base; // the object's
    let p = pos as usize;
    // property i's key continues the bytes read so far (those of key `r`) with `b`
    let matches = |i: usize, r: u16| {
        let k = &props[i].key;
        k.len() > p && k[p] == b && (i == r as usize || k[..p] == props[r as usize].key[..p])
    };
    let declared = |f: &mut Vec<Frame>, cur: u16, next: u16| {
        f.pop();
        f[top - 1] = Frame::Object {
            node,
            phase: ObjPhase::AfterKey,
            next,
            cur,
            ws: 0,
        };
        Fed::Ok
    };
    // 1. the allowed declared keys
    let mut rep_next = NONE;
    if rep != NONE {
        for i in o.window(next as usize) {
            if g.fits(props[i].node, depth + 1) && matches(i, rep) {
                if props[i].key.len() == p + 1 {
                    return declared(f, i as u16, i as u16 + 1); // `"name"` is complete
                }
                if rep_next == NONE {
                    rep_next = i as u16;
                }
            }
        }
    }
    // 2. an undeclared key
    let (mut extra, mut utf8) = (extra, utf8);
    if extra {
        match string_byte(utf8, b) {
            StrByte::Close => {
                let is_declared_name = any != NONE
                    && (0..props.len()).any(|i| props[i].key.len() == p + 1 && matches(i, any));
                if !is_declared_name {
                    return declared(f, EXTRA, next);
                }
                extra = false;
            }
            StrByte::Char(StrState::Escape) | StrByte::Bad => extra = false,
            StrByte::Char(s) | StrByte::More(s) => utf8 = s,
        }
    }
    let any_next = match any {
        NONE => NONE,
        _ if !extra => NONE,
        _ => (0..props.len())
            .find(|&i| matches(i, any))
            .map_or(NONE, |i| i as u16),
    };
    if rep_next == NONE && !extra {
        return Fed::Dead;
    }
    f[top] = Frame::Key {
        rep: rep_next,
        any: any_next,
        pos: pos + 1,
        extra,
        utf8,
    };
    Fed::Ok
}
// ANCHOR_END: key

pub(super) fn feed_array(g: &Grammar, f: &mut Vec<Frame>, b: u8) -> Fed {
    use ArrPhase::*;
    let top = f.len() - 1;
    let Frame::Array {
        node,
        phase,
        count,
        ws,
    } = f[top]
    else {
        unreachable!("feed_array on an array frame")
    };
    let Node::Array { items, min, max } = g.nodes[node as usize] else {
        unreachable!("an array frame's node is an array")
    };
    if is_ws(b) && phase != Value {
        if ws >= MAX_WS {
            return Fed::Dead;
        }
        f[top] = Frame::Array {
            node,
            phase,
            count,
            ws: ws + 1,
        };
        return Fed::Ok;
    }
    let set = |f: &mut Vec<Frame>, phase| {
        f[top] = Frame::Array {
            node,
            phase,
            count,
            ws: 0,
        }
    };
    match (phase, b) {
        (Open, b']') if min == 0 => {
            complete(f);
            Fed::Ok
        }
        (AfterValue, b']') if count >= min => {
            complete(f);
            Fed::Ok
        }
        (AfterValue, b',') if count < max => {
            set(f, AfterComma);
            Fed::Ok
        }
        (Open | AfterComma, _) if count < max => {
            set(f, Value);
            Fed::Start(items)
        }
        _ => Fed::Dead,
    }
}
