//! BERT-family cross-encoder: scores equal transformers' `BertForSequenceClassification` /
//! `ElectraForSequenceClassification` (num_labels = 1) within 1e-4 — tiny random models with
//! odd sizes, the same encoder in RankMamba's layout and template, and the real
//! all-MiniLM-L6-v2 weights with a seeded head — on the CPU and on wgpu, in any batching, with
//! pairs longer than max_length.

mod common;
use common::*;
use rankmamba::{Mode, Reranker, RerankerOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn bert_expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("bert_expected.json")).unwrap()).unwrap()
}

fn check(dir: &Path, cases: &[Value]) {
    check_mode(dir, cases, Mode::Exact)
}

fn check_mode(dir: &Path, cases: &[Value], mode: Mode) {
    for device in devices() {
        for max_length in cases.iter().map(|c| c["max_length"].as_u64().unwrap() as usize).collect::<std::collections::BTreeSet<_>>() {
            let sel: Vec<&Value> = cases.iter().filter(|c| c["max_length"] == max_length).collect();
            let pairs: Vec<(&str, &str)> = sel.iter().map(|c| (c["query"].as_str().unwrap(), c["document"].as_str().unwrap())).collect();
            for batch_size in [1usize, 5, 17] {
                let r = Reranker::load_with(dir, device, RerankerOptions { max_length, batch_size, mode })
                    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                for (c, p) in sel.iter().zip(&pairs) {
                    let enc = r.encode_pair(p.0, p.1).unwrap();
                    assert_eq!(enc.ids, ids(&c["input_ids"]), "ids of {:?}", p.0);
                    assert_eq!(enc.type_ids, ids(&c["token_type_ids"]), "type ids of {:?}", p.0);
                }
                let got = r.score_pairs(&pairs, &mut |_| {}).unwrap();
                for (i, (g, c)) in got.iter().zip(&sel).enumerate() {
                    let w = c["score"].as_f64().unwrap() as f32;
                    assert!((g - w).abs() <= TOL, "{} on {device}, max_length {max_length}, batch {batch_size}, pair {i}: {g} vs {w}", dir.display());
                }
            }
        }
    }
}

#[test]
fn tiny_random_bert_matches_transformers() {
    let e = bert_expected();
    check(&fixtures().join("tiny-bert"), e["tiny-bert"].as_array().unwrap());
    check(&fixtures().join("tiny-bert-rankmamba"), e["tiny-bert-rankmamba"].as_array().unwrap());
    check_mode(&fixtures().join("tiny-bert-rankmamba"), e["tiny-bert-rankmamba-compat"].as_array().unwrap(), Mode::RankMambaV1);
    check(&fixtures().join("tiny-electra"), e["tiny-electra"].as_array().unwrap());
}

/// The real weights, fetched by scripts/fetch_minilm.sh (scripts/setup.sh runs it).
fn minilm_dir() -> PathBuf {
    match std::env::var_os("RANKMAMBA_MINILM") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/rankmamba/all-MiniLM-L6-v2"),
    }
}

#[test]
fn real_minilm_with_a_seeded_head_matches_transformers() {
    let src = minilm_dir();
    assert!(src.join("model.safetensors").is_file(), "{} missing: run scripts/fetch_minilm.sh", src.display());
    // the checkpoint plus the head as a second shard, through a shard index
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::os::unix::fs::symlink(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::rename(dir.path().join("model.safetensors"), dir.path().join("model-00001-of-00002.safetensors")).unwrap();
    std::fs::copy(fixtures().join("minilm-head/head.safetensors"), dir.path().join("model-00002-of-00002.safetensors")).unwrap();
    let mut map = serde_json::Map::new();
    for (shard, file) in [("model-00001-of-00002.safetensors", src.join("model.safetensors")), ("model-00002-of-00002.safetensors", fixtures().join("minilm-head/head.safetensors"))] {
        let bytes = std::fs::read(file).unwrap();
        for name in safetensors::SafeTensors::deserialize(&bytes).unwrap().names() {
            map.insert(name.to_string(), shard.into());
        }
    }
    std::fs::write(dir.path().join("model.safetensors.index.json"), serde_json::json!({"weight_map": map}).to_string()).unwrap();
    check(dir.path(), bert_expected()["minilm"].as_array().unwrap());

    // the bare BertModel checkpoint: a fresh head, and it says so
    let r = Reranker::load(&src, rankmamba::DeviceChoice::Cpu).unwrap();
    assert!(r.info().fresh_head && r.info().architecture == "bert");
    assert!(r.warnings().iter().any(|w| w.contains("freshly initialised head")));
}

#[test]
fn unsupported_architecture_and_mismatched_tokenizer_are_named() {
    let d = scratch_copy("tiny-bert");
    let p = d.path().join("config.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["model_type"] = "gpt2".into();
    std::fs::write(&p, v.to_string()).unwrap();
    let e = Reranker::load(d.path(), rankmamba::DeviceChoice::Cpu).err().unwrap().to_string();
    assert!(e.contains("field `model_type`") && e.contains("gpt2"), "{e}");

    // a GPT-NeoX tokenizer beside BERT weights: ids beyond the embedding
    let d = scratch_copy("tiny-bert");
    std::fs::copy(fixtures().join("tokenizer/tokenizer.json"), d.path().join("tokenizer.json")).unwrap();
    let e = Reranker::load(d.path(), rankmamba::DeviceChoice::Cpu).err().unwrap().to_string();
    assert!(e.contains("tokenizer.json") && e.contains("do not match"), "{e}");

    // max_length beyond the position table: clamped, with a warning
    let r = Reranker::load_with(fixtures().join("tiny-bert"), rankmamba::DeviceChoice::Cpu, RerankerOptions { max_length: 100, ..Default::default() }).unwrap();
    assert_eq!(r.info().max_length, 64);
    assert!(r.warnings().iter().any(|w| w.contains("max_position_embeddings")), "{:?}", r.warnings());
}

#[test]
fn a_wrong_shape_names_the_tensor() {
    use safetensors::tensor::TensorView;
    let d = scratch_copy("tiny-bert");
    let path = d.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let name = "bert.encoder.layer.1.intermediate.dense.weight";
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec())).collect();
    for (n, shape, data) in owned.iter_mut() {
        if n == name {
            *shape = vec![shape[0] - 1, shape[1]];
            data.truncate(shape[0] * shape[1] * 4);
        }
    }
    let views: Vec<(String, TensorView)> = owned.iter().map(|(n, s, b)| (n.clone(), TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())).collect();
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    let e = Reranker::load(d.path(), rankmamba::DeviceChoice::Cpu).err().unwrap().to_string();
    assert!(e.contains(name) && e.contains("expected [23, 15]"), "{e}");
}
