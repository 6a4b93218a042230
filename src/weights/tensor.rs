//! # Stage 3 · one weight matrix, as stored
//!
//! A `WeightMatrix` is a `[rows, cols]` matrix (`[out_features, in_features]`) whose bytes stay
//! in their stored type: memory-mapped from the model file, or owned when we had to make them
//! (a permuted copy at load time, a tiny test model). Its two products are the model's hot loops:
//!
//! ```text
//! decode   matvec:  x: [cols]        → out: [rows]         one dot_row per weight row (GEMV)
//! prefill  matmul:  x: [seq, cols]   → out: [seq, rows]    out = x · Wᵀ                (GEMM)
//! ```
//!
//! Decode streams every weight byte once per token, so it reads the compact stored form
//! directly (`quant::gemv::dot_rows`, many rows per call; the decode products are in
//! `weights/matvec.rs`). Prefill reuses each weight row `seq` times, so it pays to decode
//! a tile of rows once into an f32 scratch buffer (small enough for the L2 cache; `weights/tile_decode.rs`)
//! and run the f32 GEMM kernel of `matmul/gemm.rs` against all `seq` rows: GEMM speed, not
//! `seq` × GEMV. Aligned f32 weights skip the tile: the GEMM reads them in place.

use std::sync::Arc;

use rayon::prelude::*;

use super::tile_decode;
use crate::matmul;
use crate::quant::{self, DType};
use crate::{Error, Result};

/// Where a matrix's bytes live.
pub enum Storage {
    /// `len` bytes at `offset` in a memory-mapped model file (never copied).
    Mapped {
        map: Arc<memmap2::Mmap>,
        offset: usize,
        len: usize,
    },
    /// Bytes we own (a converted or permuted copy, a test matrix).
    Owned(Vec<u8>),
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Mapped { offset, len, .. } => {
                write!(f, "Mapped {{ offset: {offset}, len: {len} }}")
            }
            Storage::Owned(v) => write!(f, "Owned({} bytes)", v.len()),
        }
    }
}

/// One weight matrix `[rows, cols]` in its stored type, rows contiguous.
#[derive(Debug)]
pub struct WeightMatrix {
    pub name: String,
    pub dtype: DType,
    pub rows: usize,
    pub cols: usize,
    pub storage: Storage,
}

/// Bytes of dequantized weights per prefill tile: fits the L2 cache with room for `x`.
const TILE_BYTES: usize = 192 * 1024;
/// At most this many weight rows per prefill tile (30 groups of the AVX-512 tile's 8 rows, 40 of
/// the f32x8 tile's 6: a multiple of both `matmul::WR`s).
const MAX_TILE_ROWS: usize = 240;
/// Up to this many tokens, a stored-type (not f32) product is `seq` decode GEMVs instead of the
/// tiled GEMM: the GEMM decodes the whole matrix to f32 first (for SmolLM2 ≈ 60 ms on one
/// quiet core, whatever `seq`), a GEMV reads the stored bytes once per token (≈ 5 ms). A chat
/// turn's first token or a 5-token prompt pays ~25 ms instead of ~65 (`glassbox bench`'s
/// "first token" line).
pub const GEMV_MAX_SEQ: usize = 8;

impl WeightMatrix {
    /// A matrix over stored bytes, checked: `cols` must be whole blocks of `dtype` and the
    /// storage must hold exactly `rows` rows (else `Error::Shape` naming the tensor).
    pub fn new(
        name: impl Into<String>,
        dtype: DType,
        rows: usize,
        cols: usize,
        storage: Storage,
    ) -> Result<Self> {
        let name = name.into();
        let Some(row_bytes) = dtype.row_bytes(cols) else {
            return Err(Error::Unsupported(format!(
                "tensor `{name}`: {cols} columns is not a whole number of {} blocks of {}",
                dtype.name(),
                dtype.block_size()
            )));
        };
        let len = match &storage {
            Storage::Mapped { map, offset, len } => {
                if offset.checked_add(*len).is_none_or(|end| end > map.len()) {
                    return Err(Error::format(
                        "",
                        format!(
                            "tensor `{name}`: bytes {offset}..{offset}+{len} lie past the end of the file ({} bytes)",
                            map.len()
                        ),
                    ));
                }
                *len
            }
            Storage::Owned(v) => v.len(),
        };
        if len != rows * row_bytes {
            return Err(Error::Shape {
                file: Default::default(),
                name,
                expected: vec![rows, cols],
                found: vec![len / row_bytes.max(1), cols],
            });
        }
        Ok(WeightMatrix {
            name,
            dtype,
            rows,
            cols,
            storage,
        })
    }

