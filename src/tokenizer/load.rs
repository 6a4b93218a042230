//! Stage 1: opening a tokenizer from a path, whatever its format (told by its name or its
//! first bytes).

use std::path::Path;

use super::Tokenizer;
use crate::formats::gguf;
use crate::{Error, Result};

impl Tokenizer {
    /// Load a tokenizer from a path: a `.tiktoken`/`.tiktoken.gz` rank file (its encoding known
    /// by its name), a `tokenizer.json` (Hugging Face or trained by glassbox), a directory
    /// holding a `tokenizer.json`, or a `.gguf` model.
    pub fn load(spec: &Path) -> Result<Tokenizer> {
        if spec.is_dir() {
            let json = spec.join("tokenizer.json");
            if !json.is_file() {
                return Err(Error::format(spec, "a directory without tokenizer.json"));
            }
            return Tokenizer::from_tokenizer_json_file(&json);
        }
        let name = spec.to_string_lossy().to_ascii_lowercase();
        let mut head = [0u8; 4];
        let n = {
            use std::io::Read;
            let mut f = std::fs::File::open(spec).map_err(|e| Error::io(spec, e))?;
            f.read(&mut head).map_err(|e| Error::io(spec, e))?
        };
        if gguf::looks_like_gguf(spec) {
            return Tokenizer::from_gguf(&gguf::GgufFile::open(spec)?);
        }
        if name.ends_with(".json") || head[..n].first() == Some(&b'{') {
            return Tokenizer::from_tokenizer_json_file(spec);
        }
        Tokenizer::from_tiktoken_file(spec)
    }
}
