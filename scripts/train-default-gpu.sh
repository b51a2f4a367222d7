#!/usr/bin/env bash
# Train the bundled default models on BoolQ (scripts/boolq_data.py) on a GPU machine, and
# evaluate them on the held-out split next to BM25 and random (BENCHMARKS.md §6):
# a small Mamba reranker and a small BERT cross-encoder, both from random init (no pretrained
# Mamba is reachable from here), LCE over groups of 8 with negatives from BM25's top 30.
#
#   bash scripts/train-default-gpu.sh prepare   # here: data, train + rankmamba binaries into .device/
#   # device tool: run(command="bash scripts/train-default-gpu.sh run", carry=[".device", ".gl"])
#   # then copy $OUT/mamba and $OUT/bert to models/ (scripts/train-default-gpu.sh install DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/device-lib.sh
case "${1:-}" in
  prepare)
    . scripts/env.sh
    cargo build --release --locked --bin train --bin rankmamba
    rm -rf .device && mkdir -p .device
    python3 scripts/boolq_data.py /tmp/boolq-data
    tar -C /tmp -cJf .device/boolq.tar.xz boolq-data
    pack_binaries train rankmamba
    cp "$HOME/.cache/rankmamba/all-MiniLM-L6-v2/tokenizer.json" .device/bert-tokenizer.json
    ls -la .device
    ;;
  run)
    device_setup
    out=${OUT:-/tmp/out}
    mkdir -p "$out" /tmp/init
    tar -C /tmp -xJf .device/boolq.tar.xz
    D=/tmp/boolq-data
    python3 - <<'PY'
import shutil, torch
from transformers import MambaConfig, MambaModel, BertConfig, BertModel
torch.manual_seed(0)
MambaModel(MambaConfig(vocab_size=50280, hidden_size=64, num_hidden_layers=6, state_size=16, expand=2, conv_kernel=4)).save_pretrained("/tmp/init/mamba")
shutil.copy("tests/fixtures/tiny-hf/tokenizer.json", "/tmp/init/mamba/")
BertModel(BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256), add_pooling_layer=True).save_pretrained("/tmp/init/bert")
shutil.copy(".device/bert-tokenizer.json", "/tmp/init/bert/tokenizer.json")
PY
    for m in mamba bert; do
      timeout "${TRAIN_S:-230}" /tmp/bin/train --model "/tmp/init/$m" --output "/tmp/run-$m" --device wgpu \
        --qrels $D/qrels.train --run $D/bm25.train.run --queries $D/queries.train.tsv --collection $D/collection.tsv \
        --top-k 30 --epochs "${EPOCHS:-4}" --lr 1e-3 --warmup-steps 100 --max-length 256 --save-every 100 --keep 1 \
        --final-dtype f16 2>&1 | tail -2 | tee "$out/train-$m.txt" || true
      cp "/tmp/run-$m/log.jsonl" "$out/log-$m.jsonl" || true
      model=/tmp/run-$m/final
      [ -d "$model" ] || model=$(ls -d /tmp/run-$m/checkpoint-* | tail -1)
      echo "evaluating $model" | tee -a "$out/train-$m.txt"
      mkdir -p "$out/$m" && cp "$model"/config.json "$model"/tokenizer.json "$model"/model.safetensors "$out/$m/"
      timeout 120 /tmp/bin/rankmamba eval --qrels $D/qrels.heldout --run $D/bm25.heldout.run --model "$model" --device wgpu \
        --queries $D/queries.heldout.tsv --collection $D/collection.tsv --output "/tmp/$m.heldout.run" --top-k 30 --max-length 256 \
        2>/dev/null | tee "$out/eval-$m.json" || true
    done
    for r in bm25 random; do /tmp/bin/rankmamba eval --qrels $D/qrels.heldout --run $D/$r.heldout.run | tee "$out/eval-$r.json"; done
    ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