    /// All stored bytes, row after row.
    pub fn bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Mapped { map, offset, len } => &map[*offset..*offset + *len],
            Storage::Owned(v) => v,
        }
    }

    /// Bytes of one row in the stored type.
    pub fn row_bytes(&self) -> usize {
        self.dtype
            .row_bytes(self.cols)
            .expect("cols checked at construction")
    }

    /// The stored bytes of row `r`. Panics if `r >= rows`.
    pub fn row(&self, r: usize) -> &[u8] {
        assert!(
            r < self.rows,
            "tensor `{}`: row {r} of {}",
            self.name,
            self.rows
        );
        let rb = self.row_bytes();
        &self.bytes()[r * rb..(r + 1) * rb]
    }

    /// An f32 matrix that owns its data. Panics if `data.len() != rows * cols`.
    pub fn from_f32(name: impl Into<String>, rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "from_f32: data is not [rows, cols]"
        );
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        WeightMatrix {
            name: name.into(),
            dtype: DType::F32,
            rows,
            cols,
            storage: Storage::Owned(bytes),
        }
    }

    /// Quantize (or convert) f32 data `[rows, cols]` row by row into `dtype`.
    /// Panics if `data.len() != rows * cols` or `cols` is not a whole number of blocks.
    pub fn quantized_from_f32(
        name: impl Into<String>,
        dtype: DType,
        rows: usize,
        cols: usize,
        data: &[f32],
    ) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "quantized_from_f32: data is not [rows, cols]"
        );
        assert!(
            dtype.row_bytes(cols).is_some(),
            "{cols} columns are not whole {dtype} blocks"
        );
        let mut bytes = Vec::with_capacity(rows * dtype.row_bytes(cols).unwrap_or(0));
        for r in data.chunks_exact(cols.max(1)).take(rows) {
            bytes.extend(quant::quantize_row(dtype, r));
        }
        WeightMatrix {
            name: name.into(),
            dtype,
            rows,
            cols,
            storage: Storage::Owned(bytes),
        }
    }

    /// The whole matrix as `&[f32]` when it is stored as aligned f32 (no copy).
    pub fn as_f32(&self) -> Option<&[f32]> {
        (self.dtype == DType::F32)
            .then(|| quant::as_f32_slice(self.bytes()))
            .flatten()
    }

    /// Row `r` decoded to f32 (the embedding lookup). `out: [cols]`.
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        quant::dequantize_row(self.dtype, self.row(r), out);
    }

    // ANCHOR: matmul
    /// out = x · Wᵀ (prefill). x: [seq, cols], out: [seq, rows]. For stored types other than
    /// aligned f32, each thread takes an equal panel of weight rows and decodes it a tile at a
    /// time into an f32 scratch buffer (`TILE_BYTES`, L2-sized), running the f32 GEMM kernel on
    /// each tile against all `seq` rows.
    pub fn matmul(&self, x: &[f32], seq: usize, out: &mut [f32]) {
        let (rows, cols) = (self.rows, self.cols);
        assert_eq!(
            x.len(),
            seq * cols,
            "tensor `{}`: x is not [{seq}, {cols}]",
            self.name
        );
        assert_eq!(
            out.len(),
            seq * rows,
            "tensor `{}`: out is not [{seq}, {rows}]",
            self.name
        );
        if seq == 0 {
            return;
        }
        if seq == 1 {
            return self.matvec(x, out);
        }
        if self.uses_tiles(seq) {
            return self.matmul_packed(&matmul::PackedX::new_parallel(x, seq, cols), out);
        }
        if let Some(w) = self.as_f32() {
            return matmul::matmul(x, w, out, seq, cols, rows);
        }
        for (x_t, out_t) in x.chunks_exact(cols).zip(out.chunks_exact_mut(rows)) {
            self.matvec(x_t, out_t);
        }
    }

    /// Whether `matmul` of `seq` rows runs the tiled GEMM of [`WeightMatrix::matmul_packed`]:
    /// yes for a stored type other than aligned f32 (the GEMM reads f32 in place) and more than
    /// [`GEMV_MAX_SEQ`] rows. A shorter prompt takes the decode GEMV row by row (the same
    /// products as `seq` decode steps): decoding every weight into tiles would cost more than
    /// reading the stored rows once per token.
    pub fn uses_tiles(&self, seq: usize) -> bool {
        self.as_f32().is_none() && seq > GEMV_MAX_SEQ
    }

    /// The tiled GEMM of [`WeightMatrix::matmul`] for x already packed (`x: [seq, cols]`,
    /// `seq` > [`GEMV_MAX_SEQ`], any stored type; out: [seq, rows]). Products that read the
    /// same x (Q, K and V; gate and up: `matmul_many`) pack it once and share it.
    pub fn matmul_packed(&self, x: &matmul::PackedX, out: &mut [f32]) {
        let (rows, cols) = (self.rows, self.cols);
        let (seq, k) = x.shape();
        assert_eq!(
            k, cols,
            "tensor `{}`: packed x is [{seq}, {k}], not [{seq}, {cols}]",
            self.name
        );
        assert_eq!(
            out.len(),
            seq * rows,
            "tensor `{}`: out is not [{seq}, {rows}]",
            self.name
        );
        if seq == 0 {
            return;
        }
        // The rows of w are split as F32's GEMM splits them (`matmul::panel_width`): equal
        // panels, a multiple of the thread count of them, so two threads get 288 + 288 of 576
        // rows (one task per 80-row tile gave 320 + 256, and the slower thread set the pace).
        // Each task walks its panel a tile at a time: tile: [tile_rows, cols] of decoded
        // weights (`TILE_BYTES`, a whole number of the GEMM tile's WR rows: 8 with AVX-512,
        // else 6), decoded once (`tile_decode`: 16 lanes at a time for F16 and Q8_0), its
        // next tile's bytes prefetched, then multiplied by all `seq` rows of x into the panel's
        // column block of `out` (see `matmul::column_panels`).
        let wr = matmul::WR;
        let tile_rows = (TILE_BYTES / (4 * cols.max(1))).clamp(wr, MAX_TILE_ROWS) / wr * wr;
        let width = matmul::panel_width(rows, rayon::current_num_threads());
        let row_bytes = self.row_bytes();
        matmul::column_panels(out, rows, width)
            .into_par_iter()
            .enumerate()
            .for_each(|(p, mut panel)| {
                let (p0, p1) = (p * width, ((p + 1) * width).min(rows));
                let mut tile = vec![0.0f32; tile_rows.min(p1 - p0) * cols];
                for r0 in (p0..p1).step_by(tile_rows) {
                    let r1 = (r0 + tile_rows).min(p1);
                    let tile = &mut tile[..(r1 - r0) * cols];
                    for (r, dst) in (r0..r1).zip(tile.chunks_exact_mut(cols)) {
                        tile_decode::decode_row(self.dtype, self.row(r), dst);
                    }
                    // this task's next tile starts on its way from memory now, and arrives
                    // while this tile's GEMM runs
                    let r2 = (r1 + tile_rows).min(p1);
                    tile_decode::prefetch(&self.bytes()[r1 * row_bytes..r2 * row_bytes]);
                    let mut out_rows: Vec<&mut [f32]> = panel
                        .iter_mut()
                        .map(|row| &mut row[r0 - p0..r1 - p0])
                        .collect();
                    matmul::gemm_packed(x, tile, &mut out_rows);
                }
            });
    }
    // ANCHOR_END: matmul

    /// Tell the OS that this matrix's pages of the mapped file are not needed any more (after
    /// an owned copy, such as [`WeightMatrix::permute_rows`], replaced it): they leave the
    /// resident set instead of sitting there twice. Only whole pages inside the matrix are
    /// released; nothing happens to owned matrices or where `madvise` is not available.
    pub fn release_mapped_pages(&self) {
        if let Storage::Mapped { map, offset, len } = &self.storage {
            release_pages(map, *offset, *len);
        }
    }

    /// An owned copy whose row `r` is this matrix's row `perm(r)` (whole stored rows, so any
    /// dtype works). Used at load time to turn GGUF's Q/K row order into Hugging Face's.
    /// Panics if `perm` returns an index out of range.
    pub fn permute_rows(&self, perm: impl Fn(usize) -> usize) -> WeightMatrix {
        let mut bytes = Vec::with_capacity(self.bytes().len());
        for r in 0..self.rows {
            bytes.extend_from_slice(self.row(perm(r)));
        }
        WeightMatrix {
            name: self.name.clone(),
            dtype: self.dtype,
            rows: self.rows,
            cols: self.cols,
            storage: Storage::Owned(bytes),
        }
    }
}

