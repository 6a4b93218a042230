//! Chapter 9, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch09_exercises --features solutions`).

/// softmax of `l` in f64.
fn softmax(l: &[f64]) -> Vec<f64> {
    let e: Vec<f64> = l.iter().map(|x| x.exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

// ANCHOR: ex1
/// top-k 2 keeps ids 2 and 3; renormalised, p₃ = e^0.4 / (e^0.3 + e^0.4) = 1 / (1 + e^−0.1)
/// = 0.5250 ≥ 0.5, so top-p 0.5 keeps id 3 alone: sampling has become greedy.
pub fn k_then_p() -> Vec<u32> {
    let p3 = 1.0 / (1.0 + (-0.1f64).exp());
    assert!(p3 >= 0.5);
    vec![3]
}

/// top-p 0.5 first, over all four: p = [0.2138, 0.2363, 0.2612, 0.2887]; 0.2887 < 0.5 ≤
/// 0.2887 + 0.2612, so ids 3 and 2 survive; top-k 2 keeps both; renormalised
/// [0.4750, 0.5250].
pub fn p_then_k() -> Vec<(u32, f64)> {
    let p = softmax(&[0.1, 0.2, 0.3, 0.4]);
    assert!(p[3] < 0.5 && p[3] + p[2] >= 0.5);
    let kept = p[2] + p[3];
    vec![(2, p[2] / kept), (3, p[3] / kept)]
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// Hugging Face (CTRL): a seen logit is divided by the penalty if positive, multiplied if
/// negative, once per id however often it was seen: id 0: 2.0 / 2 = 1.0; id 1 (seen twice,
/// penalised once): −1.0 × 2 = −2.0; ids 2 and 3 unseen.
pub fn repetition_penalty() -> [f32; 4] {
    let (logits, penalty) = ([2.0f32, -1.0, 0.5, 3.0], 2.0);
    [
        logits[0] / penalty,
        logits[1] * penalty,
        logits[2],
        logits[3],
    ]
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// OpenAI: logit − count × frequency − presence, for each seen id: id 0: 2.0 − 1 × 0.5 − 1.0
/// = 0.5; id 1: −1.0 − 2 × 0.5 − 1.0 = −3.0.
pub fn frequency_presence() -> [f32; 4] {
    [2.0 - 0.5 - 1.0, -1.0 - 2.0 * 0.5 - 1.0, 0.5, 3.0]
}
// ANCHOR_END: ex3

// ANCHOR: ex4
/// min-p keeps l/T ≥ max(l/T) + ln 0.1 = max − 2.3026. At T = 0.5 the logits are
/// [6, 4, 2, 0, −10]: the cut is 3.70, ids 0 and 1 survive. At T = 2 they are
/// [1.5, 1, 0.5, 0, −2.5]: the cut is −0.80, ids 0–3 survive and the junk (−5) still does not.
/// The cut follows the best token, so a hot temperature widens the choice without letting the
/// tail in; top-p at T = 2 would have to admit tokens until 90% of a flattened mass is covered.
pub fn min_p_survivors() -> (Vec<u32>, Vec<u32>) {
    let kept = |t: f64| -> Vec<u32> {
        let l = [3.0f64, 2.0, 1.0, 0.0, -5.0].map(|x| x / t);
        let cut = l[0] + 0.1f64.ln();
        (0..5).filter(|&i| l[i] >= cut).map(|i| i as u32).collect()
    };
    (kept(0.5), kept(2.0))
}
// ANCHOR_END: ex4

/// The worked steps, printed (`-- --nocapture`).
#[test]
fn solutions_print_the_steps() {
    let p = softmax(&[0.1, 0.2, 0.3, 0.4]);
    println!("1. softmax = {p:?}");
    println!("   top-k 2 then top-p 0.5 → {:?}", k_then_p());
    println!("   top-p 0.5 then top-k 2 → {:?}", p_then_k());
    println!("2. repetition penalty 2.0 → {:?}", repetition_penalty());
    println!(
        "3. frequency 0.5, presence 1.0 → {:?}",
        frequency_presence()
    );
    println!(
        "4. min-p 0.1 at T = 0.5 and T = 2 → {:?}",
        min_p_survivors()
    );
}
