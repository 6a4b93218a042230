//! Property tests of constrained decoding on the real SmolLM2 vocabulary (49,152 tokens):
//! random schemas from the supported subset, random instances valid against them (checked by
//! the independent `jsonschema` validator), written compactly and pretty-printed, tokenized.
//!
//! * every token of every instance is in the mask at its step, and end-of-sequence is allowed
//!   at the end;
//! * the trie mask equals the naive one (every id fed byte by byte) wherever it is compared;
//! * corruptions are refused at the first bad byte: never earlier (the prefix before it is an
//!   instance's prefix), exactly there for a control byte (never valid in JSON), and whatever
//!   prefix is accepted can still be finished into text that parses and validates;
//! * a random walk through the masks (a "model" that picks any allowed token) writes text that
//!   parses and validates.
//!
//! Seeds: `CONSTRAIN_SEED=n` repeats a run; otherwise a new base seed each run, printed.

mod constrain_common;

use constrain_common::{check, smollm2_tokenizer, smollm2_vocab, try_complete, validator, Gen};
use glassbox::constrain::{compile, mask_naive, Grammar, Masker, Recognizer, TokenSet, Vocab};
use serde_json::Value;

const SCHEMAS: u64 = 60;
const INSTANCES: u32 = 3;
/// The naive mask costs ~49k recognizer runs: compare on every N-th step only.
const NAIVE_EVERY: usize = 23;

