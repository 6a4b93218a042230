//! The book never drifts from the code: every `{{#include path:anchor}}` in a chapter must name a
//! file that exists and an anchor that file really has (`// ANCHOR: name` … `// ANCHOR_END: name`),
//! and every chapter listed in SUMMARY.md must exist and not be empty.

use std::fs;
use std::path::{Path, PathBuf};

fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src")
}

#[test]
fn every_include_resolves_to_a_real_anchor() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in fs::read_dir(book_src()).expect("book/src exists") {
        let path = entry.expect("readable dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("chapter is UTF-8");
        for (start, _) in text.match_indices("{{#include ") {
            let rest = &text[start + "{{#include ".len()..];
            let end = rest.find("}}").expect("include closes with }}");
            let spec = rest[..end].trim();
            let (file, anchor) = match spec.split_once(':') {
                Some((f, a)) => (f, Some(a)),
                None => (spec, None),
            };
            let target = book_src().join(file);
            checked += 1;
            let Ok(source) = fs::read_to_string(&target) else {
                problems.push(format!("{}: includes missing file {file}", path.display()));
                continue;
            };
            // Line-number ranges (`file:10:20`) are not used in this book: anchors only.
            if let Some(anchor) = anchor {
                if anchor.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                    problems.push(format!(
                        "{}: include {spec} uses line numbers; use an ANCHOR",
                        path.display()
                    ));
                    continue;
                }
                let open = format!("ANCHOR: {anchor}");
                let close = format!("ANCHOR_END: {anchor}");
                let has_open = source.lines().any(|l| l.trim_end().ends_with(&open));
                let has_close = source.lines().any(|l| l.trim_end().ends_with(&close));
                if !(has_open && has_close) {
                    problems.push(format!(
                        "{}: anchor `{anchor}` not found (open and close) in {file}",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken includes:\n{}",
        problems.join("\n")
    );
    println!("{checked} includes checked");
}

#[test]
fn every_chapter_in_the_summary_exists_and_has_content() {
    let summary = fs::read_to_string(book_src().join("SUMMARY.md")).expect("SUMMARY.md");
    let mut chapters = 0;
    for line in summary.lines() {
        let Some(open) = line.find("](") else {
            continue;
        };
        let Some(close) = line[open..].find(')') else {
            continue;
        };
        let file = &line[open + 2..open + close];
        let text = fs::read_to_string(book_src().join(file))
            .unwrap_or_else(|_| panic!("SUMMARY.md lists {file}, which does not exist"));
        assert!(
            text.split_whitespace().count() > 150,
            "{file} is nearly empty: a chapter needs content"
        );
        chapters += 1;
    }
    assert!(chapters >= 2, "SUMMARY.md lists no chapters");
}

/// No chapter shows typed-in output: every text file a chapter includes from `book/src/` (a
/// lesson's output, a command's, a benchmark table, the machine) is one that
/// `scripts/regenerate-book.sh` writes.
#[test]
fn chapters_include_only_regenerated_outputs() {
    let script = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/regenerate-book.sh"),
    )
    .expect("scripts/regenerate-book.sh");
    let mut problems = Vec::new();
    let mut chapters = 0;
    for entry in fs::read_dir(book_src()).expect("book/src exists") {
        let path = entry.expect("readable dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // chapters are chNN[x]-title.md; the tables the script writes (chNN-bench-*.md,
        // ch06b-table.md) are included files, not chapters
        if !(name.starts_with("ch") && name.ends_with(".md"))
            || name.contains("-bench-")
            || name.ends_with("-table.md")
        {
            continue;
        }
        chapters += 1;
        let text = fs::read_to_string(&path).expect("chapter is UTF-8");
        for (start, _) in text.match_indices("{{#include ") {
            let rest = &text[start + "{{#include ".len()..];
            let spec = rest[..rest.find("}}").expect("include closes")].trim();
            let file = spec.split(':').next().unwrap_or(spec);
            if file.starts_with("../") {
                continue; // code, included by anchor
            }
            // the script names what it writes: "chNN-lesson-output.txt" as `lesson NN EXAMPLE`
            // (NN may be 06b, 13b, …), anything else by the file name itself
            let lesson = file
                .strip_prefix("ch")
                .and_then(|f| f.strip_suffix("-lesson-output.txt"))
                .is_some_and(|ch| script.contains(&format!("\nlesson {ch} ")));
            if !(lesson || script.contains(file)) {
                problems.push(format!(
                    "{name} includes {file}, which the script does not write"
                ));
            }
        }
    }
    assert!(chapters >= 20, "only {chapters} chapters found in book/src");
    assert!(
        problems.is_empty(),
        "typed-in outputs:\n{}",
        problems.join("\n")
    );
}
