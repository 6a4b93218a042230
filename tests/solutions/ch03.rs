//! Chapter 3, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch03_exercises --features solutions`).

// ANCHOR: ex1
/// Query 0 sees only key 0: the softmax of one score is 1, so the output is exactly v₀,
/// whatever q and k are.
pub fn row0() -> [f32; 3] {
    [0.5, -1.0, 2.0]
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// 2 (K and V) × 30 layers × KV heads × 64 dims × 4 bytes: 46,080 with 3 KV heads, three times
/// that (138,240) if each of the 9 query heads had its own.
pub fn kv_bytes_per_token() -> (usize, usize) {
    let per_kv_head = 2 * 30 * 64 * 4;
    (3 * per_kv_head, 9 * per_kv_head)
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// Each KV head's `hd` values, `group` times in a row: query heads g·group .. (g+1)·group
/// all read KV head g.
pub fn repeat_kv(row: &[f32], n_heads: usize, n_kv: usize, hd: usize) -> Vec<f32> {
    let group = n_heads / n_kv;
    row.chunks(hd)
        .flat_map(|head| std::iter::repeat_n(head, group).flatten().copied())
        .collect()
}
// ANCHOR_END: ex3
