//! Training data in the formats MS MARCO users have, turned into LCE groups (one positive
//! first, then negatives in their given order):
//! - a group file `qid \t pos_id \t neg_id …` (RankMamba's), with `queries.tsv` and
//!   `collection.tsv` (`id \t text`);
//! - TREC `qrels` + a first-stage TREC run: per query and epoch, one positive from the qrels and
//!   negatives sampled from the run's top-k (kept in run order);
//! - text triples `query \t positive \t negative` (groups of two).
//!
//! Files are read line by line; the collection and queries are read once and only the texts
//! the groups refer to are kept. Every malformed line is an error naming file and line.

use crate::error::{Error, Result};
use crate::eval::{parse_qrels, parse_run, read_id_texts};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Where the training pairs come from.
#[derive(Debug, Clone)]
pub enum DataSpec {
    Groups { groups: PathBuf, queries: PathBuf, collection: PathBuf },
    QrelsRun { qrels: PathBuf, run: PathBuf, queries: PathBuf, collection: PathBuf, top_k: usize },
    Triples { triples: PathBuf },
}

/// One LCE group: a query and its documents, the positive first.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub query: String,
    pub docs: Vec<String>,
}

/// Groups for every epoch, reproducible from (seed, epoch) so a resumed run sees the same data.
pub struct TrainData {
    kind: Kind,
    /// Documents per group.
    pub group_size: usize,
}

enum Kind {
    /// Fixed groups (group file, triples): shuffled per epoch.
    Fixed(Vec<Group>),
    /// Per query: text, positives, run candidates (non-positive) in rank order.
    Sampled { queries: Vec<(String, Vec<String>, Vec<String>)> },
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    Ok(std::io::BufReader::new(std::fs::File::open(path).map_err(|e| Error::io(path, e))?))
}

fn lookup<'a>(map: &'a HashMap<String, String>, id: &str, what: &str, file: &Path, line: usize, source: &Path) -> Result<&'a String> {
    map.get(id).ok_or_else(|| Error::Line { path: file.into(), line, msg: format!("{what} `{id}` is not in {}", source.display()) })
}

impl TrainData {
    pub fn load(spec: &DataSpec, group_size: usize) -> Result<Self> {
        if group_size < 2 {
            return Err(Error::Input("group size must be at least 2 (a positive and a negative)".into()));
        }
        match spec {
            DataSpec::Groups { groups, queries, collection } => Self::from_groups(groups, queries, collection, group_size),
            DataSpec::QrelsRun { qrels, run, queries, collection, top_k } => Self::from_qrels_run(qrels, run, queries, collection, *top_k, group_size),
            DataSpec::Triples { triples } => {
                if group_size != 2 {
                    return Err(Error::Input(format!("triples make groups of 2 (one positive, one negative); got --group-size {group_size}")));
                }
                Self::from_triples(triples)
            }
        }
    }

