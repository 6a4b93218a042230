//! glassbox's quantizer, K-quant loading and perplexity on real files, against llama.cpp and
//! transformers (fixtures: `scripts/make_llamacpp_quants.py` + `scripts/fixtures_quant_model.py`).
//!
//! * `glassbox quantize` on SmolLM2 writes, for Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M, Q2_K and
//!   Q2_K --pure, every tensor in the type llama.cpp's `llama-quantize` chose and with the same
//!   bytes (SHA-256 of each tensor's data). The files are made here, in a temporary directory,
//!   from the default model: they are therefore llama.cpp's files, tensor for tensor.
//! * Those Q8_0 / Q6_K / Q4_K_M files load in glassbox and give transformers' logits (computed
//!   on llama.cpp's own files) within 1e-2.
//! * Perplexity of the f32 model over held-out Brown text equals transformers' within 0.1%, per
//!   token within 2e-3 nats; KL / top-1 agreement of Q4_K_M against it equal transformers'.
//! * The community gemma-3-270m Q4_K_M file: every tensor's type is read, and its rows decode
//!   to gguf-py's values bit for bit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use glassbox::compare::{assert_close, max_abs_diff};
use glassbox::data;
use glassbox::formats::gguf::{ggml_type_name, GgufFile};
use glassbox::model::Llama;
use glassbox::perplexity::evaluate;
use glassbox::quant::mix::FileType;
use glassbox::quant::ScaleRule;
use glassbox::quantize::{quantize_model, QuantizeOptions};
use glassbox::weights::tensor::WeightMatrix;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// max |Δlogit| against transformers: the same reasoning as tests/model_smollm2.rs (two f32
/// computations of the same function in different orders differ by a few 1e-4).
const LOGIT_TOL: f32 = 1e-2;
/// Perplexity, relative (the bound).
const PPL_REL_TOL: f64 = 1e-3;
/// One token's NLL, nats: log-softmax of logits that agree within ~1e-3 (f32 in a different
/// order, 30 layers) moves by at most about twice that.
const NLL_TOL: f64 = 2e-3;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant_model")
}

fn fixture(name: &str) -> Value {
    let p = fixture_dir().join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The files this test binary quantized, made once, in a per-process directory under the
/// system temp dir (leftovers of an earlier, interrupted run are removed first). The four tests
/// that read them each hold a [`Use`]; the last one to finish removes the directory.
struct Made {
    dir: PathBuf,
}

const MADE: [(&str, &str, bool); 7] = [
    ("Q8_0", "q8_0", false),
    ("Q6_K", "q6_k", false),
    ("Q5_K_M", "q5_k_m", false),
    ("Q4_K_M", "q4_k_m", false),
    ("Q3_K_M", "q3_k_m", false),
    ("Q2_K", "q2_k", false),
    ("Q2_K-pure", "q2_k", true),
];

fn made() -> &'static Made {
    static M: OnceLock<Made> = OnceLock::new();
    M.get_or_init(|| {
        let base = std::env::temp_dir().join("glassbox-quant-model-test");
        // leftovers of earlier runs: the directories of processes that are gone (another
        // checkout testing at the same time keeps its own, named by its process id)
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let alive = e
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
                .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if !alive {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = base.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let src = data::default_model().expect("the default model (glassbox pull)");
        for (name, ty, pure) in MADE {
            let t0 = std::time::Instant::now();
            let opts = QuantizeOptions {
                file_type: FileType::parse(ty).unwrap(),
                pure,
                rule: ScaleRule::Search,
                progress: false,
            };
            quantize_model(&src, &dir.join(format!("{name}.gguf")), &opts).unwrap();
            println!("quantized {name} in {:.1} s", t0.elapsed().as_secs_f64());
        }
        Made { dir }
    })
}

impl Made {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.gguf"))
    }
}

/// Tests that read the made files.
const USERS: usize = 4;
static FINISHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Held by each test that reads the made files (also through a panic): the last one to drop
/// removes them (1 GB of GGUF files should not outlive the test run).
struct Use;

impl Drop for Use {
    fn drop(&mut self) {
        let done = FINISHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if done == USERS {
            let _ = std::fs::remove_dir_all(&made().dir);
        }
    }
}

