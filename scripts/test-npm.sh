#!/usr/bin/env bash
# The npm package's tests: build pkg/wasm (scripts/build-pkg.sh), then node --test on
# tests/npm/ — the packed tarball in Node.js, and the package in headless Chromium (WebGPU on
# SwiftShader, via playwright-core) against a local server in the hub's layout. Compares with
# the native CLI, so the native release build must exist (scripts/test.sh builds it first).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/build-pkg.sh
cargo build --release --locked --bin rankmamba
node --test --test-concurrency=1 tests/npm/
