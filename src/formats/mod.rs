//! File formats, below every stage: the containers that models, tokenizers and reference
//! dumps travel in, read (and written) by hand, with no knowledge of what a model is.
//!
//! ```text
//! gguf         llama.cpp's single file: header, typed metadata, tensor infos, aligned data
//! safetensors  Hugging Face's weight files (one file or sharded), memory-mapped
//! npy          NumPy float32 arrays (reference logits and hidden states)
//! gguf_write   a GGUF v3 file from metadata and tensors (the quantizer writes through it)
//! file         read a JSON file; write any file atomically (temporary name, fsync, rename)
//! ```
//!
//! The tokenizer reads its vocabulary from a GGUF's metadata through here, and `weights/` turns
//! a tensor's bytes into a weight matrix; neither has to go through the other.

pub mod gguf;

pub mod safetensors;

pub mod npy;

pub mod file;

pub mod gguf_write;
