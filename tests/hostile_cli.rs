//! Issue 17, findings 4–8 at the command line (the real binary, on the tiny test model):
//!
//! 4. `train-bpe --special ''` is an error, not a panic; `--help` states the vocabulary limit.
//! 5. `generate -n 0` and `chat -n 0` generate nothing.
//! 6. A closed stdout (`| head -c1`) ends every command quietly: no panic, no error message.
//! 7. No lost files: `train-bpe --out EXISTING` and `convert --out EXISTING_DIR` leave the old
//!    file/directory intact when the write fails (a file-size limit stands in for a full disk),
//!    leave no temporary file behind, and refuse to overwrite an input.
//! 8. `tokenize --json` streams (a 40 MB input under a 1.5 GB address-space limit), and `pull`
//!    removes the temporary directories of fetches that were killed.

mod hostile_common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hostile_common::{fixture, scratch};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_glassbox")
}

fn glassbox(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args).env("RAYON_NUM_THREADS", "1");
    c
}

fn run(mut c: impl std::borrow::BorrowMut<Command>) -> Output {
    c.borrow_mut().output().expect("run glassbox")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tiny() -> String {
    fixture("tiny.gguf").display().to_string()
}

/// A corpus for train-bpe in `dir`.
fn corpus(dir: &Path) -> PathBuf {
    let p = dir.join("corpus.txt");
    std::fs::write(
        &p,
        "the cat sat on the mat. the dog sat on the log. ".repeat(200),
    )
    .expect("corpus");
    p
}

/// Run `args` through `sh` with a file-size limit of `kb` KiB: a write past it fails with
/// EFBIG (SIGXFSZ is ignored), as a write to a full disk fails with ENOSPC.
fn with_file_limit(kb: u64, args: &[&str]) -> Output {
    let script = format!("trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"", kb * 2);
    run(Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin())
        .args(args)
        .env("RAYON_NUM_THREADS", "1"))
}

/// Names in `dir` (sorted).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn train_bpe_rejects_empty_special_and_states_the_limit() {
    let d = scratch("cli-special");
    let c = corpus(&d);
    let out = d.join("tok.json");
    let o = run(glassbox(&[
        "train-bpe",
        "--vocab-size",
        "300",
        "--special",
        "",
        "-q",
        "--out",
    ])
    .arg(&out)
    .arg(&c));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("special token #1 is empty"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
    let o = run(glassbox(&[
        "train-bpe",
        "--vocab-size",
        "18446744073709551615",
        "-q",
        "--out",
    ])
    .arg(&out)
    .arg(&c));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("1048576"), "{}", stderr(&o));
    let help = run(glassbox(&["train-bpe", "--help"]));
    assert!(String::from_utf8_lossy(&help.stdout).contains("at most 1048576"));
}

