//! Chapter 1, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch01_exercises --features solutions`).

use glassbox::tokenizer::train_naive::pair_counts;

// ANCHOR: ex1
/// Step 1: (a, a) occurs 4 times → 256. Step 2: (a, b) and (256, a) both occur twice; the
/// smaller pair (97, 98) wins → 257. Step 3: (256, 257) twice → 258. "aaab" is now one id.
pub fn aaabdaaabac_ids() -> Vec<u32> {
    vec![258, 100, 258, 97, 99]
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// Pairs inside "hug", " pug", " pun", " bun", " hugs": (u, g) occurs 3 times and goes first.
/// Then (␣, p) and (h, ug) both occur twice (so do (u, n), (p, ug), ...); the smallest pair of
/// ids wins: ' ' = 32 before 'h' = 104, and (h, ug) = (104, 256) before anything starting
/// with 'p' = 112 or 'u' = 117.
pub fn first_merges() -> [(&'static str, &'static str); 3] {
    [("u", "g"), (" ", "p"), ("h", "ug")]
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// cl100k: `\p{N}{1,3}` takes at most three digits at a time: "123", "456", "7".
/// SmolLM2: every digit is its own pre-token: 7.
pub fn digit_pieces() -> (usize, usize) {
    (3, 7)
}
// ANCHOR_END: ex3

// ANCHOR: ex4
/// One pass, left to right: a match consumes both ids, so "aaa" gives [256, 97].
pub fn merge(ids: &[u32], pair: (u32, u32), new_id: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(ids.len());
    let mut i = 0;
    while i < ids.len() {
        if i + 1 < ids.len() && (ids[i], ids[i + 1]) == pair {
            out.push(new_id);
            i += 2;
        } else {
            out.push(ids[i]);
            i += 1;
        }
    }
    out
}
// ANCHOR_END: ex4

/// The worked steps of exercises 1 and 2, printed (`-- --nocapture`).
#[test]
fn solutions_print_every_step() {
    let bytes = |s: &str| s.bytes().map(u32::from).collect::<Vec<u32>>();
    let mut chunks = vec![bytes("aaabdaaabac")];
    for step in 0..3u32 {
        let mut sorted: Vec<_> = pair_counts(&chunks).into_iter().collect();
        sorted.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        println!("step {step}: counts {sorted:?}");
        let best = sorted[0].0;
        chunks = chunks.iter().map(|c| merge(c, best, 256 + step)).collect();
        println!("        merge {best:?} -> {}: {:?}", 256 + step, chunks[0]);
    }
    assert_eq!(chunks[0], aaabdaaabac_ids());
    let words = ["hug", " pug", " pun", " bun", " hugs"].map(bytes);
    let stats = pair_counts(&words);
    println!("exercise 2, first counts: (u,g) = {}", stats[&(117, 103)]);
    assert_eq!(stats[&(117, 103)], 3);
}
