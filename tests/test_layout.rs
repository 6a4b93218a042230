//! Every test file runs. Cargo.toml sets `autotests = false` (most files are modules of a grouped
//! binary, tests/groups/), so a new `tests/NAME.rs` that no [[test]] entry and no group names
//! would be compiled by nobody and pass silently. This reads Cargo.toml's [[test]] entries and
//! the groups' `#[path = "…"]` modules and checks that each file of `tests/*.rs` is in exactly
//! one binary, and that each file they name exists.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The value of `key = "value"` on a TOML line, if the line is that key.
fn toml_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let (k, v) = line.split_once('=')?;
    if k.trim() == key {
        Some(v.trim().trim_matches('"'))
    } else {
        None
    }
}

/// Each [[test]] entry's (name, source file); the file is `tests/NAME.rs` when no `path` is given.
fn test_targets(manifest: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut current: Option<(Option<String>, Option<String>)> = None;
    let mut finish = |entry: Option<(Option<String>, Option<String>)>| {
        if let Some((name, path)) = entry {
            let name = name.expect("a [[test]] entry without a name in Cargo.toml");
            let path = path.unwrap_or_else(|| format!("tests/{name}.rs"));
            out.push((name, root().join(path)));
        }
    };
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            finish(current.take());
            if line == "[[test]]" {
                current = Some((None, None));
            }
        } else if let Some((name, path)) = current.as_mut() {
            if let Some(v) = toml_value(line, "name") {
                *name = Some(v.to_string());
            } else if let Some(v) = toml_value(line, "path") {
                *path = Some(v.to_string());
            }
        }
    }
    finish(current.take());
    out
}

/// The files a group includes: its `#[path = "…"]` attributes, relative to the group's directory.
fn group_modules(group: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string(group).unwrap_or_else(|e| panic!("{}: {e}", group.display()));
    let dir = group.parent().expect("a group file has a directory");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("#[path = \""))
        .map(|rest| dir.join(rest.split('"').next().expect("a quoted path")))
        .collect()
}

#[test]
fn every_test_file_is_in_exactly_one_binary() {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).expect("read Cargo.toml");
    assert!(
        manifest.lines().any(|l| l.trim() == "autotests = false"),
        "Cargo.toml: with automatic test targets each grouped file would be a binary of its own"
    );
    // file -> the binaries it is compiled into
    let mut seen: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    let targets = test_targets(&manifest);
    assert!(
        targets.len() > 10,
        "Cargo.toml's [[test]] entries: {targets:?}"
    );
    for (name, file) in &targets {
        if !file.is_file() {
            problems.push(format!(
                "[[test]] {name}: {} does not exist",
                file.display()
            ));
            continue;
        }
        seen.entry(canonical(file)).or_default().push(name.clone());
        for m in group_modules(file) {
            if !m.is_file() {
                problems.push(format!(
                    "{}: module {} does not exist",
                    file.display(),
                    m.display()
                ));
                continue;
            }
            seen.entry(canonical(&m)).or_default().push(name.clone());
        }
    }
    for entry in fs::read_dir(root().join("tests")).expect("list tests/") {
        let path = entry.expect("a directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue; // tests/NAME_common/ are modules, fixtures/ and python/ data
        }
        match seen.get(&canonical(&path)).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!(
                "{} is in no test binary: add it to its stage's group in tests/groups/ \
                 (or a [[test]] entry in Cargo.toml)",
                path.display()
            )),
            Some([_]) => {}
            Some(many) => problems.push(format!(
                "{} is compiled into {} binaries ({many:?}): its tests would run twice",
                path.display(),
                many.len()
            )),
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    println!(
        "{} test files in {} test binaries",
        seen.len(),
        targets.len()
    );
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