    fn from_groups(path: &Path, queries: &Path, collection: &Path, g: usize) -> Result<Self> {
        let mut raw = Vec::new();
        let (mut qids, mut dids) = (HashSet::new(), HashSet::new());
        for (i, line) in open(path)?.lines().enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').map(str::trim).collect();
            if f.len() < 3 {
                return Err(Error::Line { path: path.into(), line: i + 1, msg: "expected `qid<TAB>positive<TAB>negative…`".into() });
            }
            if f.len() < g + 1 {
                return Err(Error::Line {
                    path: path.into(),
                    line: i + 1,
                    msg: format!("{} negatives, but a group of {g} needs {}", f.len() - 2, g - 1),
                });
            }
            qids.insert(f[0].to_string());
            // the positive and the first g - 1 negatives, in file order
            let ids: Vec<String> = f[1..=g].iter().map(|s| s.to_string()).collect();
            dids.extend(ids.iter().cloned());
            raw.push((i + 1, f[0].to_string(), ids));
        }
        let qtext = read_id_texts(queries, Some(&qids))?;
        let dtext = read_id_texts(collection, Some(&dids))?;
        let mut groups = Vec::with_capacity(raw.len());
        for (line, qid, ids) in raw {
            let query = lookup(&qtext, &qid, "query", path, line, queries)?.clone();
            let docs = ids.iter().map(|d| lookup(&dtext, d, "passage", path, line, collection).cloned()).collect::<Result<_>>()?;
            groups.push(Group { query, docs });
        }
        Self::fixed(groups, g, path)
    }

    fn from_triples(path: &Path) -> Result<Self> {
        let mut groups = Vec::new();
        for (i, line) in open(path)?.lines().enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 3 || f.iter().any(|x| x.trim().is_empty()) {
                return Err(Error::Line { path: path.into(), line: i + 1, msg: "expected `query<TAB>positive<TAB>negative`".into() });
            }
            groups.push(Group { query: f[0].to_string(), docs: vec![f[1].to_string(), f[2].to_string()] });
        }
        Self::fixed(groups, 2, path)
    }

    fn fixed(groups: Vec<Group>, g: usize, path: &Path) -> Result<Self> {
        if groups.is_empty() {
            return Err(Error::format(path, "no training groups"));
        }
        Ok(Self { kind: Kind::Fixed(groups), group_size: g })
    }

    fn from_qrels_run(qrels: &Path, run: &Path, queries: &Path, collection: &Path, top_k: usize, g: usize) -> Result<Self> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Error::io(p, e));
        let qrels_map = parse_qrels(qrels, &read(qrels)?)?;
        let mut run_map = parse_run(run, &read(run)?)?;
        let mut plan: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for (qid, entries) in &mut run_map {
            // trec_eval's order: score descending, ties by docid descending
            entries.sort_by(crate::eval::trec_cmp);
            let ranked: Vec<&String> = entries.iter().map(|(d, _)| d).collect();
            let Some(judged) = qrels_map.get(qid) else { continue };
            let pos: Vec<String> = judged.iter().filter(|(_, r)| **r > 0).map(|(d, _)| d.clone()).collect();
            if pos.is_empty() {
                continue;
            }
            let negs: Vec<String> = ranked.iter().take(top_k).filter(|d| judged.get(**d).is_none_or(|r| *r <= 0)).map(|d| d.to_string()).collect();
            if negs.len() >= g - 1 {
                plan.insert(qid.clone(), (pos, negs));
            }
        }
        if plan.is_empty() {
            return Err(Error::format(run, format!("no query has a positive in {} and {} non-relevant documents in its top {top_k}", qrels.display(), g - 1)));
        }
        let qids: HashSet<String> = plan.keys().cloned().collect();
        let dids: HashSet<String> = plan.values().flat_map(|(p, n)| p.iter().chain(n)).cloned().collect();
        let qtext = read_id_texts(queries, Some(&qids))?;
        let dtext = read_id_texts(collection, Some(&dids))?;
        let text = |map: &HashMap<String, String>, id: &str, src: &Path| {
            map.get(id).cloned().ok_or_else(|| Error::format(src, format!("`{id}` (from {}) is missing", run.display())))
        };
        let mut out = Vec::new();
        for (qid, (pos, negs)) in plan {
            let q = text(&qtext, &qid, queries)?;
            let p = pos.iter().map(|d| text(&dtext, d, collection)).collect::<Result<_>>()?;
            let n = negs.iter().map(|d| text(&dtext, d, collection)).collect::<Result<_>>()?;
            out.push((q, p, n));
        }
        Ok(Self { kind: Kind::Sampled { queries: out }, group_size: g })
    }

    /// Groups per epoch.
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Fixed(g) => g.len(),
            Kind::Sampled { queries } => queries.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The groups of `epoch` in training order (a function of seed and epoch only).
    pub fn epoch(&self, seed: u64, epoch: usize) -> Vec<Group> {
        let mut rng = StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut groups: Vec<Group> = match &self.kind {
            Kind::Fixed(g) => g.clone(),
            Kind::Sampled { queries } => queries
                .iter()
                .map(|(q, pos, negs)| {
                    let p = pos.choose(&mut rng).cloned().unwrap_or_default();
                    // negatives sampled, then kept in run order (never shuffled within a group)
                    let mut idx: Vec<usize> = (0..negs.len()).collect();
                    idx.shuffle(&mut rng);
                    let mut pick: Vec<usize> = idx[..self.group_size - 1].to_vec();
                    pick.sort_unstable();
                    let mut docs = vec![p];
                    docs.extend(pick.into_iter().map(|i| negs[i].clone()));
                    Group { query: q.clone(), docs }
                })
                .collect(),
        };
        groups.shuffle(&mut rng);
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn group_files_keep_file_order_and_name_bad_lines() {
        let d = tempfile::tempdir().unwrap();
        let q = write(d.path(), "queries.tsv", "q1\twhat is a\nq2\twhat is b\n");
        let c = write(d.path(), "collection.tsv", "d1\tA\nd2\tB\nd3\tC\nd4\tD\n");
        let g = write(d.path(), "groups.tsv", "q1\td1\td3\td2\td4\nq2\td2\td4\td1\n");
        let data = TrainData::load(&DataSpec::Groups { groups: g.clone(), queries: q.clone(), collection: c.clone() }, 3).unwrap();
        let e0 = data.epoch(7, 0);
        assert_eq!(e0.len(), 2);
        let g1 = e0.iter().find(|x| x.query == "what is a").unwrap();
        assert_eq!(g1.docs, ["A", "C", "B"]);
        assert_eq!(data.epoch(7, 0), e0, "an epoch is a function of seed and epoch");

        let err = TrainData::load(&DataSpec::Groups { groups: g.clone(), queries: q.clone(), collection: c.clone() }, 4).err().unwrap().to_string();
        assert!(err.contains("groups.tsv:2: 2 negatives, but a group of 4 needs 3"), "{err}");
        let bad = write(d.path(), "bad.tsv", "q1\td1\td9\n");
        let err = TrainData::load(&DataSpec::Groups { groups: bad, queries: q, collection: c }, 2).err().unwrap().to_string();
        assert!(err.contains("bad.tsv:1: passage `d9` is not in"), "{err}");
    }

    #[test]
    fn qrels_and_run_sample_negatives_in_run_order() {
        let d = tempfile::tempdir().unwrap();
        let q = write(d.path(), "q.tsv", "1\tquery one\n");
        let c = write(d.path(), "c.tsv", &(0..10).map(|i| format!("p{i}\tpassage {i}\n")).collect::<String>());
        let qrels = write(d.path(), "qrels", "1 0 p3 1\n1 0 p5 0\n");
        let run = write(d.path(), "run", &(0..10).map(|i| format!("1 Q0 p{i} {} {} bm25\n", i + 1, 10 - i)).collect::<String>());
        let data = TrainData::load(&DataSpec::QrelsRun { qrels, run, queries: q, collection: c, top_k: 8, }, 4).unwrap();
        for epoch in 0..5 {
            let g = &data.epoch(1, epoch)[0];
            assert_eq!(g.docs[0], "passage 3");
            let ranks: Vec<usize> = g.docs[1..].iter().map(|t| t.trim_start_matches("passage ").parse().unwrap()).collect();
            assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?} not in run order");
            assert!(ranks.iter().all(|r| *r < 8 && *r != 3), "{ranks:?}");
        }
    }

    #[test]
    fn triples_are_groups_of_two() {
        let d = tempfile::tempdir().unwrap();
        let t = write(d.path(), "triples.tsv", "q\tgood\tbad\nq2\tonly two\n");
        let err = TrainData::load(&DataSpec::Triples { triples: t }, 2).err().unwrap().to_string();
        assert!(err.contains("triples.tsv:2: expected `query<TAB>positive<TAB>negative`"), "{err}");
    }
}
