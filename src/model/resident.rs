//! Stage 3 · what stays resident while a model decodes
//!
//! A decode step reads every weight and the K/V rows of the cached positions; everything else
//! the process keeps in memory is overhead (issue 10: resident ≤ 1.10 × (weights + K/V used),
//! `glassbox bench` prints the split). After a prefill, three kinds of pages sit there that a
//! decode step never touches, and each is handed back to the OS in one place:
//!
//! ```text
//! prefill scratch rows   rows 1.. of [chunk, …] buffers      Session::release_prefill_rows
//! free heap              a prefill's tiles and packed inputs  llama::release_free_heap (malloc_trim)
//! code that ran once     argument parsing, the file readers,  release_code_pages (here; only
//!                        the tokenizer's assembly, the GEMM   where the command chose it)
//! ```
//!
//! Two rules make the last two work:
//! - **one malloc arena** for the decoding commands ([`one_malloc_arena`]): glibc gives each
//!   new thread its own arena, and `malloc_trim` cannot shrink the top of a thread's arena, so
//!   the tiles rayon's threads freed after a prefill (≈ 1.6 MB on SmolLM2) stayed resident.
//!   The threads allocate a few buffers per product task, so they do not contend for it.
//! - **code pages are file pages**: the executable's and its libraries' text and read-only
//!   data are clean copies of the files, so `MADV_DONTNEED` only drops them from this
//!   process's page tables (the page cache keeps them); the pages a decode step runs come
//!   back on first use as minor faults, read around in 64 KiB (the kernel's fault-around).
//!   Only mappings with no anonymous page are dropped: a read-only page that was written
//!   before it was protected (relocations, RELRO) is anonymous, and dropping it would lose it.

// ANCHOR: one_arena
/// Use one malloc arena for every thread (glibc's `M_ARENA_MAX = 1`), so that
/// `malloc_trim` after a prefill can return everything freed (see the module docs). Call
/// before any thread is started; elsewhere than glibc nothing happens.
pub fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX applies to arenas created
    // from now on, and no allocation is invalidated.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
// ANCHOR_END: one_arena

