#!/usr/bin/env bash
# Set up the machine, build, and rerank the bundled sample documents with the bundled model,
# on the CPU and on wgpu (lavapipe here). The bundled model is a tiny *random* Mamba (a parity
# fixture), so its ranking is not meaningful until a trained default ships.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
cargo build --release --locked --bin rankmamba
BIN="$CARGO_TARGET_DIR/release/rankmamba"
QUERY="${1:-what is a selective state space model?}"
for dev in cpu wgpu; do
  echo "== rankmamba rerank --device $dev"
  "$BIN" rerank --model models/tiny-random-mamba --device "$dev" --query "$QUERY" --docs assets/sample_docs.jsonl --format table
done
