//! `glassbox convert`: a GGUF model as a Hugging Face directory.

use std::path::PathBuf;

use crate::weights::convert::{convert_gguf, OutDType};
use crate::Result;

/// Convert a GGUF model to a Hugging Face directory that `transformers` loads.
///
/// Writes config.json (LlamaForCausalLM), model.safetensors (every weight dequantized to f32,
/// or rounded to bf16), tokenizer.json (the GGUF's byte-level BPE vocabulary and merges),
/// tokenizer_config.json (special tokens, chat template) and generation_config.json.
///
/// GGUF llama files store the rows of Q and K in the interleaved RoPE order; the converter
/// writes them back in Hugging Face's half-split order, so the directory is an ordinary
/// checkpoint. Quantization is not undone: a Q4_1 weight becomes the f32 value it stands for.
///
/// Examples:
///   glassbox convert ~/.cache/glassbox/SmolLM2-135M-Instruct.Q4_1.gguf --out smollm2-hf
///   glassbox convert model.gguf --out model-hf --dtype bf16
///   python -c "import transformers as t; t.AutoModelForCausalLM.from_pretrained('smollm2-hf')"
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The .gguf model to convert.
    pub model: PathBuf,
    /// Output directory: created, or replaced as a whole once the new model is complete (it
    /// may hold only the five files convert writes; a failure leaves it as it was).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Element type of model.safetensors: f32 (exact) or bf16 (half the size, rounded).
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: OutDType,
}

pub fn run(args: Args) -> Result<()> {
    let t0 = std::time::Instant::now();
    let report = convert_gguf(&args.model, &args.out, args.dtype)?;
    for f in &report.files {
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        println!("{:>12} bytes  {}", size, f.display());
    }
    println!(
        "converted {} tensors to {:?} in {:.1} s",
        report.tensors,
        args.dtype,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