/// Whether sessions drop the code pages after a prefill: a choice for the whole process, made
/// by the commands that decode one conversation (`generate`, `chat`, `bench`: see `main`), like
/// [`one_malloc_arena`]. A server (many requests, each with a prefill), the trainer and library
/// users keep their pages: for them the faults back would be a cost per request, not a saving.
static CODE_AFTER_PREFILL: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// From now on, every session of this process drops the code pages after its prefill.
pub fn release_code_after_prefill() {
    CODE_AFTER_PREFILL.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Called after each prefill (`Session::release_prefill_rows`): [`release_code_pages`] if
/// the process chose it.
pub(crate) fn after_prefill() {
    if CODE_AFTER_PREFILL.load(std::sync::atomic::Ordering::Relaxed) {
        release_code_pages();
    }
}

// ANCHOR: code_pages
/// Drop the program's resident code pages (text and read-only data of the executable and of
/// its shared libraries) from this process's resident set; those a decode step runs fault
/// back in from the page cache. Which mappings are clean is read from `/proc/self/smaps` once
/// (≈ 2 ms: the kernel walks every page table); each call then reads `/proc/self/maps`
/// (≈ 0.04 ms) and drops only those of them still mapped as they were. Linux only; a
/// failure changes nothing.
pub fn release_code_pages() {
    #[cfg(target_os = "linux")]
    {
        static CLEAN: std::sync::OnceLock<Vec<Mapping>> = std::sync::OnceLock::new();
        let clean = CLEAN.get_or_init(|| {
            std::fs::read_to_string("/proc/self/smaps")
                .map(|smaps| clean_code_mappings(&smaps))
                .unwrap_or_default()
        });
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return;
        };
        let now = mappings(&maps);
        for m in clean.iter().filter(|m| now.iter().any(|n| n.same(m))) {
            let (start, end) = m.range;
            // SAFETY: [start, end) is a whole private, read-only mapping of a program file
            // that had no anonymous page (`clean_code_mappings`) and is still mapped the same
            // way: every page is a clean copy of the file (read-only pages cannot have been
            // written since), so MADV_DONTNEED only unmaps it and the next access reads the
            // same bytes from the file again. No Rust reference is invalidated.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// One mapping of `/proc/self/maps` or `smaps`: `start-end perms offset dev inode [path]`,
/// and smaps' `Anonymous:` size if given.
#[derive(Debug, PartialEq)]
struct Mapping {
    range: (usize, usize),
    perms: String,
    path: String,
    anonymous: Option<String>,
}

impl Mapping {
    fn same(&self, other: &Mapping) -> bool {
        (self.range, &self.perms, &self.path) == (other.range, &other.perms, &other.path)
    }
}

/// Every mapping of a maps or smaps text, in order.
fn mappings(text: &str) -> Vec<Mapping> {
    let mut maps: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        if let Some(kb) = line.strip_prefix("Anonymous:") {
            if let Some(m) = maps.last_mut() {
                m.anonymous = Some(kb.trim().to_string());
            }
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let range = f
            .first()
            .and_then(|r| r.split_once('-'))
            .and_then(|(a, b)| {
                Some((
                    usize::from_str_radix(a, 16).ok()?,
                    usize::from_str_radix(b, 16).ok()?,
                ))
            });
        if let (Some(range), Some(perms)) = (range, f.get(1)) {
            maps.push(Mapping {
                range,
                perms: perms.to_string(),
                path: f.get(5).copied().unwrap_or("").to_string(),
                anonymous: None,
            });
        }
    }
    maps
}

/// The mappings of an smaps text that are safe to drop: read-only (`r-xp` or `r--p`) private
/// mappings of a file that has an executable mapping (the program and its libraries, not a
/// model or data file), with `Anonymous: 0 kB`.
fn clean_code_mappings(smaps: &str) -> Vec<Mapping> {
    let maps = mappings(smaps);
    let programs: Vec<String> = maps
        .iter()
        .filter(|m| m.perms == "r-xp" && m.path.starts_with('/'))
        .map(|m| m.path.clone())
        .collect();
    maps.into_iter()
        .filter(|m| matches!(m.perms.as_str(), "r-xp" | "r--p") && programs.contains(&m.path))
        .filter(|m| m.anonymous.as_deref() == Some("0 kB"))
        .collect()
}
// ANCHOR_END: code_pages

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_read_only_mappings_of_program_files_are_dropped() {
        let smaps = "\
55d0c0a00000-55d0c0a21000 r--p 00000000 fe:00 123 /usr/bin/glassbox
Rss:                 100 kB
Anonymous:             0 kB
55d0c0a21000-55d0c0b00000 r-xp 00021000 fe:00 123 /usr/bin/glassbox
Anonymous:             0 kB
55d0c0b00000-55d0c0b10000 r--p 00100000 fe:00 123 /usr/bin/glassbox
Anonymous:            64 kB
55d0c0b10000-55d0c0b11000 rw-p 00110000 fe:00 123 /usr/bin/glassbox
Anonymous:             4 kB
7f0000000000-7f0005000000 r--s 00000000 fe:00 456 /data/model.gguf
Anonymous:             0 kB
7f0006000000-7f0006001000 r--p 00000000 fe:00 789 /data/tokenizer.json
Anonymous:             0 kB
7f1000000000-7f1000100000 rw-p 00000000 00:00 0
Anonymous:             4 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]
Anonymous:             0 kB
";
        let got: Vec<_> = clean_code_mappings(smaps).iter().map(|m| m.range).collect();
        assert_eq!(
            got,
            vec![
                (0x55d0c0a00000, 0x55d0c0a21000),
                (0x55d0c0a21000, 0x55d0c0b00000)
            ]
        );
        assert!(clean_code_mappings("").is_empty());
        // a maps text (no `Anonymous:` lines) proves nothing clean
        let maps: String = smaps
            .lines()
            .filter(|l| !l.starts_with("Rss:") && !l.starts_with("Anonymous:"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(clean_code_mappings(&maps).is_empty());
        // the same mapping, read again from maps, is recognised; another range is not
        let now = mappings("55d0c0a00000-55d0c0a21000 r--p 00000000 fe:00 123 /usr/bin/glassbox");
        assert!(now[0].same(&clean_code_mappings(smaps)[0]));
        assert!(!now[0].same(&clean_code_mappings(smaps)[1]));
    }

    /// Resident kB of the clean code mappings of this process now.
    #[cfg(target_os = "linux")]
    fn clean_code_rss_kb() -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
        let clean = clean_code_mappings(&smaps);
        let mut kb = 0;
        let mut counting = false;
        for line in smaps.lines() {
            if let Some(v) = line.strip_prefix("Rss:") {
                if counting {
                    kb += v
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0);
                }
            } else if let Some(m) = mappings(line).first() {
                counting = clean.iter().any(|c| c.same(m));
            }
        }
        kb
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn releasing_code_pages_drops_them_and_the_program_runs_on() {
        let before = clean_code_rss_kb();
        release_code_pages();
        let after = clean_code_rss_kb(); // reading smaps faults a few pages back in
        assert!(
            after < before,
            "clean code pages: {before} kB before, {after} kB after"
        );
        // the code that runs next (this test's own, the formatter's) faults back in
        release_code_pages();
        assert_eq!(format!("{:.3}", std::f64::consts::PI), "3.142");
    }
}
