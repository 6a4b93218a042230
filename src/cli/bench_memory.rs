//! `glassbox bench`: what is resident in memory after decoding, against what has to be.
//!
//! A decode step reads every weight and the K/V rows of every cached position, so those must
//! be in memory; everything else the process holds is overhead. The bound of issue 10:
//!
//! ```text
//! need     = weights (as stored) + K/V rows of the positions used (f32)
//! resident = VmRSS ≤ 1.10 × need
//! ```
//!
//! `/proc/self/smaps` says where the resident pages are, one mapping at a time, which splits
//! VmRSS into four parts that can each be checked against the model:
//!
//! ```text
//! model file   pages of the mapped model file (the weights read in place)
//! owned        weight copies glassbox made at load (a GGUF's Q/K rows in Hugging Face order)
//! other heap   anonymous pages minus the owned copies: KV-cache, tokenizer, scratch, allocator slack
//! program      glassbox's code and its shared libraries (after a prefill only the pages a
//!              decode step ran since: `model::resident::release_code_pages`)
//! ```
//!
//! The other heap is split further by what the model can say about itself: the K/V rows
//! used, and the tokenizer's tables (`Tokenizer::heap_bytes`); the rest is scratch buffers,
//! thread stacks and the allocator's own pages.

use std::path::Path;

use serde_json::{json, Value};

use crate::model::Llama;
use crate::weights::tensor::Storage;

/// Resident bytes after decoding, split by where they are.
pub struct Resident {
    /// VmRSS: every resident page.
    pub total: u64,
    /// Pages of the mapped model file(s).
    pub model_file: u64,
    /// Anonymous pages (heap, thread stacks, allocator arenas).
    pub anon: u64,
    /// Pages of other files: the program's code and its libraries.
    pub program: u64,
    /// The weights, as stored, and the part of them glassbox holds as owned copies.
    pub weights: u64,
    pub owned: u64,
    /// K/V rows of the positions used.
    pub kv_used: u64,
    /// The tokenizer's heap (its token bytes and tables).
    pub tokenizer: u64,
}

impl Resident {
    /// Read `/proc/self/smaps` now (`None` where there is none: not Linux). `kv_used`: the
    /// bytes of the K/V rows of the positions the run used.
    pub fn measure(model: &Llama, kv_used: usize) -> Option<Resident> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let model_path = model.path.canonicalize().ok()?;
        let (model_file, anon, program) = split_smaps(&smaps, &model_path)?;
        let weights = model.weights.by_name().into_values();
        let owned = weights
            .filter(|w| matches!(w.storage, Storage::Owned(_)))
            .map(|w| w.bytes().len() as u64)
            .sum();
        Some(Resident {
            total: model_file + anon + program,
            model_file,
            anon,
            program,
            weights: model.weights.bytes() as u64,
            owned,
            kv_used: kv_used as u64,
            tokenizer: model.tokenizer.heap_bytes() as u64,
        })
    }

    /// What must be resident: the weights and the used K/V rows.
    pub fn need(&self) -> u64 {
        self.weights + self.kv_used
    }

    /// Resident ÷ need (the bound is 1.10).
    pub fn ratio(&self) -> f64 {
        self.total as f64 / self.need() as f64
    }

    pub fn to_json(&self) -> Value {
        json!({
            "rss_bytes": self.total, "weights_bytes": self.weights, "kv_used_bytes": self.kv_used,
            "rss_ratio": self.ratio(), "rss_model_file_bytes": self.model_file,
            "rss_anon_bytes": self.anon, "rss_program_bytes": self.program,
            "weights_owned_bytes": self.owned, "tokenizer_heap_bytes": self.tokenizer,
        })
    }

    pub fn print(&self, ctx: usize) {
        let mb = |b: u64| b as f64 / 1e6;
        println!(
            "resident memory after decoding: {:.1} MB = {:.2} × (weights {:.1} MB + K/V of {ctx} positions {:.1} MB)",
            mb(self.total),
            self.ratio(),
            mb(self.weights),
            mb(self.kv_used)
        );
        let heap = self.anon.saturating_sub(self.owned);
        println!(
            "  = model file pages {:.1} MB + owned weight copies {:.1} MB + other heap {:.1} MB \
             + program code {:.1} MB",
            mb(self.model_file),
            mb(self.owned),
            mb(heap),
            mb(self.program)
        );
        println!(
            "  other heap = K/V {:.1} MB + tokenizer {:.1} MB + the rest {:.1} MB (scratch, thread stacks, allocator)",
            mb(self.kv_used),
            mb(self.tokenizer),
            mb(heap.saturating_sub(self.kv_used + self.tokenizer))
        );
    }
}

/// Resident bytes of an smaps text as (pages of files under `model_path`, anonymous pages,
/// pages of other files); `None` if an `Rss:` line does not parse.
fn split_smaps(smaps: &str, model_path: &Path) -> Option<(u64, u64, u64)> {
    let (mut model_file, mut anon, mut program) = (0, 0, 0);
    let (mut in_model, mut is_anon) = (false, false);
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Rss:") {
            let bytes = kb
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()?
                * 1024;
            match (in_model, is_anon) {
                (true, _) => model_file += bytes,
                (_, true) => anon += bytes,
                _ => program += bytes,
            }
        } else if is_mapping_header(line) {
            // `start-end perms offset dev inode [path]`: no path, or `[heap]`, `[stack]`, is
            // anonymous memory
            let path = line.split_whitespace().nth(5).unwrap_or("");
            is_anon = path.is_empty() || path.starts_with('[');
            in_model = !is_anon && Path::new(path).starts_with(model_path);
        }
    }
    Some((model_file, anon, program))
}

/// `55d0c0a00000-55d0c0a21000 r--p …`: the first line of a mapping in smaps.
fn is_mapping_header(line: &str) -> bool {
    line.split_whitespace().next().is_some_and(|range| {
        range
            .split_once('-')
            .is_some_and(|(a, b)| is_hex(a) && is_hex(b))
    })
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_splits_into_model_file_anonymous_and_program() {
        let smaps = "\
55d0c0a00000-55d0c0a21000 r-xp 00000000 fe:00 123 /usr/bin/glassbox
Size:                132 kB
Rss:                 100 kB
7f0000000000-7f0005000000 r--s 00000000 fe:00 456 /data/model.gguf
Size:              81920 kB
Rss:               80000 kB
VmFlags: rd sh mr mw me ms sd
55d0c1000000-55d0c2000000 rw-p 00000000 00:00 0                          [heap]
Rss:                2048 kB
7f1000000000-7f1000100000 rw-p 00000000 00:00 0
Rss:                   4 kB
";
        let got = split_smaps(smaps, Path::new("/data/model.gguf"));
        assert_eq!(got, Some((80000 * 1024, 2052 * 1024, 100 * 1024)));
        // a directory model (safetensors shards) counts every file under it
        let got = split_smaps(smaps, Path::new("/data"));
        assert_eq!(got, Some((80000 * 1024, 2052 * 1024, 100 * 1024)));
        assert_eq!(split_smaps("Rss: lots kB", Path::new("/x")), None);
    }
}
