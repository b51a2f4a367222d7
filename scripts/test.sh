#!/usr/bin/env bash
# Set up the machine and run the whole test suite: unit tests, parity with transformers
# (fixtures in tests/fixtures), tokenizer, error paths, CLI, the WGSL kernels against float64
# oracles; on the CPU backend and on wgpu (Mesa lavapipe); then the wasm32 kernel tests in
# headless Chromium (WebGPU on SwiftShader); then the npm package in Node.js and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
cargo test --release --locked "$@"
bash scripts/test-wasm.sh
bash scripts/test-npm.sh