fn sha16(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn quantized_files_equal_llamacpp_tensor_for_tensor() {
    let _use = Use;
    let want = fixture("llamacpp_tensors.json");
    let m = made();
    for (name, ..) in MADE {
        let g = GgufFile::open(&m.path(name)).unwrap();
        let want: BTreeMap<String, String> = want["files"][name]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let mut got = BTreeMap::new();
        for t in &g.tensors {
            let w = WeightMatrix::from_gguf(&g, &t.name).unwrap();
            got.insert(
                t.name.clone(),
                format!("{}:{}", ggml_type_name(t.type_id), sha16(w.bytes())),
            );
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for v in got.values() {
            *counts.entry(v.split(':').next().unwrap()).or_default() += 1;
        }
        println!("{name}: {} tensors {counts:?}", got.len());
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}: tensor names"
        );
        for (t, w) in &want {
            assert_eq!(
                &got[t], w,
                "{name}: tensor `{t}` (type:sha256) differs from llama.cpp's"
            );
        }
    }
}

#[test]
fn requantized_files_give_transformers_logits() {
    let _use = Use;
    let m = made();
    for name in ["Q8_0", "Q6_K", "Q4_K_M"] {
        let f = fixture(&format!("logits_{name}.json"));
        let model = Llama::load(m.path(name)).unwrap();
        let mut worst = 0.0f32;
        for p in f["prompts"].as_array().unwrap() {
            let ids: Vec<u32> = p["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            let mut s = model.new_session(ids.len()).unwrap();
            let logits = model.forward(&mut s, &ids).unwrap().to_vec();
            for pair in p["top"].as_array().unwrap() {
                let (id, want) = (
                    pair[0].as_u64().unwrap() as usize,
                    pair[1].as_f64().unwrap() as f32,
                );
                let d = (logits[id] - want).abs();
                worst = worst.max(d);
                assert!(
                    d <= LOGIT_TOL,
                    "{name} {}: logit of id {id}: {} vs transformers {want}",
                    p["name"],
                    logits[id]
                );
            }
            assert_eq!(
                glassbox::sampler::argmax(&logits) as u64,
                p["top"][0][0].as_u64().unwrap(),
                "{name} {}: top-1",
                p["name"]
            );
            if p["name"] == "capital" {
                let full = glassbox::formats::npy::read_f32(
                    fixture_dir().join(format!("capital_{name}.npy")),
                )
                .unwrap();
                let (i, d) = max_abs_diff(&logits, &full.data);
                println!("{name} capital: full logits max |Δ| = {d:.2e} at id {i}");
                assert_close(
                    &format!("{name} capital logits"),
                    &logits,
                    &full.data,
                    LOGIT_TOL,
                );
            }
        }
        println!("{name}: top-20 logits of every prompt, max |Δ| = {worst:.2e}");
    }
}

#[test]
fn perplexity_and_kl_match_transformers() {
    let _use = Use;
    let f = fixture("perplexity.json");
    let ids: Vec<u32> = f["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let (ctx, windows) = (
        f["ctx"].as_u64().unwrap() as usize,
        f["windows"].as_u64().unwrap() as usize,
    );
    let base = Llama::load(data::default_model().unwrap()).unwrap();
    let q4km = Llama::load(made().path("Q4_K_M")).unwrap();
    // the f32 model alone, token by token: the NLLs in the order transformers wrote them
    let want_nll: Vec<f64> = f["nll"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mut got_nll = Vec::new();
    let mut s = base.new_session(ctx).unwrap();
    for w in 0..windows {
        let win = &ids[w * ctx..(w + 1) * ctx];
        glassbox::perplexity::window_logits(
            &base,
            &mut s,
            &win[..ctx - 1],
            ctx / 2,
            |i, logits| {
                let mut lp = vec![0.0; logits.len()];
                glassbox::perplexity::log_softmax(logits, &mut lp);
                got_nll.push(-lp[win[i + 1] as usize]);
            },
        )
        .unwrap();
    }
    assert_eq!(got_nll.len(), want_nll.len());
    let worst = got_nll
        .iter()
        .zip(&want_nll)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!(
        "per-token NLL: max |Δ| = {worst:.2e} over {} tokens",
        got_nll.len()
    );
    assert!(
        worst <= NLL_TOL,
        "per-token NLL differs from transformers by {worst}"
    );
    // the same through `evaluate`, with the Q4_K_M file against the f32 base
    let t = evaluate(&[&base, &q4km], Some(&base), &ids, ctx, windows, |_, _| {}).unwrap();
    let (ppl, err) = t[0].perplexity();
    let want_ppl = f["perplexity"].as_f64().unwrap();
    println!(
        "perplexity {ppl:.4} ± {err:.4} (transformers {want_ppl:.4}), relative Δ {:.2e}",
        (ppl / want_ppl - 1.0).abs()
    );
    assert!((ppl / want_ppl - 1.0).abs() <= PPL_REL_TOL);
    assert_eq!(t[0].mean_kl().0, 0.0, "a model against itself has KL 0");
    assert_eq!(t[0].top1_agreement(), 1.0);
    let q = &f["q4_k_m"];
    let (kl, kl_err) = t[1].mean_kl();
    let want_kl = q["mean_kl"].as_f64().unwrap();
    println!(
        "Q4_K_M: mean KL {kl:.5} ± {kl_err:.5} (transformers {want_kl:.5}), max {:.4} ({:.4}), top-1 {:.4} ({:.4})",
        t[1].max_kl,
        q["max_kl"].as_f64().unwrap(),
        t[1].top1_agreement(),
        q["top1_agreement"].as_f64().unwrap()
    );
    // KL is a difference of two near-equal log-probabilities: the logit noise (~1e-3) moves
    // it by ~1e-3 · its size; 2% relative leaves room and is far below any real difference
    assert!(
        (kl / want_kl - 1.0).abs() <= 0.02,
        "mean KL {kl} vs {want_kl}"
    );
    assert!((t[1].max_kl / q["max_kl"].as_f64().unwrap() - 1.0).abs() <= 0.05);
    // top-1 agreement may differ by a position whose two best logits are within the noise
    let n = t[1].n_kl as f64;
    assert!((t[1].top1_agreement() - q["top1_agreement"].as_f64().unwrap()).abs() <= 1.5 / n);
}

#[test]
fn community_gemma_file_reads_every_type() {
    let path =
        data::gemma::gemma3_270m_q4_k_m().expect("gemma-3-270m-q4_k_m.gguf (glassbox pull --all)");
    let g = GgufFile::open(&path).unwrap();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in &g.tensors {
        assert!(
            glassbox::quant::DType::from_gguf_type_id(t.type_id).is_some(),
            "tensor `{}`: type {} not read",
            t.name,
            ggml_type_name(t.type_id)
        );
        *counts.entry(ggml_type_name(t.type_id)).or_default() += 1;
    }
    let want: BTreeMap<String, usize> = [
        ("F32", 109),
        ("Q5_0", 81),
        ("Q4_K", 27),
        ("Q8_0", 10),
        ("Q6_K", 9),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .into();
    assert_eq!(counts, want);
    // rows decode to gguf-py's values, bit for bit
    let f = fixture("gemma_rows.json");
    for (name, rec) in f["tensors"].as_object().unwrap() {
        let w = WeightMatrix::from_gguf(&g, name).unwrap();
        let cols = rec["cols"].as_u64().unwrap() as usize;
        let mut rows = vec![0.0f32; 2 * cols];
        w.dequantize_row(0, &mut rows[..cols]);
        w.dequantize_row(1, &mut rows[cols..]);
        let bytes: Vec<u8> = rows.iter().flat_map(|v| v.to_le_bytes()).collect();
        let got: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        println!("{name} ({}): first {:?}", rec["type"], &rows[..4]);
        assert_eq!(
            got,
            rec["sha256"].as_str().unwrap(),
            "{name}: rows differ from gguf-py"
        );
    }
    // and `glassbox inspect` says so
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .arg("inspect")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the whole model loaded (every tensor decoded from its stored type), each type counted
    assert!(text.contains("family `gemma3`"), "{text}");
    for ty in ["Q4_K", "Q5_0", "Q6_K", "Q8_0", "F32"] {
        assert!(
            text.contains(&format!("\n  {ty} ")),
            "{ty} missing:\n{text}"
        );
    }
}

/// The bytes of the written file's tensors are not stale between runs: a file written for
/// another type must not be found under this name (a sanity check of the harness).
#[test]
fn made_files_have_their_file_type() {
    let _use = Use;
    for (name, ty, _) in MADE {
        let g = GgufFile::open(&made().path(name)).unwrap();
        assert_eq!(
            g.get_u32("general.file_type"),
            Some(FileType::parse(ty).unwrap().gguf_id()),
            "{name}"
        );
    }
}
