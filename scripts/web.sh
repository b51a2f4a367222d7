#!/usr/bin/env bash
# Set up, build the npm package's wasm module and serve the demo page (web/) with the bundled
# models on http://127.0.0.1:${PORT:-8080}/ (Ctrl-C stops). Works offline; a Hugging Face
# model id typed into the page needs the network.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-pkg.sh
exec node web/serve.mjs "${PORT:-8080}"
