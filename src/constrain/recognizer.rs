//! Stage 6b · the recognizer: a pushdown machine that reads JSON one byte at a time.
//!
//! The state is a stack of frames, one per value being written, innermost on top. After
//! `{"name":"Al` under the two-field schema of `grammar.rs`:
//!
//! ```text
//! top ▶ String { node 7, len 2 }              inside "Al…": 2 of at most 20 characters
//!       Object { node 6, phase Value, next 1 } the value of property 0 ("name") is being written
//!       Root   { done false }                  the bottom of every stack
//! ```
//!
//! A byte only ever looks at the top frame: it changes it, pushes a child (a value starts),
//! or pops it (a value ends, and the parent moves on). A number has no closing byte, so the
//! byte after it (`,` `}` `]`) pops the number and is read again by the parent.
//!
//! `anyOf` makes the machine nondeterministic: `{"anyOf": [integer, number]}` cannot tell
//! which alternative `12` is until a `.` comes (or does not). So the recognizer holds a *set*
//! of stacks, stepped together; a stack that cannot take the byte is dropped, and the
//! recognizer is dead when none is left.
//!
//! All stacks live in one flat `Vec<Frame>` (a frame is 20 bytes), so a copy of the whole
//! state is one `memcpy`: that is what makes checkpoints cheap when the token trie is walked
//! (`mask.rs` keeps one copy per depth of the trie instead of undoing steps).

use super::containers::{feed_array, feed_key, feed_object};
use super::grammar::Format;
use super::grammar::{
    Grammar, Node, NodeId, ANY_ARRAY, ANY_LITERAL, ANY_NUMBER, ANY_OBJECT, ANY_STRING,
    MAX_EXP_DIGITS, MAX_FRAC_DIGITS, MAX_INT_DIGITS, MAX_WS,
};
use super::string::{format_byte, string_byte, FmtByte, StrByte, StrState};

/// Most stacks followed at once; more alternatives are dropped (sound: what is left still only
/// accepts valid text, and each remaining stack can still finish).
pub const MAX_STACKS: usize = 64;
/// `cur` of an object whose current key is not a declared property.
pub const EXTRA: u16 = u16::MAX;
/// No declared property matches the key read so far.
pub(super) const NONE: u16 = u16::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjPhase {
    Open,
    /// A key frame is on top.
    Key,
    AfterKey,
    AfterColon,
    /// A value frame is on top.
    Value,
    AfterValue,
    AfterComma,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArrPhase {
    Open,
    Value,
    AfterValue,
    AfterComma,
}

/// `-12.5e+3`: Minus, Int, Int, Dot, Frac, Exp, ExpSign, ExpDigits. Zero: a leading `0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NumState {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

/// One value being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    /// The bottom of every stack: whitespace, then the root value; `done` once it ended.
    Root {
        done: bool,
        ws: u8,
    },
    /// `next`: the first declared property not yet written or skipped; `cur`: the property
    /// whose key was just read (or [`EXTRA`]); `ws`: whitespace bytes in the current gap.
    Object {
        node: NodeId,
        phase: ObjPhase,
        next: u16,
        cur: u16,
        ws: u8,
    },
    /// A key of the object below. Declared keys are matched as literals: `rep` is the first
    /// allowed property whose key starts with the `pos` bytes read; `any` the same among all
    /// declared properties; `extra`: the bytes can still be an undeclared key (no escapes).
    Key {
        rep: u16,
        any: u16,
        pos: u32,
        extra: bool,
        utf8: StrState,
    },
    Array {
        node: NodeId,
        phase: ArrPhase,
        count: u32,
        ws: u8,
    },
    /// `len` characters so far.
    String {
        node: NodeId,
        len: u32,
        sub: StrState,
    },
    Formatted {
        format: Format,
        pos: u8,
        acc: u32,
    },
    /// `digits` in the current part (integer, fraction or exponent).
    Number {
        integer: bool,
        state: NumState,
        digits: u8,
    },
    /// The texts `literals(node)[lo..hi]` all start with the `pos` bytes read.
    Literal {
        node: NodeId,
        lo: u32,
        hi: u32,
        pos: u32,
    },
}

