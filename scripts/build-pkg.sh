#!/usr/bin/env bash
# Build the npm package's wasm module into pkg/wasm/: the crate for wasm32 (debian-web
# toolchain), wasm-bindgen (--target web: loads in browsers, workers and Node.js), then
# wasm-opt from npm binaryen (never Debian's: it breaks wgpu's wasm). wasm-opt takes minutes on
# this module, so its output is kept in $HOME/.cache/rankmamba/wasm-opt by input hash.
# RANKMAMBA_WASM_OPT=0 skips it (development builds).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo +debian-web build --release --locked --target wasm32-unknown-unknown --lib
raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/rankmamba.wasm"
out=pkg/wasm
mkdir -p "$out"
# the release profile strips symbols (native binaries go to the GPU machine), which removes
# the target_features section wasm-bindgen reads; wasm-opt below is told the features instead
wasm-bindgen --target web --out-dir "$out" --out-name rankmamba "$raw" 2>&1 | grep -v "target_features\` custom section is missing" || true
rm -f "$out"/rankmamba_bg.wasm.d.ts "$out"/rankmamba.d.ts
if [ "${RANKMAMBA_WASM_OPT:-1}" != 0 ]; then
  features=(--enable-simd --enable-bulk-memory --enable-bulk-memory-opt --enable-call-indirect-overlong
            --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals
            --enable-reference-types --enable-multivalue)
  hash=$(sha256sum "$out/rankmamba_bg.wasm" | cut -c1-24)
  cache="$HOME/.cache/rankmamba/wasm-opt"
  mkdir -p "$cache"
  if [ ! -f "$cache/$hash.wasm" ]; then
    echo "wasm-opt -Oz (about 5 minutes; cached afterwards)" >&2
    tools/node_modules/.bin/wasm-opt -Oz "${features[@]}" "$out/rankmamba_bg.wasm" -o "$cache/$hash.tmp"
    mv "$cache/$hash.tmp" "$cache/$hash.wasm"
  fi
  cp "$cache/$hash.wasm" "$out/rankmamba_bg.wasm"
fi
ls -l "$out"/rankmamba_bg.wasm >&2
