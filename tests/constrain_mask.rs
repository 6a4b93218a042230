//! The mask on a vocabulary written by hand (so every id is known), and the sampler's step 0.

use glassbox::constrain::{compile, mask_naive, Masker, Recognizer, TokenSet, Vocab};
use glassbox::sampler::{apply_mask, Sampler, SamplerConfig};
use serde_json::json;

/// ids: 0 `{`, 1 `{"`, 2 `"a":`, 3 `"a"`, 4 `:`, 5 `1`, 6 `}`, 7 ` `, 8 `"a":` again (a twin),
/// 9 nothing (a special token's slot), 10 `1}`, 11 `é` split: C3, 12 A9, 13 `"é"`, 14 EOS.
fn vocab() -> Vocab {
    let t: Vec<&[u8]> = vec![
        b"{",
        b"{\"",
        b"\"a\":",
        b"\"a\"",
        b":",
        b"1",
        b"}",
        b" ",
        b"\"a\":",
        b"",
        b"1}",
        b"\xc3",
        b"\xa9",
        "\"é\"".as_bytes(),
        b"",
    ];
    Vocab::from_tokens(t.into_iter().map(|b| b.to_vec()).collect(), &[14])
}

fn allowed_after(text: &[u8]) -> Vec<u32> {
    let g = compile(
        &json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}),
    )
    .unwrap();
    let v = vocab();
    let mut r = Recognizer::new();
    assert!(r.try_bytes(&g, text));
    let (mut fast, mut slow) = (TokenSet::new(v.size()), TokenSet::new(v.size()));
    Masker::new().mask(&g, &v, &r, &mut fast);
    mask_naive(&g, &v, &r, &mut slow);
    assert_eq!(
        fast,
        slow,
        "trie ≠ naive after {:?}",
        String::from_utf8_lossy(text)
    );
    fast.iter().collect()
}

#[test]
fn hand_vocabulary_masks() {
    assert_eq!(allowed_after(b""), vec![0, 1, 7]);
    assert_eq!(
        allowed_after(b"{"),
        vec![2, 3, 7, 8],
        "twins are allowed together"
    );
    assert_eq!(allowed_after(b"{\"a\""), vec![4, 7]);
    assert_eq!(allowed_after(b"{\"a\":"), vec![5, 7, 10]);
    assert_eq!(
        allowed_after(b"{\"a\":1"),
        vec![5, 6, 7, 10],
        "`1}}` straddles the number and the object"
    );
    assert_eq!(
        allowed_after(b"{\"a\":1}"),
        vec![14],
        "complete: only end-of-sequence"
    );
}

#[test]
fn split_characters_in_strings() {
    let g = compile(&json!({"type": "string", "maxLength": 1})).unwrap();
    let v = vocab();
    let mut r = Recognizer::new();
    assert!(r.try_byte(&g, b'"'));
    let mut m = TokenSet::new(v.size());
    Masker::new().mask(&g, &v, &r, &mut m);
    assert!(
        m.contains(11) && !m.contains(12),
        "a lead byte may start, a continuation may not"
    );
    assert!(r.try_bytes(&g, b"\xc3"));
    Masker::new().mask(&g, &v, &r, &mut m);
    assert_eq!(
        m.iter().collect::<Vec<_>>(),
        vec![12],
        "after C3 only its continuation byte"
    );
}

#[test]
fn step_zero_of_the_sampler() {
    let mut logits = vec![5.0, 1.0, 3.0, 4.0];
    let allowed = [0b0110u64]; // ids 1 and 2
    apply_mask(&mut logits, &allowed);
    assert_eq!(logits, vec![f32::NEG_INFINITY, 1.0, 3.0, f32::NEG_INFINITY]);
    // greedy takes the best allowed id; sampling at T = 1 never leaves the set
    let mut greedy = Sampler::new(SamplerConfig::default()).unwrap();
    assert_eq!(
        greedy
            .sample_masked(&mut [5.0, 1.0, 3.0, 4.0], &[], Some(&allowed))
            .id,
        2
    );
    let mut s = Sampler::new(SamplerConfig {
        temperature: 1.0,
        seed: 7,
        ..SamplerConfig::default()
    })
    .unwrap();
    let mut seen = [0; 4];
    for _ in 0..2000 {
        let d = s.sample_masked(&mut [5.0, 1.0, 3.0, 4.0], &[], Some(&allowed));
        seen[d.id as usize] += 1;
        // the log-probability is the model's own, before the mask
        let raw = [5.0f64, 1.0, 3.0, 4.0];
        let lse = raw.iter().map(|x| x.exp()).sum::<f64>().ln();
        assert!((d.logprob as f64 - (raw[d.id as usize] - lse)).abs() < 1e-5);
    }
    assert_eq!((seen[0], seen[3]), (0, 0));
    // p(2) / p(1) = e² ≈ 7.39 over the renormalised pair: 2000 · e²/(1+e²) ≈ 1762
    assert!((1650..1870).contains(&seen[2]), "{seen:?}");
}
