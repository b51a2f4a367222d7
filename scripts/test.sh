#!/usr/bin/env bash
# Set up the machine and run the whole test suite: unit tests, parity with transformers
# (fixtures in tests/fixtures), tokenizer, error paths, CLI; CPU and wgpu (Mesa lavapipe).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
cargo test --release --locked "$@"
