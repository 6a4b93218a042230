//! The encoder commands, run as a user runs them: `glassbox embed --json` and `similarity`
//! against the sentence-transformers fixture, and `rag index` + `rag ask` end to end on a small
//! corpus (the right source first, a reworded question answered from the semantic cache).
mod encoder_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use encoder_common::sentences;
use glassbox::model::bert::cosine;

fn glassbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .output()
        .expect("run glassbox")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "glassbox failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn embed_json_equals_sentence_transformers() {
    let s = sentences();
    let (a, b) = (&s[0], &s[40]); // "The capital of France is Paris." and ""
    let out = stdout(&glassbox(&["embed", "--json", &a.text, &b.text]));
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["dim"], 384);
    for (item, want) in v["data"].as_array().unwrap().iter().zip([a, b]) {
        assert_eq!(item["text"], want.text.as_str());
        assert_eq!(item["tokens"], want.ids.len());
        assert_eq!(item["truncated"], false);
        let got: Vec<f32> = item["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        glassbox::compare::assert_close(
            &format!("embed {:?}", want.text),
            &got,
            &want.embedding,
            1e-4,
        );
    }
}

#[test]
fn similarity_prints_the_cosine() {
    let s = sentences();
    let (a, b) = (&s[12], &s[13]); // the two password questions
    let out = stdout(&glassbox(&["similarity", &a.text, &b.text]));
    let got: f32 = out.trim().parse().expect("one number");
    let want = cosine(&a.embedding, &b.embedding);
    assert!(
        (got - want).abs() <= 1e-4,
        "printed {got}, sentence-transformers vectors give {want}"
    );
}

#[test]
fn rag_index_then_ask_with_the_semantic_cache() {
    let dir = std::env::temp_dir().join(format!("glassbox-cli-rag-{}", std::process::id()));
    let corpus = dir.join("notes");
    std::fs::create_dir_all(&corpus).unwrap();
    let write = |name: &str, text: &str| std::fs::write(corpus.join(name), text).unwrap();
    write("bread.md", "# Baking bread\n\nKnead the dough for ten minutes, let it rise for an hour, then bake it at 220 degrees until the crust is brown.");
    write("moon.md", "# The Moon\n\nThe Moon orbits the Earth once every 27.3 days. Its surface is covered in craters made by asteroid impacts.");
    write("rust.txt", "Rust's borrow checker rejects programs where a value is changed while something else still reads it.");
    let db: PathBuf = dir.join("notes.db");
    let db_s = db.to_str().unwrap();
    let out = stdout(&glassbox(&[
        "rag",
        "index",
        corpus.to_str().unwrap(),
        "--db",
        db_s,
        "--quiet",
    ]));
    assert!(out.contains("indexed 3 files"), "{out}");

    let ask = |q: &str| {
        stdout(&glassbox(&[
            "rag", "ask", q, "--db", db_s, "-k", "2", "-n", "6",
        ]))
    };
    let out = ask("How long does the Moon take to go around the Earth?");
    let first = out
        .lines()
        .find(|l| l.trim_start().starts_with("[1]"))
        .expect("a first source");
    assert!(
        first.contains("moon.md"),
        "best source should be moon.md:\n{out}"
    );
    assert!(
        out.contains("answer:") && !out.contains("semantic cache"),
        "{out}"
    );
    let out = ask("How long does it take the Moon to go around the Earth?"); // cosine 0.995
    assert!(out.starts_with("answered from the semantic cache"), "{out}");
    assert!(
        out.contains("moon.md"),
        "the cached answer keeps its sources:\n{out}"
    );

    // no store: a clear error, exit code 1
    let o = glassbox(&[
        "rag",
        "ask",
        "anything",
        "--db",
        dir.join("missing.db").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("missing.db") && err.contains("rag index"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
