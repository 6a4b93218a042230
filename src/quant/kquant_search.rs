//! # How a K-quantizer chooses a sub-block's scale
//!
//! Given the values `x` of one sub-block (16 or 32 weights) and the integers the format allows
//! (`0..=nmax` with a minimum, or `−nmax..nmax` without), pick `scale` (and `min`) so that
//! `x ≈ scale·l + min` is as close as possible. Two rules:
//!
//! **max-abs** (`ScaleRule::MaxAbs`): map the extreme value onto the extreme integer.
//! Symmetric: `scale = max / −nmax` where `max` is the value of largest magnitude (its sign
//! decides which end gets the extra negative level). With a minimum: `min = min(x, 0)`,
//! `scale = (max(x) − min) / nmax`. One pass, no search.
//!
//! **search** (`ScaleRule::Search`, llama.cpp's `make_qx_quants` / `make_q3_quants` /
//! `make_qkx2_quants`): the max-abs scale is rarely the best one: one outlier stretches it and
//! every other weight loses resolution. So try a fan of nearby inverse scales
//! `iscale = (nmax + δ) / range`, round every weight with each, and for those integers solve the
//! **weighted least-squares** problem in closed form:
//!
//! ```text
//! symmetric:   scale = Σ wᵢ xᵢ lᵢ / Σ wᵢ lᵢ²                 error ∝ −(Σ w x l)² / Σ w l²
//! with a min:  [scale, min] solve  Σ w (scale·l + min − x)² → min
//!              D = Σw·Σwl² − (Σwl)²,  scale = (Σw·Σwxl − Σwx·Σwl)/D,  min = (Σwl²·Σwx − Σwl·Σwxl)/D
//! ```
//!
//! keeping the candidate with the least weighted error. The weights `w` say which errors matter:
//! `x²` (Q6_K, Q3_K: big weights first), `|x|` (Q2_K), `mean|x| + |x|` (Q4_K, Q5_K).
//! `make_q3_quants` instead nudges one integer at a time while that lowers the error.
//!
//! These functions follow ggml's reference quantizers operation by operation (same order of
//! float operations), so a glassbox file matches `llama-quantize`'s bytes wherever the C compiler
//! did not fuse a multiply and an add (see the fixture tests for how often that matters).
//!
//! Reference: ggml `ggml-quants.c` (`make_qx_quants`, `make_q3_quants`, `make_qkx2_quants`).

use super::kquant::{nearest_int, ScaleRule};

/// Below this largest |x| a sub-block counts as all zeros (ggml's `GROUP_MAX_EPS`).
pub const GROUP_MAX_EPS: f32 = 1e-15;

/// The value of largest magnitude (its sign kept); the first one on ties.
fn signed_max(x: &[f32]) -> (f32, f32) {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    (amax, max)
}

