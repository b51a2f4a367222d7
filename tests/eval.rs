//! `rankmamba eval` against trec_eval 9.0.8's own output on its test files
//! (tests/fixtures/trec_eval, from the elinor crate): MRR (recip_rank), NDCG@10, Recall@100, MAP.

mod common;
use common::*;
use rankmamba::eval::{evaluate, parse_qrels, parse_run};

fn reference(name: &str) -> serde_json::Value {
    let t = std::fs::read_to_string(fixtures().join("trec_eval").join(name)).unwrap();
    serde_json::from_str::<serde_json::Value>(&t).unwrap()["trec_eval_output"].clone()
}

#[test]
fn metrics_equal_trec_eval() {
    let dir = fixtures().join("trec_eval");
    let run = parse_run(&dir.join("results.test"), &std::fs::read_to_string(dir.join("results.test")).unwrap()).unwrap();
    for (qrels, out) in [("qrels.test", "qrels.test.output.json"), ("qrels.rel_level", "qrels.rel_level.output.json")] {
        let q = parse_qrels(&dir.join(qrels), &std::fs::read_to_string(dir.join(qrels)).unwrap()).unwrap();
        let m = evaluate(&q, &run, false, false);
        let r = reference(out);
        let want = |k: &str| r[k].as_str().unwrap().parse::<f64>().unwrap();
        // trec_eval prints 4 decimals; every query here has its first relevant document in the
        // top 100, so MRR@100 equals its uncut recip_rank
        for (name, got, key) in [("MAP", m.map, "map"), ("NDCG@10", m.ndcg_10, "ndcg_cut_10"), ("Recall@100", m.recall_100, "recall_100"), ("MRR@100", m.mrr_100, "recip_rank")] {
            assert!((got - want(key)).abs() <= 5e-5, "{qrels}: {name} {got:.6} vs trec_eval {key} {}", want(key));
        }
        assert_eq!(m.queries, want("num_q") as usize);
    }
}

#[test]
fn cli_prints_one_json_object() {
    let dir = fixtures().join("trec_eval");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rankmamba"))
        .args(["eval", "--qrels"])
        .arg(dir.join("qrels.test"))
        .arg("--run")
        .arg(dir.join("results.test"))
        .args(["-c", "--judged-only"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["queries", "MRR@10", "MRR@100", "NDCG@10", "Recall@100", "MAP"] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
}

/// `eval --model`: the run's candidates reranked by a model, written as a TREC run, evaluated;
/// the printed metrics equal `eval` on the written file.
#[test]
fn eval_with_a_model_reranks_writes_and_scores_a_run() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n);
    std::fs::write(p("collection.tsv"), "D1\tParis is the capital of France.\nD2\tMamba is a state space model.\nD3\tBananas are yellow.\tA second field.\nD9\tunused\n").unwrap();
    std::fs::write(p("queries.tsv"), "q1\twhat is mamba?\nq2\tcapital of France\n").unwrap();
    std::fs::write(p("run.txt"), "q1 Q0 D1 1 3.0 bm25\nq1 Q0 D2 2 2.0 bm25\nq1 Q0 D3 3 1.0 bm25\nq2 Q0 D3 1 2.0 bm25\nq2 Q0 D1 2 1.0 bm25\n").unwrap();
    std::fs::write(p("qrels.txt"), "q1 0 D2 1\nq2 0 D1 2\nq2 0 D3 0\n").unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rankmamba")).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let s = |x: &std::path::Path| x.to_str().unwrap().to_string();
    let model = s(&fixtures().join("tiny-hf"));
    let (q, r, c, qr, o) = (s(&p("queries.tsv")), s(&p("run.txt")), s(&p("collection.tsv")), s(&p("qrels.txt")), s(&p("out.run")));
    let reranked = run(&["eval", "--qrels", &qr, "--run", &r, "--model", &model, "--queries", &q, "--collection", &c, "--output", &o, "--top-k", "2"]);
    let text = std::fs::read_to_string(p("out.run")).unwrap();
    assert_eq!(text.lines().count(), 4, "top 2 of each query: {text}");
    assert!(text.lines().all(|l| l.split_whitespace().count() == 6 && l.ends_with("rankmamba")));
    assert!(!text.contains("q1 Q0 D3"), "q1's third candidate is past top-k: {text}");
    let again = run(&["eval", "--qrels", &qr, "--run", &o]);
    assert_eq!(reranked, again);
    // a run document missing from the collection is named
    std::fs::write(p("run.txt"), "q1 Q0 D7 1 3.0 bm25\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rankmamba"))
        .args(["eval", "--qrels", &qr, "--run", &r, "--model", &model, "--queries", &q, "--collection", &c, "--output", &o])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("collection.tsv") && err.contains("D7"), "{err}");
}

/// More pairs (graded relevance, unjudged documents, score ties, runs deeper than 100, queries
/// in only one of the files) against pytrec_eval (tests/fixtures/pytrec_eval, from
/// scripts/gen_pytrec_fixtures.py); MRR@k against recip_rank of the run cut to its top k.
#[test]
fn metrics_equal_pytrec_eval() {
    let dir = fixtures().join("pytrec_eval");
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    for (name, want) in expected["pairs"].as_object().unwrap() {
        let read = |f: String| std::fs::read_to_string(dir.join(&f)).unwrap();
        let q = parse_qrels(&dir.join(format!("{name}.qrels")), &read(format!("{name}.qrels"))).unwrap();
        let r = parse_run(&dir.join(format!("{name}.run")), &read(format!("{name}.run"))).unwrap();
        let m = evaluate(&q, &r, false, false);
        let w = |k: &str| want[k].as_f64().unwrap();
        for (metric, got, key) in [("MAP", m.map, "map"), ("NDCG@10", m.ndcg_10, "ndcg_cut_10"), ("Recall@100", m.recall_100, "recall_100"), ("MRR@10", m.mrr_10, "recip_rank@10"), ("MRR@100", m.mrr_100, "recip_rank@100")] {
            assert!((got - w(key)).abs() <= 1e-9, "{name}: {metric} {got} vs pytrec_eval {key} {}", w(key));
        }
        assert_eq!(m.queries, w("num_q") as usize, "{name}: query count");
    }
}
