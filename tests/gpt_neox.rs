//! GPT-NeoX decoder twin: scores equal transformers' `GPTNeoXModel` + a linear head on the last
//! token within 1e-4 (parallel and sequential residual, partial and full rotary, two key
//! layouts), on the CPU and on wgpu, in any batching.

mod common;
use common::*;
use rankmamba::{Mode, Reranker, RerankerOptions};
use serde_json::Value;

#[test]
fn tiny_random_neox_matches_transformers() {
    let e: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("neox_expected.json")).unwrap()).unwrap();
    for name in ["tiny-neox", "tiny-neox-seq"] {
        let cases = e[name].as_array().unwrap();
        let pairs: Vec<(&str, &str)> = cases.iter().map(|c| (c["query"].as_str().unwrap(), c["document"].as_str().unwrap())).collect();
        for device in devices() {
            for batch_size in [1usize, 4, 17] {
                let r = Reranker::load_with(fixtures().join(name), device, RerankerOptions { max_length: 512, batch_size, mode: Mode::Exact }).unwrap();
                assert_eq!(r.info().architecture, "gpt_neox");
                for (c, p) in cases.iter().zip(&pairs) {
                    assert_eq!(r.encode(p.0, p.1).unwrap(), ids(&c["input_ids"]));
                }
                let got = r.score_pairs(&pairs, &mut |_| {}).unwrap();
                for (i, (g, c)) in got.iter().zip(cases).enumerate() {
                    let w = c["score"].as_f64().unwrap() as f32;
                    assert!((g - w).abs() <= TOL, "{name} on {device}, batch {batch_size}, pair {i}: {g} vs {w}");
                }
            }
        }
    }
}