// ANCHOR: qx
/// Symmetric scale for Q6_K's sub-blocks (nmax = 32): writes `l[i] = q + nmax` with
/// q ∈ −nmax..nmax, and returns `scale` such that `x ≈ scale·q`. Search weights: x².
pub fn make_qx_quants(x: &[f32], nmax: i32, l: &mut [i8], rule: ScaleRule) -> f32 {
    let (amax, max) = signed_max(x);
    if amax < GROUP_MAX_EPS {
        l.fill(0);
        return 0.0;
    }
    let q_of = |iscale: f32, v: f32| nearest_int(iscale * v).clamp(-nmax, nmax - 1);
    let mut iscale = -(nmax as f32) / max;
    if rule == ScaleRule::MaxAbs {
        for (li, &v) in l.iter_mut().zip(x) {
            *li = (nmax + q_of(iscale, v)) as i8;
        }
        return 1.0 / iscale;
    }
    // weighted sums Σ w·x·q and Σ w·q² for one candidate (w = x²)
    let sums = |iscale: f32| {
        let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
        for &v in x {
            let q = q_of(iscale, v) as f32;
            let w = v * v;
            sumlx += w * v * q;
            suml2 += w * q * q;
        }
        (sumlx, suml2)
    };
    let (sumlx, suml2) = sums(iscale);
    for (li, &v) in l.iter_mut().zip(x) {
        *li = (nmax + q_of(iscale, v)) as i8;
    }
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        let (sumlx, suml2) = sums(iscale);
        // keep the candidate if (Σwxq)²/Σwq² (the error it removes) is larger
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (li, &v) in l.iter_mut().zip(x) {
                *li = (nmax + q_of(iscale, v)) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}
// ANCHOR_END: qx

/// Symmetric scale for Q3_K's sub-blocks (nmax = 4): `l[i] = q + 4`, q ∈ −4..=3; returns
/// `scale` with `x ≈ scale·q`. The search starts from max-abs and moves single integers while
/// the x²-weighted error falls (at most 5 sweeps).
pub fn make_q3_quants(x: &[f32], nmax: i32, l: &mut [i8], rule: ScaleRule) -> f32 {
    let (amax, max) = signed_max(x);
    if amax < GROUP_MAX_EPS {
        l.fill(0);
        return 0.0;
    }
    let iscale = -(nmax as f32) / max;
    let clamp = |q: i32| q.clamp(-nmax, nmax - 1);
    if rule == ScaleRule::MaxAbs {
        for (li, &v) in l.iter_mut().zip(x) {
            *li = (clamp(nearest_int(iscale * v)) + nmax) as i8;
        }
        return 1.0 / iscale;
    }
    let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
    for (li, &v) in l.iter_mut().zip(x) {
        let q = clamp(nearest_int(iscale * v));
        *li = q as i8;
        let w = v * v;
        sumlx += w * v * q as f32;
        suml2 += w * q as f32 * q as f32;
    }
    for _ in 0..5 {
        let mut changed = 0;
        for (li, &v) in l.iter_mut().zip(x) {
            let w = v * v;
            let old = *li as f32;
            let mut slx = sumlx - w * v * old; // the sums without element i
            if slx > 0.0 {
                let mut sl2 = suml2 - w * old * old;
                // the best integer for element i given the others: x·Σwq² / Σwxq
                let new_q = clamp(nearest_int(v * sl2 / slx));
                if new_q != *li as i32 {
                    slx += w * v * new_q as f32;
                    sl2 += w * new_q as f32 * new_q as f32;
                    if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        *li = new_q as i8;
                        sumlx = slx;
                        suml2 = sl2;
                        changed += 1;
                    }
                }
            }
        }
        if changed == 0 {
            break;
        }
    }
    for li in l.iter_mut() {
        *li += nmax as i8;
    }
    if suml2 > 0.0 {
        sumlx / suml2
    } else {
        0.0
    }
}

