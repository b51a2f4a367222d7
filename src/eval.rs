//! TREC-style evaluation of a ranked run against relevance judgments, with trec_eval's
//! semantics: documents ranked by score (descending; ties by document id, descending, as
//! trec_eval does — the run's rank column is ignored), relevant = label ≥ 1, NDCG gains = the
//! label (negative as 0) with log2(rank + 1) discounts, `complete` (trec_eval `-c`) averages over
//! every query of the qrels (missing queries score 0), else over the queries in both files.

use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// qid → docid → label.
pub type Qrels = BTreeMap<String, HashMap<String, i32>>;
/// qid → [(docid, score)] in file order.
pub type Run = BTreeMap<String, Vec<(String, f64)>>;

/// `qid 0 docid label` per line (space or tab separated).
pub fn parse_qrels(path: &Path, text: &str) -> Result<Qrels> {
    let mut q = Qrels::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() != 4 {
            return Err(Error::Line { path: path.into(), line: i + 1, msg: format!("expected `qid 0 docid label`, found {} fields", f.len()) });
        }
        let label: i32 = f[3].parse().map_err(|_| Error::Line { path: path.into(), line: i + 1, msg: format!("label `{}` is not an integer", f[3]) })?;
        q.entry(f[0].to_string()).or_default().insert(f[2].to_string(), label);
    }
    Ok(q)
}

/// TREC run lines `qid Q0 docid rank score tag`, or RankMamba's `qid \t docid \t rank \t score`.
pub fn parse_run(path: &Path, text: &str) -> Result<Run> {
    let mut run = Run::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let err = |msg: String| Error::Line { path: path.into(), line: i + 1, msg };
        let (qid, doc, score) = match f.len() {
            0 => continue,
            6 => (f[0], f[2], f[4]),
            4 => (f[0], f[1], f[3]),
            n => return Err(err(format!("expected `qid Q0 docid rank score tag` (or `qid docid rank score`), found {n} fields"))),
        };
        let score: f64 = score.parse().map_err(|_| err(format!("score `{score}` is not a number")))?;
        if !seen.insert((qid.to_string(), doc.to_string())) {
            return Err(err(format!("document `{doc}` is listed twice for query `{qid}`")));
        }
        run.entry(qid.to_string()).or_default().push((doc.to_string(), score));
    }
    Ok(run)
}

/// `id<TAB>text` lines (MS MARCO's `collection.tsv`, `queries.*.tsv`), read line by line,
/// keeping only the ids in `keep` (all if `None`); tabs inside a text become spaces.
pub fn read_id_texts(path: &Path, keep: Option<&HashSet<String>>) -> Result<HashMap<String, String>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = HashMap::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let (id, text) = line
            .split_once('\t')
            .ok_or_else(|| Error::Line { path: path.into(), line: i + 1, msg: "expected `id<TAB>text`".into() })?;
        if keep.is_none_or(|k| k.contains(id)) {
            out.insert(id.to_string(), text.replace('\t', " "));
        }
    }
    Ok(out)
}

/// trec_eval's ranking order: score descending, ties by docid descending. `-0.0` and `0.0` are
/// one score there (adding 0.0 turns `-0.0` into `0.0` before the total order).
pub fn trec_cmp(a: &(String, f64), b: &(String, f64)) -> std::cmp::Ordering {
    (b.1 + 0.0).total_cmp(&(a.1 + 0.0)).then_with(|| b.0.cmp(&a.0))
}

/// Averages of the measures the RankMamba paper reports.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Metrics {
    pub queries: usize,
    #[serde(rename = "MRR@10")]
    pub mrr_10: f64,
    #[serde(rename = "MRR@100")]
    pub mrr_100: f64,
    #[serde(rename = "NDCG@10")]
    pub ndcg_10: f64,
    #[serde(rename = "Recall@100")]
    pub recall_100: f64,
    #[serde(rename = "MAP")]
    pub map: f64,
}

