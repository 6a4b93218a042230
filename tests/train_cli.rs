//! `glassbox train` end to end through the binary: the output directory is a model that
//! `glassbox generate --model DIR` runs, the summary reports the validation loss and the memory
//! per step, and bad flags or files give errors that name them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glassbox-train-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn glassbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A tiny model on this repository's README with the tiny fixture tokenizer (320 tokens); the
/// README is a little over one block of 4096 tokens, and --val-fraction 0.45 holds the second
/// block out for validation.
fn train_args<'a>(out: &'a str, data: &'a str, tok: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        data,
        "--tokenizer",
        tok,
        "--out",
        out,
        "--layers",
        "1",
        "--d-model",
        "16",
        "--heads",
        "2",
        "--kv-heads",
        "1",
        "--ffn",
        "32",
        "--ctx",
        "16",
        "--batch",
        "2",
        "--steps",
        "4",
        "--eval-every",
        "2",
        "--eval-batches",
        "1",
        "--save-every",
        "2",
        "--sample-tokens",
        "3",
        "--val-fraction",
        "0.45",
        "--quiet",
    ]
}

#[test]
fn trained_directory_runs_in_glassbox_generate() {
    let d = scratch("generate");
    let out = d.join("run");
    let (readme, tok) = (
        root().join("README.md"),
        root().join("tests/fixtures/tiny/hf/tokenizer.json"),
    );
    let o = glassbox(&train_args(
        out.to_str().unwrap(),
        readme.to_str().unwrap(),
        tok.to_str().unwrap(),
    ));
    let (stdout, stderr) = text(&o);
    assert!(
        o.status.success(),
        "glassbox train failed:\n{stdout}\n{stderr}"
    );
    for want in [
        "steps       4",
        "val loss",
        "perplexity",
        "memory",
        "MB per step",
    ] {
        assert!(stdout.contains(want), "summary lacks {want:?}:\n{stdout}");
    }
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "log.jsonl",
    ] {
        assert!(out.join(f).is_file(), "{f} missing in {}", out.display());
    }
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |key: &str| rows.iter().filter(|r| r.get(key).is_some()).count();
    assert_eq!(count("loss"), 4, "one training line per step");
    assert_eq!(count("val_loss"), 3, "validation at steps 0, 2 and 4");
    assert_eq!(
        count("sample"),
        2,
        "a sample at each checkpoint (steps 2 and 4)"
    );
    assert!(rows
        .iter()
        .filter_map(|r| r.get("activation_bytes"))
        .all(|b| b.as_u64().unwrap() > 0));

    // the newest model at the top of --out is what `glassbox generate --model DIR` loads
    let g = glassbox(&[
        "generate",
        "--model",
        out.to_str().unwrap(),
        "--prompt",
        "The",
        "-n",
        "6",
        "--temperature",
        "0",
        "--json",
    ]);
    let (gout, gerr) = text(&g);
    assert!(
        g.status.success(),
        "glassbox generate failed:\n{gout}\n{gerr}"
    );
    let v: serde_json::Value = serde_json::from_str(&gout).expect("one JSON object");
    let ids = v["ids"].as_array().unwrap();
    assert!(!ids.is_empty() && ids.len() <= 6, "{gout}");
    assert!(ids.iter().all(|i| i.as_u64().unwrap() < 320), "{gout}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_flags_and_files_are_named() {
    let d = scratch("errors");
    let out = d.join("run");
    let (readme, tok) = (
        root().join("README.md"),
        root().join("tests/fixtures/tiny/hf/tokenizer.json"),
    );
    let missing = d.join("no-such-corpus.txt");
    let (o, r, t, m) = (
        out.to_str().unwrap(),
        readme.to_str().unwrap(),
        tok.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let fails_naming = |args: Vec<&str>, want: &str| {
        let g = glassbox(&args);
        let (so, se) = text(&g);
        assert!(!g.status.success(), "{args:?} should fail:\n{so}");
        assert!(
            se.contains(want),
            "{args:?}: error should name {want:?}:\n{se}"
        );
        assert!(!se.contains("panicked"), "{args:?} panicked:\n{se}");
    };
    fails_naming(train_args(o, m, t), "no-such-corpus.txt");
    fails_naming(train_args(o, r, m), "no-such-corpus.txt");
    let mut heads = train_args(o, r, t);
    heads[12] = "3"; // --heads 3 with --d-model 16
    fails_naming(heads, "--heads");
    let mut lr = train_args(o, r, t);
    lr.extend(["--lr", "0"]);
    fails_naming(lr, "--lr");
    let _ = std::fs::remove_dir_all(&d);
}