/// The set of stacks; stack `i` is `frames[ends[i-1]..ends[i]]`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Recognizer {
    frames: Vec<Frame>,
    ends: Vec<u32>,
}

impl Clone for Recognizer {
    fn clone(&self) -> Self {
        Recognizer {
            frames: self.frames.clone(),
            ends: self.ends.clone(),
        }
    }
    /// Reuses the allocations: a checkpoint costs a `memcpy`.
    fn clone_from(&mut self, src: &Self) {
        self.frames.clone_from(&src.frames);
        self.ends.clone_from(&src.ends);
    }
}

pub(super) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl Recognizer {
    /// Before the first byte: one stack holding the root frame.
    pub fn new() -> Recognizer {
        Recognizer {
            frames: vec![Frame::Root { done: false, ws: 0 }],
            ends: vec![1],
        }
    }

    /// The stacks, bottom frame first.
    pub fn stacks(&self) -> impl Iterator<Item = &[Frame]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(a, b)| &self.frames[a as usize..b as usize])
    }

    pub fn clear(&mut self) {
        self.frames.clear();
        self.ends.clear();
    }

    /// Add one stack (to split a state into parts, as the mask's fast path does).
    pub fn push_stack(&mut self, stack: &[Frame]) {
        self.frames.extend_from_slice(stack);
        self.ends.push(self.frames.len() as u32);
    }

    /// No stack is left: nothing more can be read.
    pub fn is_dead(&self) -> bool {
        self.ends.is_empty()
    }

    /// Read `b`; `false` (and the state unchanged) if no stack can take it.
    pub fn try_byte(&mut self, g: &Grammar, b: u8) -> bool {
        let mut out = Recognizer::default();
        if self.step(g, b, &mut out) {
            *self = out;
            true
        } else {
            false
        }
    }

    /// Read every byte of `bytes`; `false` (state unspecified) at the first one refused.
    pub fn try_bytes(&mut self, g: &Grammar, bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| self.try_byte(g, b))
    }

    // ANCHOR: step
    /// The state after `b`, written into `out` (whose buffers are reused); `false` if dead.
    pub fn step(&self, g: &Grammar, b: u8, out: &mut Recognizer) -> bool {
        out.clear();
        let mut start = 0;
        for &end in &self.ends {
            let base = out.frames.len();
            out.frames
                .extend_from_slice(&self.frames[start as usize..end as usize]);
            match feed(g, &mut out.frames, base, b) {
                Fed::Ok => out.ends.push(out.frames.len() as u32),
                Fed::Dead => out.frames.truncate(base),
                Fed::Start(node) => start_value(g, &mut out.frames, base, &mut out.ends, node, b),
            }
            start = end;
        }
        if out.ends.len() > 1 {
            out.dedup();
        }
        !out.ends.is_empty()
    }
    // ANCHOR_END: step

    /// Whether the text read so far is a complete instance (end-of-sequence may come now).
    pub fn is_accepting(&self, g: &Grammar) -> bool {
        self.stacks().any(|s| match s {
            [Frame::Root { done, .. }] => *done,
            [Frame::Root { .. }, Frame::Number { state, .. }] => num_complete(*state),
            [Frame::Root { .. }, Frame::Literal { node, lo, pos, .. }] => {
                g.literals(*node)[*lo as usize].len() == *pos as usize
            }
            _ => false,
        })
    }

    /// Drop stacks equal to an earlier one, keep at most [`MAX_STACKS`].
    fn dedup(&mut self) {
        let mut kept: Vec<(usize, usize)> = Vec::new();
        let mut start = 0usize;
        for &end in &self.ends {
            let s = &self.frames[start..end as usize];
            let seen = kept.iter().any(|&(a, b)| &self.frames[a..b] == s);
            if !seen && kept.len() < MAX_STACKS {
                kept.push((start, end as usize));
            }
            start = end as usize;
        }
        if kept.len() == self.ends.len() {
            return;
        }
        let old = std::mem::take(&mut self.frames);
        self.ends.clear();
        for (a, b) in kept {
            self.push_stack(&old[a..b]);
        }
    }
}

/// What a byte did to the top of one stack.
pub(super) enum Fed {
    Ok,
    Dead,
    /// The top container wants a value of this node to start with the byte.
    Start(NodeId),
}