/// Evaluate `run` against `qrels`. `judged_only` drops run documents without a judgment first.
pub fn evaluate(qrels: &Qrels, run: &Run, complete: bool, judged_only: bool) -> Metrics {
    let empty: HashMap<String, i32> = HashMap::new();
    let qids: Vec<&String> = if complete { qrels.keys().collect() } else { run.keys().filter(|q| qrels.contains_key(*q)).collect() };
    let mut sum = [0f64; 5];
    for qid in &qids {
        let judged = qrels.get(*qid).unwrap_or(&empty);
        let mut docs: Vec<&(String, f64)> = run.get(*qid).map(|v| v.iter().collect()).unwrap_or_default();
        if judged_only {
            docs.retain(|(d, _)| judged.contains_key(d));
        }
        docs.sort_by(|a, b| trec_cmp(a, b));
        let label = |d: &str| judged.get(d).copied().unwrap_or(0);
        let num_rel = judged.values().filter(|&&l| l >= 1).count();
        let rr = |k: usize| docs.iter().take(k).position(|(d, _)| label(d) >= 1).map_or(0.0, |p| 1.0 / (p + 1) as f64);
        let dcg = |gains: &mut dyn Iterator<Item = i32>| -> f64 {
            gains.take(10).enumerate().map(|(i, g)| g.max(0) as f64 / ((i + 2) as f64).log2()).sum()
        };
        let mut ideal: Vec<i32> = judged.values().copied().collect();
        ideal.sort_by(|a, b| b.cmp(a));
        let idcg = dcg(&mut ideal.into_iter());
        let ndcg = if idcg > 0.0 { dcg(&mut docs.iter().map(|(d, _)| label(d))) / idcg } else { 0.0 };
        let (mut hits, mut ap) = (0usize, 0f64);
        for (i, (d, _)) in docs.iter().enumerate() {
            if label(d) >= 1 {
                hits += 1;
                ap += hits as f64 / (i + 1) as f64;
            }
        }
        let recall_100 = if num_rel > 0 { docs.iter().take(100).filter(|(d, _)| label(d) >= 1).count() as f64 / num_rel as f64 } else { 0.0 };
        let map = if num_rel > 0 { ap / num_rel as f64 } else { 0.0 };
        for (s, v) in sum.iter_mut().zip([rr(10), rr(100), ndcg, recall_100, map]) {
            *s += v;
        }
    }
    let n = qids.len().max(1) as f64;
    Metrics { queries: qids.len(), mrr_10: sum[0] / n, mrr_100: sum[1] / n, ndcg_10: sum[2] / n, recall_100: sum[3] / n, map: sum[4] / n }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_zero_ties_with_zero_as_in_trec_eval() {
        let qrels = parse_qrels(Path::new("q"), "1 0 a 1\n").unwrap();
        // "-0.0" and "0.0" are one score: the larger docid (b) ranks first, a second
        let run = parse_run(Path::new("r"), "1 Q0 a 1 -0.0 t\n1 Q0 b 2 0.0 t\n").unwrap();
        assert_eq!(evaluate(&qrels, &run, false, false).mrr_10, 0.5);
    }

    #[test]
    fn ties_break_by_docid_descending_and_cutoffs_apply() {
        let qrels = parse_qrels(Path::new("q"), "1 0 a 1\n1 0 b 0\n2 0 x 2\n").unwrap();
        // a and b tie: trec_eval ranks b (larger id) first, so the relevant a is at rank 2
        let run = parse_run(Path::new("r"), "1 Q0 a 1 0.5 t\n1 Q0 b 2 0.5 t\n").unwrap();
        let m = evaluate(&qrels, &run, false, false);
        assert_eq!(m.queries, 1);
        assert!((m.mrr_10 - 0.5).abs() < 1e-12);
        let c = evaluate(&qrels, &run, true, false);
        assert_eq!(c.queries, 2);
        assert!((c.mrr_10 - 0.25).abs() < 1e-12);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let e = parse_run(Path::new("run.txt"), "1 Q0 a 1 0.5 t\n1 Q0 a 2 0.4 t\n").unwrap_err().to_string();
        assert!(e.starts_with("run.txt:2:") && e.contains("twice"), "{e}");
        let e = parse_qrels(Path::new("q.txt"), "1 0 a x\n").unwrap_err().to_string();
        assert!(e.starts_with("q.txt:1:"), "{e}");
    }
}
