//! The bundled default models (`models/boolq-mamba`, `models/boolq-bert`, trained with `train`,
//! BENCHMARKS.md §6) are trained rerankers, not random fixtures: reranking BM25's top 10 for
//! held-out BoolQ questions (neither question nor passage seen in training), they put the
//! relevant passage higher than a random order of the same candidates does, by a margin.
//! Data: assets/boolq-heldout (`python3 scripts/boolq_data.py OUT --fixture assets/boolq-heldout`).

use rankmamba::eval::{evaluate, parse_qrels, parse_run, read_id_texts, Run};
use rankmamba::{DeviceChoice, Reranker, RerankerOptions};
use std::path::{Path, PathBuf};

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/boolq-heldout").join(name)
}

/// MRR@10 of the model's rerank, of BM25's order, and the expected MRR@10 of a uniformly random
/// order of the same candidates.
fn mrr(model: &str) -> (f64, f64, f64) {
    let read = |n: &str| std::fs::read_to_string(asset(n)).unwrap();
    let qrels = parse_qrels(&asset("qrels"), &read("qrels")).unwrap();
    let bm25 = parse_run(&asset("bm25.run"), &read("bm25.run")).unwrap();
    let queries = read_id_texts(&asset("queries.tsv"), None).unwrap();
    let passages = read_id_texts(&asset("collection.tsv"), None).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(model);
    let ranker = Reranker::load_with(&dir, DeviceChoice::Cpu, RerankerOptions { max_length: 256, ..Default::default() }).unwrap();
    assert!(ranker.warnings().is_empty(), "{model}: {:?}", ranker.warnings());
    let mut reranked = Run::new();
    let mut random = 0.0;
    for (qid, candidates) in &bm25 {
        let docs: Vec<&str> = candidates.iter().map(|(d, _)| passages[d].as_str()).collect();
        let scores = ranker.score(&queries[qid], &docs).unwrap();
        reranked.insert(qid.clone(), candidates.iter().zip(scores).map(|((d, _), s)| (d.clone(), s as f64)).collect());
        if candidates.iter().any(|(d, _)| qrels[qid].get(d).is_some_and(|&l| l > 0)) {
            let n = candidates.len();
            random += (1..=n.min(10)).map(|r| 1.0 / r as f64).sum::<f64>() / n as f64;
        }
    }
    let got = evaluate(&qrels, &reranked, true, false).mrr_10;
    (got, evaluate(&qrels, &bm25, true, false).mrr_10, random / qrels.len() as f64)
}

/// Well below what both bundled models reach on this set (BENCHMARKS.md §6), well above what a
/// random model's order varies by over 150 questions (±0.03).
const MARGIN: f64 = 0.05;

#[test]
fn bundled_mamba_beats_a_random_order_on_held_out_questions() {
    let (got, bm25, random) = mrr("models/boolq-mamba");
    println!("boolq-mamba: MRR@10 {got:.3}, BM25 {bm25:.3}, random {random:.3}");
    assert!(got > random + MARGIN, "MRR@10 {got:.3}, random {random:.3}");
}

#[test]
fn bundled_bert_beats_a_random_order_on_held_out_questions() {
    let (got, bm25, random) = mrr("models/boolq-bert");
    println!("boolq-bert: MRR@10 {got:.3}, BM25 {bm25:.3}, random {random:.3}");
    assert!(got > random + MARGIN, "MRR@10 {got:.3}, random {random:.3}");
}