/// Start a value of `node` with byte `b` on the stack `f[base..]`; push its end to `ends` if
/// it lives. `anyOf` forks the stack: one copy per alternative that fits.
fn start_value(
    g: &Grammar,
    f: &mut Vec<Frame>,
    base: usize,
    ends: &mut Vec<u32>,
    node: NodeId,
    b: u8,
) {
    let depth = f.len() - base; // stack index of the new frame
    if !g.fits(node, depth) {
        f.truncate(base);
        return;
    }
    if let Node::AnyOf(alts) = &g.nodes[node as usize] {
        let snapshot: Vec<Frame> = f[base..].to_vec();
        f.truncate(base);
        for &alt in alts {
            let nb = f.len();
            f.extend_from_slice(&snapshot);
            start_value(g, f, nb, ends, alt, b);
        }
        return;
    }
    if start_one(g, f, base, node, b) {
        ends.push(f.len() as u32);
    } else {
        f.truncate(base);
    }
}

/// Push the frame of a (non-`anyOf`) value whose first byte is `b`.
fn start_one(g: &Grammar, f: &mut Vec<Frame>, base: usize, node: NodeId, b: u8) -> bool {
    match &g.nodes[node as usize] {
        Node::Any => {
            let part = match b {
                b'{' => ANY_OBJECT,
                b'[' => ANY_ARRAY,
                b'"' => ANY_STRING,
                b'-' | b'0'..=b'9' => ANY_NUMBER,
                _ => ANY_LITERAL,
            };
            start_one(g, f, base, part, b)
        }
        Node::Literals(l) => {
            let hi = l.0.len() as u32;
            f.push(Frame::Literal {
                node,
                lo: 0,
                hi,
                pos: 0,
            });
            matches!(feed(g, f, base, b), Fed::Ok)
        }
        Node::Number { integer } => {
            let (state, digits) = match b {
                b'-' => (NumState::Minus, 0),
                b'0' => (NumState::Zero, 1),
                b'1'..=b'9' => (NumState::Int, 1),
                _ => return false,
            };
            f.push(Frame::Number {
                integer: *integer,
                state,
                digits,
            });
            true
        }
        Node::String { .. } if b == b'"' => {
            f.push(Frame::String {
                node,
                len: 0,
                sub: StrState::Idle,
            });
            true
        }
        Node::Formatted(format) if b == b'"' => {
            f.push(Frame::Formatted {
                format: *format,
                pos: 0,
                acc: 0,
            });
            true
        }
        Node::Object(_) if b == b'{' => {
            f.push(Frame::Object {
                node,
                phase: ObjPhase::Open,
                next: 0,
                cur: EXTRA,
                ws: 0,
            });
            true
        }
        Node::Array { .. } if b == b'[' => {
            f.push(Frame::Array {
                node,
                phase: ArrPhase::Open,
                count: 0,
                ws: 0,
            });
            true
        }
        _ => false,
    }
}

/// The top frame is finished: pop it and move its parent on.
pub(super) fn complete(f: &mut Vec<Frame>) {
    f.pop();
    match f.last_mut() {
        Some(Frame::Root { done, .. }) => *done = true,
        Some(Frame::Object { phase, cur, .. }) => {
            if *phase == ObjPhase::Key {
                // a key read as a plain string (objects without declared properties)
                (*phase, *cur) = (ObjPhase::AfterKey, EXTRA);
            } else {
                *phase = ObjPhase::AfterValue;
            }
        }
        Some(Frame::Array { phase, count, .. }) => {
            *count += 1;
            *phase = ArrPhase::AfterValue;
        }
        other => unreachable!("a finished value's parent is a container, found {other:?}"),
    }
}

fn num_complete(s: NumState) -> bool {
    matches!(
        s,
        NumState::Zero | NumState::Int | NumState::Frac | NumState::ExpDigits
    )
}