#[test]
fn n_zero_generates_nothing() {
    let o = run(glassbox(&[
        "generate",
        "-m",
        &tiny(),
        "-p",
        "hello world",
        "-n",
        "0",
        "--json",
        "--seed",
        "1",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(v["ids"], serde_json::json!([]), "{v}");
    assert_eq!(v["stats"]["generated_tokens"], 0);
    assert_eq!(v["stop_reason"], "max_tokens");
    // chat: one turn, then end of input; --stats reports what was generated
    let mut child = glassbox(&["chat", "-m", &tiny(), "-n", "0", "--stats", "--seed", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chat");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"hello\n")
        .expect("write");
    let o = child.wait_with_output().expect("chat output");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("generated 0 tok"), "{}", stderr(&o));
}

/// Run `c` with its stdout a pipe whose reading end is already closed.
fn with_closed_stdout(c: &mut Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    c.stdout(writer)
        .stderr(Stdio::piped())
        .stdin(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"hello\n");
    }
    child.wait_with_output().expect("wait")
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let d = scratch("cli-pipe");
    let c = corpus(&d);
    let data = d.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    // `pull` finds the default model already in place (the tiny one, under its name)
    std::fs::copy(
        fixture("tiny.gguf"),
        data.join("SmolLM2-135M-Instruct.Q4_1.gguf"),
    )
    .expect("copy");
    let tok = fixture("hf/tokenizer.json").display().to_string();
    let t = tiny();
    let out_json = d.join("tok.json").display().to_string();
    let out_dir = d.join("hf-out").display().to_string();
    let corpus = c.display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["tokenize", "--tokenizer", &tok, "hello world"],
        vec!["tokenize", "--tokenizer", &tok, "--json", "hello world"],
        vec![
            "train-bpe",
            "--vocab-size",
            "280",
            "-q",
            "--out",
            &out_json,
            &corpus,
        ],
        vec!["inspect", &t],
        vec!["inspect", &t, "--json"],
        vec!["convert", &t, "--out", &out_dir],
        vec!["logits", "-m", &t, "-p", "hello"],
        vec![
            "generate", "-m", &t, "-p", "hello", "-n", "4", "--seed", "1",
        ],
        vec!["chat", "-m", &t, "-n", "4", "--seed", "1"],
        vec!["bench", "-m", &t, "-p", "8", "-n", "2", "-r", "1"],
        vec!["pull"],
        vec!["--help"],
    ];
    for args in commands {
        let o = with_closed_stdout(glassbox(&args).env("GLASSBOX_DATA", &data));
        let err = stderr(&o);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("error"),
            "glassbox {args:?} on a closed stdout: {err}"
        );
        use std::os::unix::process::ExitStatusExt;
        assert!(
            o.status.success() || o.status.signal() == Some(13),
            "glassbox {args:?}: {:?} {err}",
            o.status
        );
    }
}

#[test]
fn train_bpe_never_loses_the_existing_output_and_never_overwrites_its_input() {
    let d = scratch("cli-train-out");
    let c = corpus(&d);
    let out = d.join("tok.json");
    let before = std::fs::read(fixture("hf/tokenizer.json")).expect("fixture");
    std::fs::write(&out, &before).expect("existing output");
    // the new tokenizer.json is larger than 4 KiB: the write fails part-way
    let o = with_file_limit(
        4,
        &[
            "train-bpe",
            "--vocab-size",
            "400",
            "-q",
            "--out",
            &out.display().to_string(),
            &c.display().to_string(),
        ],
    );
    assert!(!o.status.success(), "the write was meant to fail");
    assert!(
        std::fs::read(&out).expect("still there") == before,
        "the old file was damaged"
    );
    assert_eq!(
        names(&d),
        ["corpus.txt", "tok.json"],
        "a temporary file was left behind"
    );
    // --out naming an input (also by another spelling of its path) is refused
    let corpus_before = std::fs::read(&c).expect("corpus");
    for spelling in [c.clone(), d.join(".").join("corpus.txt")] {
        let o = run(
            glassbox(&["train-bpe", "--vocab-size", "300", "-q", "--out"])
                .arg(&spelling)
                .arg(&c),
        );
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("is also an input"), "{}", stderr(&o));
        assert_eq!(std::fs::read(&c).expect("corpus"), corpus_before);
    }
    // and a normal run replaces the old file with a valid tokenizer
    let o = run(
        glassbox(&["train-bpe", "--vocab-size", "300", "-q", "--out"])
            .arg(&out)
            .arg(&c),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    glassbox::tokenizer::Tokenizer::from_tokenizer_json_file(&out).expect("valid output");
}

/// Every file of `dir` with its length and a 64-bit FNV-1a hash of its bytes.
fn snapshot(dir: &Path) -> Vec<(String, usize, u64)> {
    names(dir)
        .into_iter()
        .map(|n| {
            let b = std::fs::read(dir.join(&n)).expect("read");
            let h = b.iter().fold(0xcbf29ce484222325u64, |h, &x| {
                (h ^ x as u64).wrapping_mul(0x100000001b3)
            });
            (n, b.len(), h)
        })
        .collect()
}

#[test]
fn convert_writes_a_directory_whole_or_not_at_all() {
    let d = scratch("cli-convert");
    let out = d.join("model-hf");
    // an existing Hugging Face directory (another model) at the output path
    std::fs::create_dir_all(&out).expect("out dir");
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        std::fs::copy(fixture("hf").join(f), out.join(f)).expect("copy");
    }
    let before = snapshot(&out);
    let o = with_file_limit(
        64, // model.safetensors is 460 KB in f32: its write fails, after the JSON files
        &["convert", &tiny(), "--out", &out.display().to_string()],
    );
    assert!(!o.status.success(), "the write was meant to fail");
    assert_eq!(
        snapshot(&out),
        before,
        "the old model directory was changed"
    );
    assert_eq!(names(&d), ["model-hf"], "temporary files left beside it");
    // refused: an output directory holding files that are not a converted model's
    std::fs::write(out.join("notes.txt"), "mine").expect("notes");
    let o = run(glassbox(&["convert", &tiny(), "--out"]).arg(&out));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
    std::fs::remove_file(out.join("notes.txt")).expect("rm notes");
    // refused: the input itself as the output
    let input = d.join("in.gguf");
    std::fs::copy(fixture("tiny.gguf"), &input).expect("copy");
    let o = run(glassbox(&["convert"]).arg(&input).arg("--out").arg(&input));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&input).expect("input"),
        std::fs::read(fixture("tiny.gguf")).expect("tiny")
    );
    // a successful conversion replaces the directory as a whole
    let o = run(glassbox(&["convert", &tiny(), "--out"]).arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        names(&out),
        [
            "config.json",
            "generation_config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json"
        ]
    );
    glassbox::weights::model_files::ModelFiles::open(&out).expect("the converted model loads");
    assert_eq!(
        names(&d),
        ["in.gguf", "model-hf"],
        "temporary files left beside it"
    );
}

