//! Chapter 17, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch17_exercises --features solutions`).

// ANCHOR: ex1
/// Every `sliding_window_pattern`-th layer, counted from 1, is global: with the pattern 6 and
/// 18 layers, the 6th, 12th and 18th, which are layers 5, 11 and 17 counted from 0.
pub fn global_layers() -> Vec<usize> {
    (0..18).filter(|l| (l + 1) % 6 == 0).collect()
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// One position of one layer: K and V of 1 KV head × 256 in f32 = 2 × 256 × 4 = 2,048 bytes.
/// Every layer full: 18 × 32,768 × 2,048 = 1,207,959,552 bytes (1,152 MiB).
/// A session: 3 global layers × 32,768 rows + 15 local rings of 512 − 1 + 512 = 1,023 rows
/// = 113,649 rows × 2,048 = 232,753,152 bytes (222 MiB), 5.2 × less.
pub fn kv_bytes_32k() -> (usize, usize) {
    let row = 2 * 256 * 4;
    let session = (3 * 32_768 + 15 * (512 - 1 + 512)) * row;
    let full = 18 * 32_768 * row;
    (session, full)
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// The naive SentencePiece BPE: O(n²) per text, where glassbox keeps a heap of candidates
/// (`src/tokenizer/sentencepiece.rs`); both merge the same pairs in the same order.
pub fn spm_pieces(text: &str, score: &dyn Fn(&str) -> Option<f32>) -> Vec<String> {
    // 1. spaces are spelled ▁ in the vocabulary; 2. one symbol per character
    let mut sym: Vec<String> = text
        .chars()
        .map(|c| if c == ' ' { '▁' } else { c })
        .map(String::from)
        .collect();
    // 3. join the adjacent pair whose concatenation is the best-scored token (the leftmost
    //    on a tie), until no adjacent pair makes a token
    loop {
        let mut best: Option<(f32, usize)> = None;
        for i in 1..sym.len() {
            let joined = format!("{}{}", sym[i - 1], sym[i]);
            if let Some(s) = score(&joined) {
                if best.is_none_or(|(b, _)| s > b) {
                    best = Some((s, i - 1));
                }
            }
        }
        let Some((_, i)) = best else { break };
        let right = sym.remove(i + 1);
        sym[i].push_str(&right);
    }
    sym
}
// ANCHOR_END: ex3
