//! Stage 6b · inside the quotes: the byte rules of a JSON string and of a date format.
//!
//! A JSON string is `"` + characters + `"`, where a character is one UTF-8 sequence (not a
//! control byte, `"` or `\`) or an escape. The state between two bytes is small:
//!
//! ```text
//!            ┌──── byte ≥ 0x20, not " or \ (one ASCII char) ───┐
//!            ▼                                                 │
//!  ──"──▶ [Idle] ──lead byte C2–F4──▶ [Cont n] ──80–BF × n──▶ Idle     (UTF-8: RFC 3629 table)
//!            │  └──\──▶ [Escape] ──" \ / b f n r t──▶ Idle
//!            │                   └──u──▶ [Hex 0..3] ──4 hex digits──▶ Idle  (no D800–DFFF)
//!            └──"──▶ closed
//! ```
//!
//! Tokens split characters anywhere: `é` is `C3 A9` and a token may end after `C3`. Because
//! the state is kept per byte, the next token must start with a byte in `80–BF`, and nothing
//! else is allowed. Escaped surrogates (`\uD83D`) are refused: a lone one does not parse in
//! serde_json, and a pair is not needed (the model can write the emoji's UTF-8 bytes).

use super::grammar::Format;

/// Where inside a string the last byte left us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StrState {
    /// Between characters.
    Idle,
    /// After `\`.
    Escape,
    /// After `\u` and this many hex digits (0–3).
    Hex(u8),
    /// After `\uD` / `\ud`: the next digit must be 0–7 (no surrogates).
    HexD,
    /// This many UTF-8 continuation bytes (80–BF) still to come.
    Cont(u8),
    /// After E0: the next byte is A0–BF (no overlong forms), then one more.
    AfterE0,
    /// After ED: 80–9F (no surrogates), then one more.
    AfterED,
    /// After F0: 90–BF (no overlong forms), then two more.
    AfterF0,
    /// After F4: 80–8F (nothing above U+10FFFF), then two more.
    AfterF4,
}

/// What one byte does inside a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrByte {
    /// A new character starts with this byte; the state after it.
    Char(StrState),
    /// The byte continues the current character.
    More(StrState),
    /// The closing quote.
    Close,
    /// Not allowed here.
    Bad,
}

// ANCHOR: string_byte
/// The string machine: state × byte → what happens.
pub fn string_byte(s: StrState, b: u8) -> StrByte {
    use StrByte::*;
    use StrState::*;
    match s {
        Idle => match b {
            b'"' => Close,
            b'\\' => Char(Escape),
            0x00..=0x1f => Bad, // control characters must be escaped
            0x20..=0x7f => Char(Idle),
            0xc2..=0xdf => Char(Cont(1)),
            0xe0 => Char(AfterE0),
            0xe1..=0xec | 0xee..=0xef => Char(Cont(2)),
            0xed => Char(AfterED),
            0xf0 => Char(AfterF0),
            0xf1..=0xf3 => Char(Cont(3)),
            0xf4 => Char(AfterF4),
            _ => Bad, // 80–BF without a lead byte, C0, C1, F5–FF
        },
        Escape => match b {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => More(Idle),
            b'u' => More(Hex(0)),
            _ => Bad,
        },
        Hex(0) if b == b'd' || b == b'D' => More(HexD),
        HexD if (b'0'..=b'7').contains(&b) => More(Hex(2)),
        Hex(n) if b.is_ascii_hexdigit() => More(if n == 3 { Idle } else { Hex(n + 1) }),
        Cont(n) if (0x80..=0xbf).contains(&b) => More(if n == 1 { Idle } else { Cont(n - 1) }),
        AfterE0 if (0xa0..=0xbf).contains(&b) => More(Cont(1)),
        AfterED if (0x80..=0x9f).contains(&b) => More(Cont(1)),
        AfterF0 if (0x90..=0xbf).contains(&b) => More(Cont(2)),
        AfterF4 if (0x80..=0x8f).contains(&b) => More(Cont(2)),
        _ => Bad,
    }
}
// ANCHOR_END: string_byte

/// What one byte does inside a formatted string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FmtByte {
    /// Accepted: the new position and accumulator.
    Next(u8, u32),
    /// The closing quote of a complete value.
    Close,
    Bad,
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Positions of a date-time after the date (0–9) and its time (10–18).
const SECONDS_DONE: u8 = 19;
const FRACTION_FIRST: u8 = 20;
const FRACTION: u8 = 21;
const OFFSET: u8 = 23;
const COMPLETE: u8 = 30;

/// The date / date-time machine. `pos` counts the bytes after the opening quote (with jumps
/// after the seconds); `acc` carries what later digits depend on: `year·100 + month` (then
/// `·10 + first day digit`) during the date, the first digit of an hour or the number of
/// fraction digits afterwards.
///
/// ```text
/// pos  0123456789  10 11-12 13 14-15 16 17-18  19: . → 20/21 digits   Z → 30   ± → 23–27 hh:mm → 30
///      YYYY-MM-DD  T  HH    :  MM    :  SS
/// ```
pub fn format_byte(f: Format, pos: u8, acc: u32, b: u8) -> FmtByte {
    use FmtByte::*;
    let d = b.wrapping_sub(b'0') as u32; // the digit's value if b is a digit
    let digit = b.is_ascii_digit();
    let next = |acc| Next(pos + 1, acc);
    match pos {
        // date: YYYY-MM-DD, a real calendar day, year ≥ 1
        0..=2 if digit => next(acc * 10 + d),
        3 if digit && acc * 10 + d > 0 => next(acc * 10 + d),
        4 | 7 if b == b'-' => next(acc),
        5 if b == b'0' || b == b'1' => next(acc * 100 + d * 10), // year·100 + month tens
        6 if digit && (1..=12).contains(&(acc % 100 + d)) => next(acc + d),
        8 if digit && d * 10 <= days_in_month(acc / 100, acc % 100) => next(acc * 10 + d),
        9 if digit => {
            let (ym, d1) = (acc / 10, acc % 10);
            let day = d1 * 10 + d;
            if day >= 1 && day <= days_in_month(ym / 100, ym % 100) {
                next(0)
            } else {
                Bad
            }
        }
        10 if f == Format::Date && b == b'"' => Close,
        // time: THH:MM:SS
        10 if f == Format::DateTime && b == b'T' => next(0),
        11 | OFFSET if digit && d <= 2 => next(d),
        12 | 24 if digit && acc * 10 + d <= 23 => next(0),
        13 | 16 | 25 if b == b':' => next(0),
        14 | 17 | 26 if digit && d <= 5 => next(0),
        15 | 18 if digit => next(0),
        27 if digit => Next(COMPLETE, 0),
        // then a fraction of a second (1–9 digits) and the offset: Z or ±HH:MM
        SECONDS_DONE if b == b'.' => Next(FRACTION_FIRST, 0),
        FRACTION_FIRST if digit => Next(FRACTION, 1),
        FRACTION if digit && acc < 9 => Next(FRACTION, acc + 1),
        SECONDS_DONE | FRACTION if b == b'Z' => Next(COMPLETE, 0),
        SECONDS_DONE | FRACTION if b == b'+' || b == b'-' => Next(OFFSET, 0),
        COMPLETE if b == b'"' => Close,
        _ => Bad,
    }
}
