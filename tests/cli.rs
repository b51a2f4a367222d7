//! The `rankmamba` binary end to end: results on stdout, errors with file and line on stderr.

mod common;
use common::*;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rankmamba"))
}

#[test]
fn score_prints_one_score_per_line_in_order() {
    let exp = expected();
    let cases: Vec<_> = exp["tiny-hf"]["pairs"].as_array().unwrap().iter().filter(|c| c["max_length"] == 512).collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.jsonl");
    let lines: Vec<String> =
        cases.iter().map(|c| serde_json::json!({"query": c["query"], "document": c["document"]}).to_string()).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out = bin()
        .args(["score", "--model"])
        .arg(fixtures().join("tiny-hf"))
        .arg("--input")
        .arg(&input)
        .args(["--batch-size", "5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got: Vec<f64> = stdout.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["score"].as_f64().unwrap()).collect();
    assert_eq!(got.len(), cases.len());
    for (g, c) in got.iter().zip(&cases) {
        assert!((g - c["score"].as_f64().unwrap()).abs() <= TOL as f64);
    }
}

#[test]
fn invalid_jsonl_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.jsonl");
    std::fs::write(&input, "{\"query\": \"q\", \"document\": \"d\"}\n\n{\"query\": \"q\"}\n").unwrap();
    let out = bin().args(["score", "--model"]).arg(fixtures().join("tiny-hf")).arg("--input").arg(&input).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pairs.jsonl:3:") && err.contains("missing field `document`"), "{err}");
    assert!(out.stdout.is_empty());

    std::fs::write(&input, "{\"query\": \"q\", \"document\": \"d\"}\nnot json\n").unwrap();
    let out = bin().args(["score", "--model"]).arg(fixtures().join("tiny-hf")).arg("--input").arg(&input).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pairs.jsonl:2: invalid JSON"), "{err}");
}

#[test]
fn rerank_prints_a_ranking_as_jsonl_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs.jsonl");
    std::fs::write(&docs, "{\"id\": \"a\", \"text\": \"first\"}\n{\"id\": \"b\", \"text\": \"second one\"}\n{\"id\": 7, \"text\": \"third\"}\n").unwrap();
    let run = |extra: &[&str]| {
        let out = bin()
            .args(["rerank", "--model"])
            .arg(fixtures().join("tiny-hf"))
            .args(["--query", "which one?", "--docs"])
            .arg(&docs)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let lines: Vec<serde_json::Value> = run(&["--top-k", "2"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["rank"], 1);
    assert!(lines[0]["score"].as_f64().unwrap() >= lines[1]["score"].as_f64().unwrap());
    let ids = ["a", "b"];
    for l in &lines {
        let i = l["index"].as_u64().unwrap() as usize;
        if i < 2 {
            assert_eq!(l["id"], ids[i]);
        } else {
            assert_eq!(l["id"], 7);
        }
    }
    let table = run(&["--format", "table"]);
    assert!(table.lines().next().unwrap().contains("rank") && table.lines().count() == 4, "{table}");

    // plain text, one document per line
    std::fs::write(&docs, "first\nsecond one\n").unwrap();
    assert_eq!(run(&[]).lines().count(), 2);
}

#[test]
fn convert_writes_a_loadable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().args(["convert", "--input"]).arg(fixtures().join("tiny-rankmamba-bin/pytorch_model.bin")).arg("--output").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["model.safetensors", "config.json", "tokenizer.json"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["score", "rerank", "convert", "eval"] {
        let out = bin().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("--"), "{sub}");
    }
}

/// `train`'s argument errors come before any data or model is read, and say what to change.
#[test]
fn train_refuses_bad_argument_combinations() {
    let train = || Command::new(env!("CARGO_BIN_EXE_train"));
    let dir = tempfile::tempdir().unwrap();
    let model = fixtures().join("tiny-hf");
    let run = |args: &[&str]| {
        let out = train().arg("--model").arg(&model).arg("--output").arg(dir.path().join("run")).args(args).output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run(&["--triples", "t.tsv", "--device", "wgpu", "--devices", "2"]);
    assert!(e.contains("--devices > 1 runs CPU replicas only"), "{e}");
    let e = run(&["--groups", "g.tsv"]);
    assert!(e.contains("--groups needs --queries"), "{e}");
    let e = run(&[]);
    assert!(e.contains("give the training data"), "{e}");
    let e = run(&["--triples", "missing.tsv", "--group-size", "2"]);
    assert!(e.contains("missing.tsv"), "{e}");
}