/// Tell the OS that bytes `offset..offset + len` of a mapped file are not needed any more (a
/// matrix replaced by an owned copy, a GGUF's metadata once parsed): its pages leave the
/// resident set. Only whole pages inside the range are released; nothing happens where
/// `madvise` is not available.
pub fn release_pages(map: &memmap2::Mmap, offset: usize, len: usize) {
    #[cfg(unix)]
    {
        const PAGE: usize = 4096;
        let base = map.as_ptr() as usize;
        let start = (base + offset).next_multiple_of(PAGE) - base;
        let end = ((base + offset + len).min(base + map.len())) / PAGE * PAGE - base;
        if end > start {
            // SAFETY: MADV_DONTNEED on a read-only, file-backed shared mapping drops the
            // pages from memory; a later read would fault them back in from the file with
            // the same bytes, so no borrow of the map can observe a change. (An anonymous
            // map, `GgufFile::from_bytes`, would read back zeros: callers release only bytes
            // that nothing reads again.) The range lies inside the map (clamped above) and is
            // page-aligned inward. A failure only means the pages stay resident.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_errors_name_the_tensor() {
        let e = WeightMatrix::new(
            "blk.0.attn_q.weight",
            DType::F32,
            3,
            2,
            Storage::Owned(vec![0; 20]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("blk.0.attn_q.weight"), "{e}");
        let e = WeightMatrix::new("t", DType::Q4_1, 1, 33, Storage::Owned(vec![])).unwrap_err();
        assert!(e.to_string().contains("`t`"), "{e}");
    }

    /// The tiled prefill GEMM (x packed once and shared by `matmul_many`, each tile decoded
    /// while the next one's bytes are prefetched) against a naive product over the dequantized
    /// matrix, on shapes around the tile: 1 row, odd rows, rows one past a whole tile (the last
    /// tile is a single row and the prefetch runs off the end), seq just past `GEMV_MAX_SEQ`,
    /// panels of several tiles. Sharing the packing changes no arithmetic (`matmul_many` equals
    /// `matmul` bit for bit), nor does the number of threads.
    #[test]
    fn tiled_prefill_equals_naive_and_shared_packing_changes_nothing() {
        let wave = |n: usize, seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| (((i * 7919 + seed * 104729) % 997) as f32 / 498.5 - 1.0) * 0.5)
                .collect()
        };
        for dtype in [DType::F16, DType::Q8_0, DType::Q4_1] {
            // 576 × 128 at 2 threads: panels of 288 rows, each two tiles (240 + 48);
            // 1100 rows: more than one `PANEL` of rows
            for (rows, cols, seq) in [
                (1, 64, 9),
                (7, 96, 12),
                (241, 128, 9),
                (97, 800, 33),
                (576, 128, 9),
                (1100, 64, 10),
            ] {
                let ws: Vec<WeightMatrix> = (0..3)
                    .map(|m| {
                        let d = wave(rows * cols, m);
                        WeightMatrix::quantized_from_f32("w", dtype, rows, cols, &d)
                    })
                    .collect();
                let x = wave(seq * cols, 7);
                let mut alone = vec![vec![f32::NAN; seq * rows]; 3];
                for (w, out) in ws.iter().zip(&mut alone) {
                    w.matmul(&x, seq, out);
                    let mut wd = vec![0.0; rows * cols]; // dequantized, [rows, cols]
                    for (r, dst) in wd.chunks_exact_mut(cols).enumerate() {
                        w.dequantize_row(r, dst);
                    }
                    let mut want = vec![0.0; seq * rows];
                    matmul::matmul_naive(&x, &wd, &mut want, seq, cols, rows);
                    for (i, (g, e)) in out.iter().zip(&want).enumerate() {
                        // the same products summed in another order: |x| ≤ 0.5, |w| ≤ 0.5
                        assert!(
                            (g - e).abs() <= 1e-5 * cols as f32,
                            "{dtype} [{seq},{cols}]·[{rows},{cols}]ᵀ out[{}][{}]: {g} vs {e}",
                            i / rows,
                            i % rows
                        );
                    }
                }
                let (mut a, mut b, mut c) = (
                    vec![0.0; seq * rows],
                    vec![0.0; seq * rows],
                    vec![0.0; seq * rows],
                );
                WeightMatrix::matmul_many(
                    &x,
                    None,
                    seq,
                    [
                        (&ws[0], &mut a[..]),
                        (&ws[1], &mut b[..]),
                        (&ws[2], &mut c[..]),
                    ],
                );
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                // the thread count changes only which thread computes an output, not its sum
                for threads in [1, 3] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let mut got = vec![f32::NAN; seq * rows];
                    pool.install(|| ws[0].matmul(&x, seq, &mut got));
                    assert_eq!(
                        bits(&got),
                        bits(&alone[0]),
                        "{dtype} rows={rows} seq={seq} on {threads} threads"
                    );
                }
                for (m, got) in [a, b, c].iter().enumerate() {
                    assert_eq!(
                        bits(got),
                        bits(&alone[m]),
                        "{dtype} matrix {m} rows={rows} seq={seq}"
                    );
                }
            }
        }
    }

    #[test]
    fn permute_rows_moves_whole_rows() {
        let w = WeightMatrix::from_f32("w", 3, 2, vec![0., 1., 10., 11., 20., 21.]);
        let p = w.permute_rows(|r| 2 - r);
        let mut row = [0.0; 2];
        p.dequantize_row(0, &mut row);
        assert_eq!(row, [20., 21.]);
    }
}
