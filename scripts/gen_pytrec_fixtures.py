#!/usr/bin/env python3
"""More qrels/run pairs for `rankmamba eval`, with pytrec_eval's answers (tests/fixtures/pytrec_eval).

Three seeded synthetic pairs: graded relevance (0-3), unjudged documents, score ties (which
trec_eval breaks by docid, descending), runs longer than 100 documents, run queries without
judgments and judged queries without a run. Expected values: pytrec_eval (pytrec-eval-terrier
0.5.11, trec_eval inside) per query, averaged over the queries in both files (trec_eval without -c).
Usage: pip install pytrec-eval-terrier==0.5.11 && python3 scripts/gen_pytrec_fixtures.py
"""
import json, os, random
import pytrec_eval

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "pytrec_eval")
MEASURES = {"map", "ndcg_cut_10", "recall_100", "recip_rank"}


def pair(seed, queries, docs, depth):
    r = random.Random(seed)
    qrels, run = {}, {}
    for q in range(queries):
        qid = f"q{q}"
        judged = r.sample(range(docs), r.randint(3, 25))
        qrels[qid] = {f"d{d}": r.choice([0, 1, 1, 2, 3]) for d in judged}
        if not any(v > 0 for v in qrels[qid].values()):
            qrels[qid][f"d{judged[0]}"] = 1
        # the run ranks a mix of judged and unjudged documents; scores rounded so some tie
        cands = r.sample(range(docs), depth)
        run[qid] = {f"d{d}": round(r.gauss(0, 1) + (1.5 * qrels[qid].get(f"d{d}", 0) if r.random() < 0.7 else 0), 1) for d in cands}
    run[f"q{queries}"] = {"d1": 1.0, "d2": 0.5}            # a run query without judgments
    qrels[f"q{queries + 1}"] = {"d3": 1}                  # judged, but not in the run
    return qrels, run


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, (seed, queries, docs, depth) in {"small": (1, 12, 60, 40), "deep": (2, 30, 400, 150), "ties": (3, 20, 120, 100)}.items():
        qrels, run = pair(seed, queries, docs, depth)
        with open(f"{OUT}/{name}.qrels", "w") as f:
            for q, ds in qrels.items():
                for d, rel in ds.items():
                    f.write(f"{q} 0 {d} {rel}\n")
        with open(f"{OUT}/{name}.run", "w") as f:
            for q, ds in run.items():
                for rank, (d, s) in enumerate(sorted(ds.items(), key=lambda x: -x[1])):
                    f.write(f"{q} Q0 {d} {rank + 1} {s} synthetic\n")
        per_q = pytrec_eval.RelevanceEvaluator(qrels, MEASURES).evaluate(run)
        mean = {m: sum(v[m] for v in per_q.values()) / len(per_q) for m in MEASURES}
        mean["num_q"] = len(per_q)
        # MRR@k: recip_rank of the run cut to its top k in trec_eval's order (score descending,
        # ties by docid descending)
        for k in (10, 100):
            order = lambda ds: sorted(sorted(ds.items(), key=lambda x: x[0], reverse=True), key=lambda x: -x[1])
            cut = {q: dict(order(ds)[:k]) for q, ds in run.items()}
            rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
            mean[f"recip_rank@{k}"] = sum(v["recip_rank"] for v in rr.values()) / len(rr)
        expected[name] = mean
    with open(f"{OUT}/expected.json", "w") as f:
        json.dump({"source": "pytrec_eval (pytrec-eval-terrier 0.5.11), scripts/gen_pytrec_fixtures.py", "pairs": expected}, f, indent=1)
        f.write("\n")
    print(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