// ANCHOR: number
/// The number machine (RFC 8259 §6); `None`: `b` does not continue the number.
fn num_byte(integer: bool, s: NumState, digits: u8, b: u8) -> Option<(NumState, u8)> {
    use NumState::*;
    let digit = b.is_ascii_digit();
    let fraction_or_exponent = || match b {
        _ if integer => None,
        b'.' => Some((Dot, 0)),
        b'e' | b'E' => Some((Exp, 0)),
        _ => None,
    };
    match s {
        Minus if b == b'0' => Some((Zero, 1)),
        Minus if digit => Some((Int, 1)),
        Int if digit && digits < MAX_INT_DIGITS => Some((Int, digits + 1)),
        Zero | Int => fraction_or_exponent(),
        Dot if digit => Some((Frac, 1)),
        Frac if digit && digits < MAX_FRAC_DIGITS => Some((Frac, digits + 1)),
        Frac if b == b'e' || b == b'E' => Some((Exp, 0)),
        Exp if b == b'+' || b == b'-' => Some((ExpSign, 0)),
        Exp | ExpSign if digit => Some((ExpDigits, 1)),
        ExpDigits if digit && digits < MAX_EXP_DIGITS => Some((ExpDigits, digits + 1)),
        _ => None,
    }
}
// ANCHOR_END: number

/// One byte into the top frame of the stack `f[base..]`.
fn feed(g: &Grammar, f: &mut Vec<Frame>, base: usize, b: u8) -> Fed {
    loop {
        let top = f.len() - 1;
        match f[top] {
            Frame::Root { done, ws } => {
                return match () {
                    _ if done => Fed::Dead, // nothing after the value, not even whitespace
                    _ if is_ws(b) && ws < MAX_WS => {
                        f[top] = Frame::Root { done, ws: ws + 1 };
                        Fed::Ok
                    }
                    _ if is_ws(b) => Fed::Dead,
                    _ => Fed::Start(g.root),
                };
            }
            Frame::Object { .. } => return feed_object(g, f, base, b),
            Frame::Key { .. } => return feed_key(g, f, base, b),
            Frame::Array { .. } => return feed_array(g, f, b),
            Frame::String { node, len, sub } => {
                let Node::String { min, max } = g.nodes[node as usize] else {
                    unreachable!("a string frame's node is a string")
                };
                return match string_byte(sub, b) {
                    StrByte::Close if len >= min => {
                        complete(f);
                        Fed::Ok
                    }
                    StrByte::Char(sub) if len < max => {
                        f[top] = Frame::String {
                            node,
                            len: len + 1,
                            sub,
                        };
                        Fed::Ok
                    }
                    StrByte::More(sub) => {
                        f[top] = Frame::String { node, len, sub };
                        Fed::Ok
                    }
                    _ => Fed::Dead,
                };
            }
            Frame::Formatted { format, pos, acc } => {
                return match format_byte(format, pos, acc, b) {
                    FmtByte::Next(pos, acc) => {
                        f[top] = Frame::Formatted { format, pos, acc };
                        Fed::Ok
                    }
                    FmtByte::Close => {
                        complete(f);
                        Fed::Ok
                    }
                    FmtByte::Bad => Fed::Dead,
                }
            }
            Frame::Number {
                integer,
                state,
                digits,
            } => match num_byte(integer, state, digits, b) {
                Some((state, digits)) => {
                    f[top] = Frame::Number {
                        integer,
                        state,
                        digits,
                    };
                    return Fed::Ok;
                }
                None if num_complete(state) => complete(f), // and read `b` again, below
                None => return Fed::Dead,
            },
            Frame::Literal { node, lo, hi, pos } => {
                let lits = g.literals(node);
                let (lo, hi, p) = (lo as usize, hi as usize, pos as usize);
                // lits[lo..hi] share the first p bytes; the one of length p (if any) is first
                let range = &lits[lo..hi];
                let a = lo + range.partition_point(|l| l.len() <= p || l[p] < b);
                let z = lo + range.partition_point(|l| l.len() <= p || l[p] <= b);
                if a < z {
                    f[top] = Frame::Literal {
                        node,
                        lo: a as u32,
                        hi: z as u32,
                        pos: pos + 1,
                    };
                    if z - a == 1 && lits[a].len() == p + 1 {
                        complete(f); // the only text left is complete: nothing can follow
                    }
                    return Fed::Ok;
                }
                if lits[lo].len() != p {
                    return Fed::Dead;
                }
                complete(f); // a complete text ("1" of ["1", "12"]) ends here; read `b` again
            }
        }
    }
}