#[test]
fn tokenize_json_streams_its_output() {
    let d = scratch("cli-tokenize");
    let text = d.join("big.txt");
    let para = "The quick brown fox jumps over the lazy dog; 1234 times, or more? ";
    std::fs::write(&text, para.repeat((40 << 20) / para.len())).expect("40 MB of text");
    let tok = fixture("hf/tokenizer.json").display().to_string();
    // under a 1.5 GB address-space limit (it needed several GB with the whole JSON in memory)
    let script = "ulimit -v 1500000; exec \"$0\" \"$@\"";
    let o = run(Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin())
        .args(["tokenize", "--tokenizer", &tok, "--json", "--file"])
        .arg(&text)
        .env("MALLOC_ARENA_MAX", "2")
        .stdout(Stdio::null()));
    assert!(o.status.success(), "{}", stderr(&o));
    // the streamed JSON is the same object as before, field for field
    let small = "Hello world! ½ 日本語";
    let o = run(glassbox(&[
        "tokenize",
        "--tokenizer",
        &tok,
        "--json",
        "--price-in",
        "2.5",
        small,
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let t = glassbox::tokenizer::Tokenizer::from_tokenizer_json_file(&fixture("hf/tokenizer.json"))
        .expect("tokenizer");
    let ids = t.encode(small);
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "tokenizer",
            "count",
            "chars",
            "bytes",
            "ids",
            "tokens",
            "input_cost_usd",
            "total_cost_usd"
        ]
    );
    assert_eq!(v["ids"], serde_json::json!(ids));
    assert_eq!(v["count"], ids.len());
    assert_eq!(v["chars"], small.chars().count());
    let tokens: Vec<String> = ids
        .iter()
        .map(|&id| String::from_utf8_lossy(t.token_bytes(id).unwrap_or(b"")).into_owned())
        .collect();
    assert_eq!(v["tokens"], serde_json::json!(tokens));
    assert_eq!(
        v["input_cost_usd"],
        serde_json::json!(ids.len() as f64 * 2.5 / 1e6)
    );
}

#[test]
fn pull_cleans_the_temporary_directories_of_killed_fetches() {
    let d = scratch("cli-pull");
    std::fs::copy(
        fixture("tiny.gguf"),
        d.join("SmolLM2-135M-Instruct.Q4_1.gguf"),
    )
    .expect("copy");
    // a fetch killed long ago (no process has this id: pid_max is at most 2^22) ...
    let stale = d.join(".fetch-999999999-12345");
    std::fs::create_dir_all(stale.join("inner")).expect("stale dir");
    std::fs::write(stale.join("inner/model.part"), b"half a model").expect("part");
    // ... and one still running (this test's own process)
    let live = d.join(format!(".fetch-{}-1", std::process::id()));
    std::fs::create_dir_all(&live).expect("live dir");
    let o = run(glassbox(&["pull"]).env("GLASSBOX_DATA", &d));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stale.exists(), "the stale fetch directory is still there");
    assert!(live.exists(), "a running fetch's directory was removed");
}

/// The memory bounds on a model file are stated in the `--help` of every command that loads
/// one, with the numbers the loaders use (the constants, so the text cannot drift).
#[test]
fn help_states_the_memory_bounds_of_a_model_file() {
    use glassbox::chat::{MAX_RENDER_BYTES, RENDER_FUEL};
    use glassbox::formats::gguf::value::MAX_METADATA_ELEMENTS;
    for cmd in ["generate", "chat", "inspect", "logits"] {
        let o = run(glassbox(&[cmd, "--help"]));
        let help = String::from_utf8_lossy(&o.stdout).replace(['\n', ' '], "");
        for want in [
            format!("atmost{MAX_METADATA_ELEMENTS}arrayelements"),
            format!("within{RENDER_FUEL}steps"),
            format!("{}MiBoftext", MAX_RENDER_BYTES >> 20),
            "mustfitinthefile'sownbytes".to_string(),
        ] {
            assert!(help.contains(&want), "`{cmd} --help` does not say {want:?}");
        }
    }
}
