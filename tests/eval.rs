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
