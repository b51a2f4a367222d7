//! Bad input gets a clear error naming the file, tensor or field; never a panic or a silently
//! wrong score.

mod common;
use common::*;
use rankmamba::{DeviceChoice, Reranker};
use safetensors::tensor::TensorView;
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::path::Path;

fn load_err(dir: &Path) -> String {
    match Reranker::load(dir, DeviceChoice::Cpu) {
        Ok(_) => panic!("{} loaded, expected an error", dir.display()),
        Err(e) => e.to_string(),
    }
}

/// Rewrite `model.safetensors` of `dir` through `edit` (name -> (shape, f32 data)).
fn rewrite(dir: &Path, edit: impl FnOnce(&mut HashMap<String, (Vec<usize>, Vec<f32>)>)) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut map: HashMap<String, (Vec<usize>, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            let data = v.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (n, (v.shape().to_vec(), data))
        })
        .collect();
    edit(&mut map);
    let raw: Vec<(String, Vec<usize>, Vec<u8>)> =
        map.into_iter().map(|(n, (s, d))| (n, s, d.iter().flat_map(|x| x.to_le_bytes()).collect())).collect();
    let views: Vec<(String, TensorView)> =
        raw.iter().map(|(n, s, b)| (n.clone(), TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())).collect();
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn missing_files_are_named() {
    let d = scratch_copy("tiny-hf");
    std::fs::remove_file(d.path().join("model.safetensors")).unwrap();
    let e = load_err(d.path());
    assert!(e.contains("no model.safetensors or model.safetensors.index.json"), "{e}");
    let d = scratch_copy("tiny-hf");
    std::fs::remove_file(d.path().join("config.json")).unwrap();
    let e = load_err(d.path());
    assert!(e.contains("config.json") && e.contains("No such file"), "{e}");
    let d = scratch_copy("tiny-hf");
    std::fs::remove_file(d.path().join("tokenizer.json")).unwrap();
    assert!(load_err(d.path()).contains("tokenizer.json"));
    let e = load_err(Path::new("/nonexistent/model"));
    assert!(e.contains("/nonexistent/model"), "{e}");
}

#[test]
fn truncated_or_corrupt_safetensors_names_the_file() {
    let d = scratch_copy("tiny-hf");
    let p = d.path().join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(d.path());
    assert!(e.contains("model.safetensors: not a valid safetensors file"), "{e}");
    std::fs::write(&p, b"garbage").unwrap();
    assert!(load_err(d.path()).contains("not a valid safetensors file"));
}

#[test]
fn a_missing_shard_is_named() {
    let d = scratch_copy("tiny-rankmamba");
    std::fs::remove_file(d.path().join("model-00002-of-00002.safetensors")).unwrap();
    let e = load_err(d.path());
    assert!(e.contains("model-00002-of-00002.safetensors"), "{e}");
}

#[test]
fn wrong_shapes_name_the_tensor() {
    let d = scratch_copy("tiny-hf");
    rewrite(d.path(), |m| {
        let t = m.get_mut("backbone.layers.1.mixer.x_proj.weight").unwrap();
        t.0 = vec![t.0[0] - 1, t.0[1]];
        t.1.truncate(t.0[0] * t.0[1]);
    });
    let e = load_err(d.path());
    assert!(e.contains("`backbone.layers.1.mixer.x_proj.weight`") && e.contains("expected [11, 22]"), "{e}");
}

#[test]
fn config_contradicting_the_weights_names_the_field() {
    let d = scratch_copy("tiny-hf");
    let p = d.path().join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["hidden_size"] = 12.into();
    std::fs::write(&p, v.to_string()).unwrap();
    let e = load_err(d.path());
    assert!(e.contains("field `hidden_size`") && e.contains("contradicts the weights"), "{e}");

    v["hidden_size"] = 11.into();
    v["state_size"] = 6.into();
    std::fs::write(&p, v.to_string()).unwrap();
    let e = load_err(d.path());
    assert!(e.contains("mixer.x_proj.weight") && e.contains("state_size"), "{e}");

    std::fs::write(&p, "{\"model_type\": \"mamba\",").unwrap();
    assert!(load_err(d.path()).contains("config.json: invalid JSON"));
}

#[test]
fn unknown_key_style_is_named() {
    let d = scratch_copy("tiny-hf");
    rewrite(d.path(), |m| {
        m.insert("bert.encoder.layer.0.output.dense.bias".into(), (vec![2], vec![0.0, 0.0]));
    });
    let e = load_err(d.path());
    assert!(e.contains("`bert.encoder.layer.0.output.dense.bias`") && e.contains("unknown key"), "{e}");
}

#[test]
fn a_missing_layer_tensor_is_named() {
    let d = scratch_copy("tiny-hf");
    rewrite(d.path(), |m| {
        m.remove("backbone.layers.0.mixer.D");
    });
    let e = load_err(d.path());
    assert!(e.contains("layers.0.mixer.D") && e.contains("missing"), "{e}");
}

#[test]
fn tokenizer_larger_than_the_embedding_is_refused() {
    let d = scratch_copy("tiny-hf");
    rewrite(d.path(), |m| {
        let t = m.get_mut("backbone.embeddings.weight").unwrap();
        t.0[0] = 1000;
        t.1.truncate(1000 * 11);
    });
    let p = d.path().join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["vocab_size"] = 1000.into();
    std::fs::write(&p, v.to_string()).unwrap();
    let e = load_err(d.path());
    assert!(e.contains("tokenizer.json") && e.contains("do not match"), "{e}");
}

#[test]
fn headless_checkpoint_gets_a_fresh_head_and_says_so() {
    let d = scratch_copy("tiny-hf");
    rewrite(d.path(), |m| {
        m.remove("classifier.weight");
        m.remove("classifier.bias");
    });
    let r = Reranker::load(d.path(), DeviceChoice::Cpu).unwrap();
    assert!(r.info().fresh_head);
    assert!(r.warnings().iter().any(|w| w.contains("freshly initialised head")), "{:?}", r.warnings());
    assert!(r.score("q", &["d"]).unwrap()[0].is_finite());

    let d = scratch_copy("tiny-hf");
    rewrite(d.path(), |m| {
        m.remove("classifier.bias");
    });
    assert!(load_err(d.path()).contains("`classifier.weight`"));
}

#[test]
fn empty_query_is_refused() {
    let r = Reranker::load(fixtures().join("tiny-hf"), DeviceChoice::Cpu).unwrap();
    let e = r.score("  ", &["doc"]).unwrap_err().to_string();
    assert!(e.contains("query is empty"), "{e}");
    assert!(r.score("q", &[] as &[&str]).unwrap().is_empty());
    assert!(r.score_ids(&[vec![]], &mut |_| {}).is_err());
    assert!(r.score_ids(&[vec![60000]], &mut |_| {}).unwrap_err().to_string().contains("outside the vocabulary"));
}

#[test]
fn bad_pickle_is_refused_without_executing_it() {
    let d = tempfile::tempdir().unwrap();
    let bin = d.path().join("pytorch_model.bin");
    // a protocol-2 pickle calling os.system: must be refused, never run
    std::fs::write(&bin, b"\x80\x02cos\nsystem\nq\x00X\x05\x00\x00\x00touchq\x01\x85q\x02Rq\x03.").unwrap();
    let out = d.path().join("out");
    let e = rankmamba::loader::pytorch::convert(&bin, &out, false).unwrap_err().to_string();
    assert!(e.contains("pytorch_model.bin"), "{e}");
    assert!(!out.join("model.safetensors").exists());
}
