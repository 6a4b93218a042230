//! BPE training time: glassbox's fast trainer against the Hugging Face `tokenizers` crate's
//! `BpeTrainer`, same corpus (the Brown corpus, ~6 MB), same vocab size, same pre-tokenizer
//! (GPT-2 byte-level), same rayon thread pool (both use the global pool; set
//! `RAYON_NUM_THREADS` to change it for both).
//!
//! `cargo bench --features oracles --bench train` (one training run takes seconds, so 10 samples each).
//!
//! Differences worth knowing when reading the ratio: `tokenizers` reads the file line by line
//! and pre-tokenizes each line on its own (so its pre-tokens never span a newline; ours follow
//! the pattern across lines), and keeps a `String` per symbol; both learn exactly
//! `vocab - 256` merges here (no specials, `min_frequency` 0).

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use glassbox::tokenizer::train::train_files;
use glassbox::tokenizer::train_naive::TrainConfig;
use glassbox::tokenizer::Pretokenizer;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{
    DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper, TokenizerBuilder,
    TokenizerImpl,
};

type HfTokenizer = TokenizerImpl<
    BPE,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

fn ours(corpus: &Path, vocab: usize) -> usize {
    let cfg = TrainConfig {
        vocab_size: vocab,
        pattern: Pretokenizer::Gpt2,
        special_tokens: vec![],
        show_progress: false,
    };
    let tok = train_files(&[corpus.to_path_buf()], &cfg).expect("glassbox trains");
    tok.vocab_size()
}

fn hugging_face(corpus: &Path, vocab: usize) -> usize {
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab)
        .min_frequency(0)
        .show_progress(false)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    let mut tok: HfTokenizer = TokenizerBuilder::new()
        .with_model(BPE::default())
        .with_pre_tokenizer(Some(PreTokenizerWrapper::ByteLevel(ByteLevel::default())))
        .build()
        .expect("tokenizers builds");
    let file = corpus.to_string_lossy().into_owned();
    tok.train_from_files(&mut trainer, vec![file])
        .expect("tokenizers trains");
    tok.get_vocab_size(false)
}

fn bench_train(c: &mut Criterion) {
    let corpus = match glassbox::data::brown::brown_corpus() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipping the training benchmark: no Brown corpus ({e})");
            return;
        }
    };
    let mut g = c.benchmark_group("train_bpe_brown");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.warm_up_time(Duration::from_secs(1));
    for vocab in [8192usize, 32768] {
        g.bench_with_input(BenchmarkId::new("glassbox", vocab), &vocab, |b, &v| {
            b.iter(|| ours(&corpus, v))
        });
        g.bench_with_input(BenchmarkId::new("tokenizers", vocab), &vocab, |b, &v| {
            b.iter(|| hugging_face(&corpus, v))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_train);
criterion_main!(benches);
