//! `glassbox`: the command-line front end. Each command lives in its own file in `src/cli/`.

use clap::{Parser, Subcommand};
use glassbox::cli;

/// glassbox opens the black box of a language model: every stage from prompt to text is
/// written by hand, and the same code loads real Llama weights and generates text on a CPU.
///
/// Start with `glassbox generate --prompt "The capital of France is"` (the default model,
/// SmolLM2-135M-Instruct, is fetched on first use), then look inside with `inspect`,
/// `tokenize` and `logits`.
#[derive(Parser)]
#[command(name = "glassbox", version, about, long_about)]
struct Cli {
    /// Worker threads for the matrix kernels (default: all cores; RAYON_NUM_THREADS also works).
    #[arg(long, short = 't', global = true, value_name = "N")]
    threads: Option<usize>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Split text into token ids with a real tokenizer (tiktoken, tokenizer.json, GGUF, or one you trained).
    Tokenize(cli::tokenize::Args),
    /// Train a byte-level BPE tokenizer on text files and save it as a tokenizer.json.
    TrainBpe(cli::train_bpe::Args),
    /// Fetch the default model (SmolLM2-135M-Instruct, GGUF Q4_1) and check its SHA-256.
    Pull(cli::pull::Args),
    /// Show a model's architecture, parameter counts, stored types, KV-cache sizes and tokenizer.
    Inspect(cli::inspect::Args),
    /// Convert a GGUF model to a Hugging Face directory (config.json, model.safetensors, tokenizer).
    Convert(cli::convert::Args),
    /// Print the next-token distribution after a prompt.
    Logits(cli::logits::Args),
    /// Generate text from a prompt, streamed as it is made.
    Generate(cli::generate::Args),
    /// Chat with the model in the terminal.
    Chat(cli::chat::Args),
    /// Measure prefill and decode speed (tokens/s), like llama-bench.
    Bench(cli::bench::Args),
    /// Serve the model over an OpenAI-compatible HTTP API, with a glass-box chat page.
    ///
    /// Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health,
    /// POST /tokenize, POST /detokenize, POST /v1/embeddings (sentence vectors from the
    /// --embedder encoder, loaded by the first such request), and a chat page at GET / that colours every token by
    /// its probability. Any OpenAI client works by changing its base URL, e.g. in Python
    /// `OpenAI(base_url="http://127.0.0.1:8080/v1", api_key="unused")`. Requests are served one
    /// at a time in arrival order; the KV-cache of the previous request is reused for the
    /// longest common prefix of tokens (turn 5 of a chat prefills only the new turn).
    ///
    /// Limits on a request: a body of at most 2 MiB, JSON nested at most 32 levels deep, at
    /// most 1024 messages, 4 stop strings, 1024 logit_bias entries, top_logprobs 0-20, n = 1.
    /// Ctrl-C or SIGTERM stops: streams in flight end with an error event.
    Serve(cli::serve::Args),
    /// Quantize a model into a GGUF file (Q8_0 … Q2_K, llama.cpp's per-tensor mixes).
    Quantize(cli::quantize::Args),
    /// Perplexity over a text file, and KL divergence / top-1 agreement against a base model.
    Perplexity(cli::perplexity::Args),
    /// Sentence vectors from the BERT encoder (all-MiniLM-L6-v2), and their similarities.
    Embed(cli::embed::Args),
    /// The cosine similarity of two texts' sentence vectors.
    Similarity(cli::similarity::Args),
    /// Retrieval-augmented generation: index your files, then ask questions answered from them.
    Rag(cli::rag::Args),
    /// The logit lens: the model's next-token guess after every layer, and when a target token wins.
    Lens(cli::lens::Args),
    /// Draw the attention weights of any layer and head for your prompt (SVG, or --json).
    Attention(cli::attention::Args),
    /// Train a tiny Llama from scratch on text files (backward pass by hand, AdamW).
    ///
    /// Checkpoints are Hugging Face directories (config.json, model.safetensors,
    /// tokenizer.json) that `glassbox generate --model OUT` and `transformers` load.
    /// Example (the book's demo, ~20 minutes on 2 cores):
    ///   glassbox train-bpe --vocab-size 4096 --special '<|endoftext|>' --out tok.json brown.txt
    ///   glassbox train --data brown.txt --tokenizer tok.json --out brown-llama
    Train(cli::train::Args),
}

fn main() {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Generate(_) | Command::Chat(_) | Command::Bench(_) | Command::Train(_)
    ) {
        // before any thread starts: one malloc arena, so what a prefill frees can go back and
        // what a training step frees is reused by the next (model::resident,
        // train::run::keep_freed_memory)
        glassbox::model::resident::one_malloc_arena();
    }
    if matches!(
        cli.command,
        Command::Generate(_) | Command::Chat(_) | Command::Bench(_)
    ) {
        // the code a prefill ran can go back (model::resident: one conversation decodes after
        // one prefill here)
        glassbox::model::resident::release_code_after_prefill();
    }
    if !glassbox::matmul::has_fma() {
        // Everything still works, several times slower: say why, once, on stderr.
        eprintln!("warning: {}", glassbox::matmul::simd_report());
    }
    if let Err(e) = cli::common::set_threads(cli.threads) {
        eprintln!("error: {e}");
        std::process::exit(2); // a usage error, as clap's own
    }
    let result = match cli.command {
        Command::Tokenize(a) => cli::tokenize::run(a),
        Command::TrainBpe(a) => cli::train_bpe::run(a),
        Command::Pull(a) => cli::pull::run(a),
        Command::Inspect(a) => cli::inspect::run(a),
        Command::Convert(a) => cli::convert::run(a),
        Command::Logits(a) => cli::logits::run(a),
        Command::Generate(a) => cli::generate::run(a),
        Command::Chat(a) => cli::chat::run(a),
        Command::Bench(a) => cli::bench::run(a),
        Command::Serve(a) => cli::serve::run(a),
        Command::Quantize(a) => cli::quantize::run(a),
        Command::Perplexity(a) => cli::perplexity::run(a),
        Command::Embed(a) => cli::embed::run(a),
        Command::Similarity(a) => cli::similarity::run(a),
        Command::Rag(a) => cli::rag::run(a),
        Command::Lens(a) => cli::lens::run(a),
        Command::Attention(a) => cli::attention::run(a),
        Command::Train(a) => cli::train::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// `glassbox inspect | head -c1`: when the reader of stdout goes away, end quietly, as `cat`
/// and `grep` do. Rust ignores SIGPIPE, which turns every later `println!` into a panic
/// ("failed printing to stdout: Broken pipe"); restoring the default action makes the first
/// write to a closed pipe end the process silently, whatever command is running. Sockets are
/// unaffected: the standard library sends with `MSG_NOSIGNAL`, so a server still sees EPIPE.
fn quiet_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
