#!/usr/bin/env bash
# Set up the machine, build, and run the bundled default model (models/boolq-mamba, trained on
# BoolQ, BENCHMARKS.md §6): rerank the sample documents on the CPU and on wgpu (lavapipe here),
# then rerank BM25's top 10 for 150 held-out BoolQ questions and evaluate it beside BM25.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
cargo build --release --locked --bin rankmamba
BIN="$CARGO_TARGET_DIR/release/rankmamba"
MODEL=models/boolq-mamba
QUERY="${1:-is a state space model a kind of neural network?}"
for dev in cpu wgpu; do
  echo "== rankmamba rerank --model $MODEL --device $dev"
  "$BIN" rerank --model "$MODEL" --device "$dev" --query "$QUERY" --docs assets/sample_docs.jsonl --format table
done
H=assets/boolq-heldout
echo "== held-out BoolQ (150 questions), BM25's top 10: BM25 alone"
"$BIN" eval --qrels $H/qrels --run $H/bm25.run
echo "== reranked by $MODEL (run written to /tmp/boolq-heldout.$(basename $MODEL).run)"
"$BIN" eval --qrels $H/qrels --run $H/bm25.run --model "$MODEL" --queries $H/queries.tsv --collection $H/collection.tsv \
  --output "/tmp/boolq-heldout.$(basename $MODEL).run" --top-k 10 --max-length 256
