//! Chapter 1 exercises: predict, then check with `cargo test --test ch01_exercises`.
//!
//! Each `ANSWER_*` constant below holds the correct value, so this file passes as shipped.
//! To do an exercise: cover the constant (or replace it with your guess), work the answer out
//! on paper, then run the test. A wrong guess fails with the computed value beside yours.
//! `cargo test --test ch01_exercises --features solutions` also runs the worked solutions,
//! which print every step.

use glassbox::tokenizer::train::train_text;
use glassbox::tokenizer::train_naive::TrainConfig;
use glassbox::tokenizer::train_naive::{merge, naive_merges};
use glassbox::tokenizer::Pretokenizer;

fn bytes(s: &str) -> Vec<u32> {
    s.bytes().map(u32::from).collect()
}

// Exercise 1 (predict the number). Train 3 merges on "aaabdaaabac" as one chunk, with our
// tie-break (highest count, then the smallest pair). Which ids does "aaabdaaabac" become?
// Hint: a = 97, b = 98, c = 99, d = 100; new ids start at 256.
const ANSWER_1: [u32; 5] = [258, 100, 258, 97, 99];

// Exercise 2 (predict the merges). The corpus "hug pug pun bun hugs" (Hugging Face course's
// example), GPT-2 pre-tokenizer: "hug", " pug", " pun", " bun", " hugs". Which three pairs are
// merged first, as text? Watch for ties: 'u'+'g' and 'u'+'n' ... count them.
const ANSWER_2: [(&str, &str); 3] = [("u", "g"), (" ", "p"), ("h", "ug")];

// Exercise 3 (why numbers cost more). How many pre-tokens does "1234567" become with the cl100k
// pattern (digits in groups of at most three) and with SmolLM2's (every digit alone)?
const ANSWER_3_CL100K: usize = 3;
const ANSWER_3_SMOLLM: usize = 7;

#[test]
fn exercise_1_aaabdaaabac() {
    let mut ids = bytes("aaabdaaabac");
    for (i, pair) in naive_merges(vec![ids.clone()], 3).into_iter().enumerate() {
        ids = merge(&ids, pair, 256 + i as u32);
    }
    assert_eq!(ids, ANSWER_1, "computed {ids:?}, your answer {ANSWER_1:?}");
}

#[test]
fn exercise_2_first_merges() {
    let cfg = TrainConfig {
        vocab_size: 256 + 3,
        pattern: Pretokenizer::Gpt2,
        special_tokens: vec![],
        show_progress: false,
    };
    let tok = train_text("hug pug pun bun hugs", &cfg).expect("trains");
    let text = |id: u32| String::from_utf8_lossy(tok.token_bytes(id).unwrap_or(&[])).into_owned();
    let got: Vec<(String, String)> = tok
        .merges()
        .iter()
        .map(|&(a, b)| (text(a), text(b)))
        .collect();
    let want: Vec<(String, String)> = ANSWER_2
        .iter()
        .map(|&(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want, "computed {got:?}, your answer {want:?}");
}

#[test]
fn exercise_3_numbers() {
    let cl = Pretokenizer::Cl100k.split_vec("1234567");
    let smol = Pretokenizer::SmolLm.split_vec("1234567");
    assert_eq!(cl.len(), ANSWER_3_CL100K, "cl100k pieces {cl:?}");
    assert_eq!(smol.len(), ANSWER_3_SMOLLM, "smollm pieces {smol:?}");
}

/// Worked solutions: the pair counts at every step, printed (run with `--nocapture`).
#[cfg(feature = "solutions")]
#[test]
fn solutions_print_every_step() {
    use glassbox::tokenizer::train_naive::pair_counts;
    // Exercise 1: (a,a) = 4; then (a,b) = 2 ties with (256,a) = 2 and (97,98) < (256,97) wins;
    // then (256,257) = 2.
    let mut chunks = vec![bytes("aaabdaaabac")];
    for step in 0..3u32 {
        let stats = pair_counts(&chunks);
        let mut sorted: Vec<_> = stats.into_iter().collect();
        sorted.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        println!("step {step}: counts {sorted:?}");
        let best = sorted[0].0;
        chunks = chunks.iter().map(|c| merge(c, best, 256 + step)).collect();
        println!("        merge {best:?} -> {}: {:?}", 256 + step, chunks[0]);
    }
    assert_eq!(chunks[0], ANSWER_1);
    // Exercise 2: chunks hug, ␣pug, ␣pun, ␣bun, ␣hugs. Counts: (u,g) 3 (hug, pug, hugs),
    // (␣,p) 2, (u,n) 2, (h,u) 2, (p,u) 2, ... → "u"+"g" first. Then (␣,p) 2, (h,ug) 2,
    // (p,ug)... ties at 2 broken by the smaller ids: ' ' = 32 < 'h' = 104 < 'p' = 112.
    let c = |s: &str| bytes(s);
    let stats = pair_counts(&[c("hug"), c(" pug"), c(" pun"), c(" bun"), c(" hugs")]);
    assert_eq!(stats[&(117, 103)], 3);
    println!("exercise 2 first counts: (u,g) = {}", stats[&(117, 103)]);
}