fn base_seed() -> u64 {
    let seed = std::env::var("CONSTRAIN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    eprintln!("CONSTRAIN_SEED={seed}");
    seed
}

fn schema_case(seed: u64) -> (Gen, Value, Grammar) {
    let mut gen = Gen::new(seed);
    let schema = gen.root_schema();
    let g = compile(&schema).unwrap_or_else(|e| panic!("seed {seed}: {e}\nschema {schema}"));
    (gen, schema, g)
}

/// Mask at `r` with the trie; also with the naive pass when `naive` is set, and compare.
fn mask(
    g: &Grammar,
    v: &Vocab,
    m: &mut Masker,
    r: &Recognizer,
    naive: bool,
    ctx: &dyn Fn() -> String,
) -> TokenSet {
    let mut fast = TokenSet::new(v.size());
    m.mask(g, v, r, &mut fast);
    if naive {
        let mut slow = TokenSet::new(v.size());
        mask_naive(g, v, r, &mut slow);
        if fast != slow {
            let only_fast: Vec<u32> = fast.iter().filter(|&i| !slow.contains(i)).take(5).collect();
            let only_slow: Vec<u32> = slow.iter().filter(|&i| !fast.contains(i)).take(5).collect();
            panic!(
                "trie mask ≠ naive mask: only trie {only_fast:?}, only naive {only_slow:?}\n{}",
                ctx()
            );
        }
    }
    fast
}

#[test]
fn every_token_of_every_instance_is_allowed() {
    let (tok, v) = (smollm2_tokenizer(), smollm2_vocab());
    let base = base_seed();
    let mut masker = Masker::new();
    let (mut steps, mut compared) = (0usize, 0usize);
    for case in 0..SCHEMAS {
        let seed = base.wrapping_add(case);
        let (mut gen, schema, g) = schema_case(seed);
        let val = validator(&schema);
        for k in 0..INSTANCES {
            let inst = gen.instance(&schema, &schema, 0);
            let compact = serde_json::to_string(&inst).unwrap();
            check(&val, &compact).unwrap_or_else(|e| {
                panic!("generator bug, seed {seed}: {compact} {e}\nschema {schema}")
            });
            for text in [compact, serde_json::to_string_pretty(&inst).unwrap()] {
                let ids = tok.encode(&text);
                assert_eq!(tok.decode(&ids).unwrap(), text);
                let mut r = Recognizer::new();
                for (i, &id) in ids.iter().enumerate() {
                    let ctx = || {
                        let done = tok.decode(&ids[..i]).unwrap_or_default();
                        format!("seed {seed}, instance {k}, step {i}, token {id} {:?} after {done:?}\nschema {schema}\ntext {text}", String::from_utf8_lossy(&v.tokens[id as usize]))
                    };
                    let naive = (i + case as usize).is_multiple_of(NAIVE_EVERY);
                    compared += naive as usize;
                    let allowed = mask(&g, v, &mut masker, &r, naive, &ctx);
                    assert!(allowed.contains(id), "token not in the mask: {}", ctx());
                    assert!(
                        r.try_bytes(&g, &v.tokens[id as usize]),
                        "recognizer refused: {}",
                        ctx()
                    );
                    steps += 1;
                }
                let end = mask(&g, v, &mut masker, &r, true, &|| {
                    format!("seed {seed} at the end of {text}")
                });
                assert!(
                    v.eos.iter().all(|&e| end.contains(e)),
                    "seed {seed}: EOS not allowed after {text}"
                );
            }
        }
    }
    eprintln!("{steps} token steps checked, {compared} of them against the naive mask");
}

/// A copy of `text` with one change at byte `at`, and whether the change is a control byte.
fn corrupt(gen: &mut Gen, text: &[u8]) -> (Vec<u8>, usize, bool) {
    let at = gen.below(text.len() as u32) as usize;
    let mut out = text.to_vec();
    let kind = gen.below(5);
    match kind {
        0 => out[at] = [0x00u8, 0x01, 0x08, 0x0b, 0x1f][gen.below(5) as usize],
        1 => out[at] = 0x20 + gen.below(0x5f) as u8,
        2 => {
            out.remove(at);
        }
        3 => out.insert(at, 0x20 + gen.below(0x5f) as u8),
        _ => out.truncate(at),
    }
    (out, at, kind == 0)
}

#[test]
fn corruptions_are_refused_at_the_first_bad_byte() {
    let (tok, v) = (smollm2_tokenizer(), smollm2_vocab());
    let base = base_seed().wrapping_add(1 << 32);
    let mut masker = Masker::new();
    let mut refused = 0;
    for case in 0..SCHEMAS {
        let seed = base.wrapping_add(case);
        let (mut gen, schema, g) = schema_case(seed);
        let val = validator(&schema);
        for k in 0..8 {
            let inst = gen.instance(&schema, &schema, 0);
            let text = if k % 2 == 0 {
                serde_json::to_string(&inst).unwrap()
            } else {
                serde_json::to_string_pretty(&inst).unwrap()
            };
            let (bad_text, at, control) = corrupt(&mut gen, text.as_bytes());
            let shown = String::from_utf8_lossy(&bad_text).to_string();
            let ctx =
                format!("seed {seed}: {text:?} → {shown:?} (changed at {at})\nschema {schema}");
            // 1. the first refused byte, by the recognizer
            let mut r = Recognizer::new();
            let first_bad = bad_text.iter().position(|&b| !r.try_byte(&g, b));
            match first_bad {
                Some(p) => {
                    refused += 1;
                    assert!(p >= at, "refused at {p}, before the change: {ctx}");
                    if control {
                        assert_eq!(p, at, "a control byte is never valid JSON: {ctx}");
                    }
                }
                None if r.is_accepting(&g) => {
                    // accepted whole: it must really be an instance
                    let t = String::from_utf8(bad_text.clone()).expect("accepted text is UTF-8");
                    check(&val, &t).unwrap_or_else(|e| panic!("accepted but {e}: {ctx}"));
                }
                None => {}
            }
            // 2. what was accepted can be finished into a valid instance (no dead ends)
            let mut finished = bad_text[..first_bad.unwrap_or(bad_text.len())].to_vec();
            let shown_prefix = String::from_utf8_lossy(&finished).to_string();
            finished.extend(
                try_complete(&g, &r)
                    .unwrap_or_else(|| panic!("cannot finish {shown_prefix:?} from {r:?}: {ctx}")),
            );
            let t = String::from_utf8(finished).expect("completed text is UTF-8");
            check(&val, &t).unwrap_or_else(|e| panic!("completion {t:?} {e}: {ctx}"));
            // 3. the same on tokens: every token before the one holding the bad byte is in the
            //    mask at its step, and that token is not
            let (Some(p), Ok(s)) = (first_bad, std::str::from_utf8(&bad_text)) else {
                continue;
            };
            let mut r = Recognizer::new();
            let mut pos = 0;
            let mut allowed = TokenSet::new(v.size());
            for &id in &tok.encode(s) {
                let bytes = &v.tokens[id as usize];
                masker.mask(&g, v, &r, &mut allowed);
                let holds_bad = pos + bytes.len() > p;
                assert_eq!(
                    allowed.contains(id),
                    !holds_bad,
                    "token {id} {:?} at byte {pos}: {ctx}",
                    String::from_utf8_lossy(bytes)
                );
                if holds_bad {
                    break;
                }
                assert!(r.try_bytes(&g, bytes));
                pos += bytes.len();
            }
        }
    }
    assert!(
        refused > SCHEMAS as usize,
        "too few corruptions were refused ({refused}): a weak test"
    );
}

#[test]
fn a_random_walk_through_the_masks_writes_valid_json() {
    let v = smollm2_vocab();
    let base = base_seed().wrapping_add(2 << 32);
    let mut masker = Masker::new();
    let mut finished = 0;
    for case in 0..SCHEMAS {
        let seed = base.wrapping_add(case);
        let (mut gen, schema, g) = schema_case(seed);
        let val = validator(&schema);
        let mut r = Recognizer::new();
        let mut text: Vec<u8> = Vec::new();
        for step in 0..200 {
            let ctx = || {
                format!(
                    "seed {seed}, step {step}, after {:?}\nschema {schema}",
                    String::from_utf8_lossy(&text)
                )
            };
            let allowed = mask(&g, v, &mut masker, &r, step % NAIVE_EVERY == 5, &ctx);
            let ids: Vec<u32> = allowed.iter().collect();
            assert!(!ids.is_empty(), "empty mask: {}", ctx());
            // half the time prefer structure (quotes, brackets, digits, end-of-sequence), so
            // that values end; else any allowed token
            let structural: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|&id| {
                    v.eos.contains(&id)
                        || v.tokens[id as usize]
                            .iter()
                            .any(|b| b"\"{}[],:0123456789".contains(b))
                })
                .collect();
            let pool = if !structural.is_empty() && gen.chance(0.5) {
                &structural
            } else {
                &ids
            };
            let id = pool[gen.below(pool.len() as u32) as usize];
            if v.eos.contains(&id) {
                break;
            }
            assert!(r.try_bytes(&g, &v.tokens[id as usize]));
            text.extend_from_slice(&v.tokens[id as usize]);
        }
        if r.is_accepting(&g) {
            finished += 1;
        }
        let tail = try_complete(&g, &r).unwrap_or_else(|| {
            panic!(
                "seed {seed}: cannot finish {:?} from {r:?}\nschema {schema}",
                String::from_utf8_lossy(&text)
            )
        });
        text.extend(tail);
        let t = String::from_utf8(text).expect("masked text is UTF-8");
        check(&val, &t).unwrap_or_else(|e| panic!("seed {seed}: {t:?} {e}\nschema {schema}"));
    }
    eprintln!("{finished} of {SCHEMAS} walks ended by themselves");
}
