use glassbox::tokenizer::Tokenizer;
use std::time::Instant;
#[test]
#[ignore]
fn speed() {
    let home = std::env::var("HOME").unwrap();
    let mut code = String::new();
    for e in std::fs::read_dir(format!("{home}/.cargo/registry/src"))
        .unwrap()
        .flatten()
    {
        for c in std::fs::read_dir(e.path()).unwrap().flatten() {
            let src = c.path().join("src/lib.rs");
            if let Ok(t) = std::fs::read_to_string(&src) {
                code.push_str(&t);
            }
            if code.len() > 1 << 20 {
                break;
            }
        }
    }
    let prose = std::fs::read_to_string(format!(
        "{home}/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokenizers-0.22.2/README.md"
    ))
    .unwrap()
    .repeat(60);
    for name in ["o200k_base", "cl100k_base"] {
        let ours = Tokenizer::from_tiktoken_name(name).unwrap();
        let theirs = if name == "o200k_base" {
            tiktoken_rs::o200k_base_singleton()
        } else {
            tiktoken_rs::cl100k_base_singleton()
        };
        for (tn, text) in [("prose", &prose), ("code", &code)] {
            assert_eq!(ours.encode(text), theirs.encode_ordinary(text));
            let mut a = f64::MAX;
            let mut b = f64::MAX;
            for _ in 0..3 {
                let t = Instant::now();
                std::hint::black_box(ours.encode(text));
                a = a.min(t.elapsed().as_secs_f64());
                let t = Instant::now();
                std::hint::black_box(theirs.encode_ordinary(text));
                b = b.min(t.elapsed().as_secs_f64());
            }
            let mut h = f64::MAX;
            let mut r = f64::MAX;
            let p = ours.pretokenizer();
            for _ in 0..3 {
                let t = Instant::now();
                let mut n = 0;
                p.split(text, |_| n += 1);
                std::hint::black_box(n);
                h = h.min(t.elapsed().as_secs_f64());
                let t = Instant::now();
                std::hint::black_box(p.split_regex(text));
                r = r.min(t.elapsed().as_secs_f64());
            }
            let mb = text.len() as f64 / 1e6;
            println!("{name} {tn} {} bytes: ours {:.1} MB/s tiktoken {:.1} MB/s ratio {:.2} | split hand {:.1} regex {:.1}", text.len(), mb/a, mb/b, b/a, mb/h, mb/r);
        }
    }
}
