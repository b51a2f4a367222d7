//! Scores equal Hugging Face `transformers` (`MambaModel` + linear head, one pair at a time)
//! within 1e-4, on the CPU backend and on wgpu, for three checkpoint layouts with odd sizes.

mod common;
use common::*;
use rankmamba::{Mode, Reranker, RerankerOptions};

fn load(name: &str, device: rankmamba::DeviceChoice, max_length: usize, batch_size: usize, mode: Mode) -> Reranker {
    let opts = RerankerOptions { max_length, batch_size, mode };
    Reranker::load_with(fixtures().join(name), device, opts).unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= TOL, "{what}: item {i}: got {g}, reference {w} (|diff| {})", (g - w).abs());
    }
}

#[test]
fn pair_scores_match_reference_in_any_batching() {
    let exp = expected();
    for device in devices() {
        for name in MODELS {
            for max_length in [512usize, 80] {
                let cases: Vec<_> =
                    exp[name]["pairs"].as_array().unwrap().iter().filter(|c| c["max_length"] == max_length).collect();
                let want: Vec<f32> = cases.iter().map(|c| c["score"].as_f64().unwrap() as f32).collect();
                let pairs: Vec<(&str, &str)> =
                    cases.iter().map(|c| (c["query"].as_str().unwrap(), c["document"].as_str().unwrap())).collect();
                let mut per_batch = Vec::new();
                for batch_size in [1usize, 4, 17] {
                    let r = load(name, device, max_length, batch_size, Mode::Exact);
                    for (c, p) in cases.iter().zip(&pairs) {
                        assert_eq!(r.encode(p.0, p.1).unwrap(), ids(&c["input_ids"]), "{name}: template ids of {:?}", p.0);
                    }
                    let got = r.score_pairs(&pairs, &mut |_| {}).unwrap();
                    assert_close(&format!("{name} on {device}, max_length {max_length}, batch {batch_size}"), &got, &want);
                    per_batch.push(got);
                }
                // exact mode: batching changes no score beyond f32 rounding (GEMM blocking
                // depends on the batch's row count); compat mode moves scores by ~1e-1
                for other in &per_batch[1..] {
                    for (a, b) in per_batch[0].iter().zip(other) {
                        assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{name} on {device}: batching changed a score: {a} vs {b}");
                    }
                }
            }
        }
    }
}

#[test]
fn raw_sequences_of_1_to_600_tokens_match_reference() {
    let exp = expected();
    for device in devices() {
        for name in MODELS {
            let cases = exp[name]["raw"].as_array().unwrap();
            let seqs: Vec<Vec<u32>> = cases.iter().map(|c| ids(&c["input_ids"])).collect();
            let want: Vec<f32> = cases.iter().map(|c| c["score"].as_f64().unwrap() as f32).collect();
            let r = load(name, device, 512, 3, Mode::Exact);
            let got = r.score_ids(&seqs, &mut |_| {}).unwrap();
            assert_close(&format!("{name} raw on {device}"), &got, &want);
        }
    }
}

#[test]
fn compat_mode_reproduces_left_padded_batches() {
    let exp = expected();
    for device in devices() {
        for name in MODELS {
            let c = &exp[name]["compat_batch"];
            let pairs: Vec<(&str, &str)> = c["pairs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["query"].as_str().unwrap(), p["document"].as_str().unwrap()))
                .collect();
            let want: Vec<f32> = c["scores"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            let r = load(name, device, 512, 64, Mode::RankMambaV1);
            for (p, w) in pairs.iter().zip(c["input_ids"].as_array().unwrap()) {
                assert_eq!(r.encode(p.0, p.1).unwrap(), ids(w), "{name}: compat template");
            }
            let got = r.score_pairs(&pairs, &mut |_| {}).unwrap();
            assert_close(&format!("{name} compat on {device}"), &got, &want);
        }
    }
}

#[test]
fn converted_pytorch_checkpoint_scores_like_its_safetensors_twin() {
    let out = tempfile::tempdir().unwrap();
    let report = rankmamba::loader::pytorch::convert(&fixtures().join("tiny-rankmamba-bin"), out.path(), false).unwrap();
    assert!(report.copied.contains(&"config.json".to_string()) && report.copied.contains(&"tokenizer.json".to_string()));
    let exp = expected();
    let cases: Vec<_> = exp["tiny-rankmamba"]["pairs"].as_array().unwrap().iter().filter(|c| c["max_length"] == 512).collect();
    let r = Reranker::load(out.path(), rankmamba::DeviceChoice::Cpu).unwrap();
    for c in cases {
        let got = r.score(c["query"].as_str().unwrap(), &[c["document"].as_str().unwrap()]).unwrap()[0];
        let want = c["score"].as_f64().unwrap() as f32;
        assert!((got - want).abs() <= TOL, "converted: {got} vs {want}");
    }
    // a second convert into the same place refuses to overwrite
    let again = rankmamba::loader::pytorch::convert(&fixtures().join("tiny-rankmamba-bin"), out.path(), false).unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
}

#[test]
fn rank_sorts_descending_and_keeps_input_indices() {
    let r = load("tiny-hf", rankmamba::DeviceChoice::Cpu, 512, 4, Mode::Exact);
    let docs = ["alpha beta", "gamma", "alpha beta", "delta epsilon zeta", "eta"];
    let scores = r.score("alpha?", &docs).unwrap();
    let ranked = r.rank("alpha?", &docs, Some(3)).unwrap();
    assert_eq!(ranked.len(), 3);
    for w in ranked.windows(2) {
        assert!(w[0].score >= w[1].score);
    }
    for x in &ranked {
        assert_eq!(scores[x.index], x.score);
    }
    // identical documents tie; the earlier one comes first
    let pos = |i| ranked.iter().position(|x| x.index == i);
    if let (Some(a), Some(b)) = (pos(0), pos(2)) {
        assert!(a < b);
    }
}
