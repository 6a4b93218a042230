// TEMPORARY probe (deleted before the end): loads the GGUF without the tokenizer.
mod common;
use std::collections::BTreeMap;
use glassbox::model::Llama;
use glassbox::weights::{config::LlamaConfig, gguf::GgufFile, model_files::{expected_tensors, gguf_name_of}};
use glassbox::rope::gguf_row_of_hf_row;
use glassbox::compare::max_abs_diff;

fn load() -> Llama {
    let path = std::path::Path::new("/work/data/SmolLM2-135M-Instruct.Q4_1.gguf");
    let g = GgufFile::open(path).unwrap();
    let config = LlamaConfig::from_gguf(&g).unwrap();
    let hd = config.head_dim();
    let mut t = BTreeMap::new();
    for (hf, _) in expected_tensors(&config) {
        let gname = gguf_name_of(&hf).unwrap();
        let mut w = g.tensor(&gname).unwrap();
        if hf.ends_with("q_proj.weight") || hf.ends_with("k_proj.weight") { w = w.permute_rows(|h| gguf_row_of_hf_row(h, hd)); }
        t.insert(hf, w);
    }
    let tok = glassbox::tokenizer::Tokenizer::from_merges(&[], glassbox::tokenizer::Pretokenizer::Gpt2, &[]);
    Llama::from_tensors(config, t, tok).unwrap()
}

#[test]
fn probe() {
    let t0 = std::time::Instant::now();
    let m = load();
    println!("load {:?}", t0.elapsed());
    let (dir, prompts) = common::fixtures();
    for p in &prompts {
        let mut s = m.new_session(p.ids.len() + 40).unwrap();
        s.set_capture(30, true);
        let t0 = std::time::Instant::now();
        let logits = m.forward(&mut s, &p.ids).unwrap().to_vec();
        let el = t0.elapsed();
        let worst = p.top.iter().map(|&(id, w)| (logits[id as usize] - w).abs()).fold(0f32, f32::max);
        let full = p.full_logits(&dir).map(|f| max_abs_diff(&logits, &f));
        let want = glassbox::npy::read_f32(dir.join(&p.hidden_npy)).unwrap();
        let cap = s.captured().unwrap();
        let hd: Vec<_> = [cap[0], cap[1], cap[31]].iter().enumerate().map(|(r, g)| max_abs_diff(g, &want.data[r*576..(r+1)*576]).1).collect();
        let norms: Vec<f32> = cap.iter().map(|g| g.iter().map(|v| v*v).sum::<f32>().sqrt()).collect();
        let nd = norms.iter().zip(&p.hidden_norms_last).map(|(a, b)| ((a - b)/b).abs()).fold(0f32, f32::max);
        let t1 = std::time::Instant::now();
        let g = common::greedy(&m, &p.ids, 32);
        println!("{:10} n={} prefill {:?} top20 {:.2e} full {:?} hidden {:?} normrel {:.2e} greedy_ok {} ({:?})", p.name, p.ids.len(), el, worst, full, hd, nd, g == p.greedy, t1.elapsed());
        if g != p.greedy { println!("  got  {:?}\n  want {:?}", g, p.greedy); }
    }
}
