//! The RAG store with the real encoder: re-indexing replaces exactly the changed files, an
//! indexing run that fails or is killed halfway leaves every document whole (old or new, never
//! half), and a store made by another encoder is refused.
mod encoder_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use encoder_common::minilm;
use glassbox::rag::chunk::ChunkConfig;
use glassbox::rag::index::{document_name, index_paths, IndexReport};
use glassbox::rag::store::Store;
use glassbox::Result;

/// A fresh directory under the system's temp dir, removed on drop.
struct Tmp(PathBuf);
impl Tmp {
    fn new(tag: &str) -> Tmp {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let d = std::env::temp_dir().join(format!("glassbox-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Tmp(d)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A document of `n` paragraphs about `topic`, each a few sentences (several chunks at 48 tokens).
fn doc(topic: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("Paragraph {i} is about {topic}. It says one more thing about {topic} number {i}. And a third sentence, so that the paragraph has some length."))
        .collect::<Vec<_>>()
        .join("\n\n")
}

const CFG: ChunkConfig = ChunkConfig {
    max_tokens: 48,
    overlap_tokens: 8,
};

fn store_at(p: &Path) -> Store {
    Store::open(p, "all-MiniLM-L6-v2 (6 layers)", 384).expect("open store")
}

fn run(store: &mut Store, paths: &[PathBuf], fail_at_call: Option<usize>) -> Result<IndexReport> {
    let m = minilm();
    let mut calls = 0;
    let mut embed = |texts: &[&str]| {
        calls += 1;
        if Some(calls) == fail_at_call {
            return Err(glassbox::Error::invalid("the embedder failed on purpose"));
        }
        m.embed(texts)
    };
    index_paths(
        store,
        paths,
        CFG,
        4,
        &|t| m.tokenizer.count(t),
        &mut embed,
        false,
    )
}

/// All chunk texts of one document, in order (`path` must exist: it is canonicalised).
fn texts_of(store: &Store, path: &Path) -> Vec<String> {
    texts_named(store, &document_name(path).unwrap())
}

fn texts_named(store: &Store, name: &str) -> Vec<String> {
    let v = store.vectors().unwrap();
    let mut out: Vec<(usize, String)> = v
        .ids
        .iter()
        .map(|&id| store.chunk(id).unwrap())
        .filter(|c| c.path == name)
        .map(|c| (c.position, c.text))
        .collect();
    out.sort();
    out.into_iter().map(|x| x.1).collect()
}

#[test]
fn reindexing_replaces_changed_files_only() {
    let dir = Tmp::new("reindex");
    let (a, b) = (
        dir.write("a.md", &doc("apples", 4)),
        dir.write("sub/b.txt", &doc("bridges", 4)),
    );
    let c = dir.write("c.md", &doc("castles", 3));
    dir.write("ignored.rs", "fn main() {}");
    let mut s = store_at(&dir.0.join("store.db"));
    let r = run(&mut s, std::slice::from_ref(&dir.0), None).unwrap();
    assert_eq!(r.indexed.len(), 3, "{r:?}");
    s.check().unwrap();
    let before_a = texts_of(&s, &a);
    assert!(before_a.len() >= 2 && before_a.iter().all(|t| t.contains("apples")));
    s.add_answer("q", &[0.0; 384], "cached", "").unwrap();

    // unchanged: nothing re-embedded, the cache kept
    let r = run(&mut s, std::slice::from_ref(&dir.0), Some(1)).unwrap(); // the embedder must not be called
    assert_eq!((r.indexed.len(), r.unchanged.len()), (0, 3));
    assert_eq!(s.answers().unwrap().len(), 1);

    // one file changed: only its chunks replaced, the cache cleared; one file deleted: removed
    std::fs::write(&b, doc("boats", 2)).unwrap();
    let c_name = document_name(&c).unwrap();
    assert!(!texts_named(&s, &c_name).is_empty());
    std::fs::remove_file(&c).unwrap();
    let r = run(&mut s, std::slice::from_ref(&dir.0), None).unwrap();
    assert_eq!(
        (r.indexed.len(), r.unchanged.len(), r.removed.len()),
        (1, 1, 1),
        "{r:?}"
    );
    s.check().unwrap();
    let after_b = texts_of(&s, &b);
    assert!(
        !after_b.is_empty()
            && after_b
                .iter()
                .all(|t| t.contains("boats") && !t.contains("bridges"))
    );
    assert_eq!(texts_of(&s, &a), before_a);
    assert!(texts_named(&s, &c_name).is_empty());
    assert!(
        s.answers().unwrap().is_empty(),
        "answers may be stale after a change"
    );
}

#[test]
fn a_failed_run_leaves_every_document_whole() {
    let dir = Tmp::new("fail");
    let files: Vec<PathBuf> = (0..3)
        .map(|i| dir.write(&format!("f{i}.md"), &doc(&format!("old topic {i}"), 6)))
        .collect();
    let mut s = store_at(&dir.0.join("store.db"));
    run(&mut s, &files, None).unwrap();
    for (i, f) in files.iter().enumerate() {
        std::fs::write(f, doc(&format!("new subject {i}"), 6)).unwrap();
    }
    // fail on the second batch of the second file (batches of 4 chunks)
    let batches_per_file = texts_of(&s, &files[0]).len().div_ceil(4);
    assert!(batches_per_file >= 2);
    let e = run(&mut s, &files, Some(batches_per_file + 2)).unwrap_err();
    assert!(e.to_string().contains("on purpose"), "{e}");
    s.check().expect("consistent after the failure");
    let state: Vec<bool> = files
        .iter()
        .map(|f| texts_of(&s, f).iter().all(|t| t.contains("new subject")))
        .collect();
    assert_eq!(
        state,
        [true, false, false],
        "file 0 replaced; files 1 and 2 still whole and old"
    );
    assert!(texts_of(&s, &files[1])
        .iter()
        .all(|t| t.contains("old topic 1")));
    // running again finishes the job
    let r = run(&mut s, &files, None).unwrap();
    assert_eq!((r.indexed.len(), r.unchanged.len()), (2, 1));
    s.check().unwrap();
}

/// The real command, killed (SIGKILL) while it indexes: whatever it committed is whole.
#[test]
fn a_killed_indexing_process_leaves_the_store_consistent() {
    // far more documents than any machine indexes between two looks (50 ms apart): the run is
    // killed after its first commits, never after its last
    const DOCS: usize = 200;
    let dir = Tmp::new("kill");
    for i in 0..DOCS {
        dir.write(
            &format!("corpus/doc{i:02}.md"),
            &doc(&format!("subject {i}"), 40),
        );
    }
    let db = dir.0.join("store.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(["rag", "index", "--quiet", "--chunk-tokens", "48", "--db"])
        .arg(&db)
        .arg(dir.0.join("corpus"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start glassbox rag index");
    // wait until it has committed two documents, then kill it mid-run
    let t0 = Instant::now();
    let committed = loop {
        std::thread::sleep(Duration::from_millis(50));
        if let Some(st) = child.try_wait().unwrap() {
            panic!("indexing finished ({st}) before it could be killed: make the corpus bigger");
        }
        // the store may be half-created this early: a look that fails counts as nothing yet
        let n = if db.exists() {
            Store::open(&db, "all-MiniLM-L6-v2 (6 layers)", 384)
                .and_then(|s| s.documents())
                .map(|d| d.len())
                .unwrap_or(0)
        } else {
            0
        };
        if n >= 2 || t0.elapsed() > Duration::from_secs(120) {
            break n;
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(committed >= 2, "nothing committed in 120 s");
    let s = store_at(&db);
    s.check().expect("consistent after SIGKILL");
    let n = s.documents().unwrap().len();
    assert!((2..DOCS).contains(&n), "{n} documents");
}

#[test]
fn another_encoder_or_a_foreign_file_is_refused() {
    let dir = Tmp::new("refuse");
    let db = dir.0.join("store.db");
    drop(store_at(&db));
    let e = Store::open(&db, "bge-small (12 layers)", 384)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("all-MiniLM-L6-v2") && e.contains("bge-small"),
        "{e}"
    );
    let junk = dir.write(
        "junk.db",
        "this is not an SQLite database, just text that is long enough to have a header",
    );
    let e = Store::open(&junk, "m", 384)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("junk.db"), "{e}");
}