// ANCHOR: qkx2
/// Scale and minimum for the affine K-types (Q2_K: nmax 3, Q4_K: 15, Q5_K: 31): writes
/// `l[i] ∈ 0..=nmax` and returns `(scale, m)` with `x ≈ scale·l − m` (m ≥ 0, the negated min).
/// The search tries `iscale = (nmax + rmin + rdelta·k) / (max − min)` for k = 0..=nstep and keeps
/// the least `Σ w·err` (err = squared, or absolute when `use_mad`).
pub fn make_qkx2_quants(
    x: &[f32],
    weights: &[f32],
    nmax: i32,
    l: &mut [u8],
    (rmin, rdelta, nstep): (f32, f32, i32),
    use_mad: bool,
    rule: ScaleRule,
) -> (f32, f32) {
    let n = x.len();
    let (mut min, mut max) = (x[0], x[0]);
    let (mut sum_w, mut sum_x) = (weights[0], weights[0] * x[0]);
    for i in 1..n {
        min = min.min(x[i]);
        max = max.max(x[i]);
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if min > 0.0 {
        min = 0.0; // the minimum is never above zero: zeros stay exact
    }
    if max == min {
        l.fill(0);
        return (0.0, -min);
    }
    let err = |d: f32| if use_mad { d.abs() } else { d * d };
    let q_of = |iscale: f32, v: f32| nearest_int(iscale * (v - min)).clamp(0, nmax);
    // the max-abs rule: the range [min, max] onto 0..=nmax
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..n {
        l[i] = q_of(iscale, x[i]) as u8;
        best_error += weights[i] * err(scale * l[i] as f32 + min - x[i]);
    }
    if rule == ScaleRule::MaxAbs || nstep < 1 {
        return (scale, -min);
    }
    let mut laux = [0u8; 32];
    let laux = &mut laux[..n];
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..n {
            let q = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            laux[i] = q as u8;
            let (w, q) = (weights[i], q as f32);
            sum_l += w * q;
            sum_l2 += w * q * q;
            sum_xl += w * q * x[i];
        }
        // the weighted least-squares scale and min for these integers
        let d = sum_w * sum_l2 - sum_l * sum_l;
        if d > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / d;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / d;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..n {
                cur_error += weights[i] * err(this_scale * laux[i] as f32 + this_min - x[i]);
            }
            if cur_error < best_error {
                l.copy_from_slice(laux);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}
// ANCHOR_END: qkx2

#[cfg(test)]
mod tests {
    use super::*;

    /// Σ (x − scale·q − min)² of a result, to compare the two rules.
    fn sq_err(x: &[f32], scale: f32, min: f32, l: &[u8]) -> f32 {
        x.iter()
            .zip(l)
            .map(|(&v, &q)| (v - (scale * q as f32 - min)).powi(2))
            .sum()
    }

    /// With an outlier, the search finds a scale no worse (here: much better) than max-abs.
    #[test]
    fn search_beats_max_abs_with_an_outlier() {
        let mut x: Vec<f32> = (0..32)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) * 0.01)
            .collect();
        x[5] = 1.0;
        let w: Vec<f32> = x.iter().map(|v| v.abs() + 0.05).collect();
        let (mut la, mut lb) = ([0u8; 32], [0u8; 32]);
        let (sa, ma) = make_qkx2_quants(
            &x,
            &w,
            15,
            &mut la,
            (-1.0, 0.1, 20),
            false,
            ScaleRule::MaxAbs,
        );
        let (sb, mb) = make_qkx2_quants(
            &x,
            &w,
            15,
            &mut lb,
            (-1.0, 0.1, 20),
            false,
            ScaleRule::Search,
        );
        let (ea, eb) = (sq_err(&x, sa, ma, &la), sq_err(&x, sb, mb, &lb));
        assert!(eb <= ea, "search {eb} > max-abs {ea}");
    }

    #[test]
    fn zeros_give_zero_scale() {
        let mut l = [9i8; 16];
        assert_eq!(
            make_qx_quants(&[0.0; 16], 32, &mut l, ScaleRule::Search),
            0.0
        );
        assert_eq!(l, [0; 16]);
        assert_eq!(
            make_q3_quants(&[0.0; 16], 4, &mut l, ScaleRule::Search),
            0.0
        );
    }

    /// max-abs by hand: x = [−2, 1, 0.5, …]: max = −2 → iscale = −32/−2 = 16 → q(−2) = −32.
    #[test]
    fn qx_max_abs_by_hand() {
        let mut x = [0.0f32; 16];
        x[0] = -2.0;
        x[1] = 1.0;
        x[2] = 0.5;
        let mut l = [0i8; 16];
        let scale = make_qx_quants(&x, 32, &mut l, ScaleRule::MaxAbs);
        assert_eq!(scale, 1.0 / 16.0);
        assert_eq!(&l[..4], &[0, 48, 40, 32]); // q + 32 for q = −32, 16, 8, 0
    }
}
