#!/usr/bin/env bash
# The wasm32 tests (scan and attention kernels) in headless Chromium (WebGPU on SwiftShader):
# builds the crate with the debian-web toolchain (scripts/setup-web-toolchain.sh) and runs them
# through wasm-bindgen-test-runner + chromedriver (.cargo/config.toml, webdriver.json).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
cargo +debian-web test --release --locked --target wasm32-unknown-unknown --test wasm_scan --test wasm_attention "$@"
