#!/usr/bin/env bash
# Train the bundled default models on BoolQ on a GPU machine (BENCHMARKS.md §6): a small Mamba
# reranker and a small BERT cross-encoder, both from random init (no pretrained Mamba is
# reachable from here), trained one after the other on the one GPU. Training data
# (scripts/boolq_data.py): the 2,618 training questions (repeated REAL_REPEAT times) and 24
# pseudo-questions per training passage, LCE groups of 8 with negatives from BM25's top 30
# over the training passages. Held-out questions and passages are never seen.
#
#   bash scripts/train-default-gpu.sh prepare   # here: data + the train binary into .device/
#   # device tool: run(command="bash scripts/train-default-gpu.sh run", carry=[".device", ".gl"])
#   tar -xf result.tar -C DIR                 # here: what the run brought back
#   bash scripts/train-default-gpu.sh eval DIR  # here: held-out metrics of DIR/{mamba,bert}, BM25, random
#   bash scripts/train-default-gpu.sh install DIR   # DIR/{mamba,bert} → models/boolq-{mamba,bert} (f16)
# Env for run: MODELS (default "mamba bert"), TRAIN_S (time budget per model; default 500 s shared
# by the models, so one call stays inside the device tool's 10 minutes),
# STEPS_MAMBA, STEPS_BERT, LR, WARMUP, REAL_REPEAT. prepare with INIT_FROM=DIR (DIR/mamba, DIR/bert)
# continues from those weights instead of random init.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/device-lib.sh
data=${BOOLQ_DATA:-/tmp/boolq-data}
case "${1:-}" in
  prepare)
    . scripts/env.sh
    cargo build --release --locked --bin train
    rm -rf .device && mkdir -p .device
    [ -f "$data/bm25.pseudo.run" ] || python3 scripts/boolq_data.py "$data" --pseudo 24
    # the device tool carries 64 MiB with the tree: the runs go with ranks for scores (training
    # uses only their order) and a checkpoint to continue from (INIT_FROM) in f16
    rm -rf /tmp/boolq-carry && mkdir -p /tmp/boolq-carry/d && cp "$data"/{collection.tsv,queries.train.tsv,qrels.train,queries.pseudo.tsv,qrels.pseudo} /tmp/boolq-carry/d/
    for r in train pseudo; do awk '{print $1, "Q0", $3, $4, 1000 - $4, "bm25"}' "$data/bm25.$r.run" > "/tmp/boolq-carry/d/bm25.$r.run"; done
    tar -C /tmp/boolq-carry -cf - d | xz -T2 -9 > .device/boolq.tar.xz
    pack_binaries train
    if [ -n "${INIT_FROM:-}" ]; then
      for m in ${MODELS:-mamba bert}; do python3 scripts/to_f16.py "$INIT_FROM/$m" ".device/init/$m"; done
    else cp "$HOME/.cache/rankmamba/all-MiniLM-L6-v2/tokenizer.json" .device/bert-tokenizer.json; fi
    ls -la .device
    ;;
  run)
    device_setup
    out=${OUT:-/tmp/out}
    mkdir -p "$out" /tmp/init /tmp/d
    tar -C /tmp/d -xJf .device/boolq.tar.xz && D=$(ls -d /tmp/d/*)
    # the real questions REAL_REPEAT times (new qids), then the pseudo-questions
    for f in queries.%s.tsv qrels.%s bm25.%s.run; do
      { for k in $(seq "${REAL_REPEAT:-4}"); do sed "s/^q/r${k}q/" "$D/${f//%s/train}"; done; cat "$D/${f//%s/pseudo}"; } > "$D/${f//%s/mix}"
    done
    if [ -d .device/init ]; then cp -r .device/init/* /tmp/init/; else
      python3 scripts/init_default_models.py /tmp/init .device/bert-tokenizer.json 2>&1 | grep -v "Writing model shards" || true; fi
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
    # one model after the other: two processes sharing the GPU each ran 1.5-3x slower than alone
    models=${MODELS:-mamba bert}
    budget=${TRAIN_S:-$((500 / $(wc -w <<< "$models")))}
    for m in $models; do
      steps=STEPS_${m^^}
      timeout "$budget" /tmp/bin/train --model "/tmp/init/$m" --output "/tmp/run-$m" --device wgpu \
        --qrels $D/qrels.mix --run $D/bm25.mix.run --queries $D/queries.mix.tsv --collection $D/collection.tsv \
        --top-k 30 --batch-groups 8 --max-steps "${!steps:-2000}" --lr "${LR:-1e-3}" --warmup-steps "${WARMUP:-100}" \
        --max-length 256 --save-every 250 --keep 1 > "/tmp/train-$m.txt" 2>&1 || true
      mkdir -p "/tmp/res/$m"
      tail -c 400 "/tmp/train-$m.txt" > "/tmp/res/train-$m.txt"
      cp "/tmp/run-$m/log.jsonl" "/tmp/res/log-$m.jsonl" || true
      model=/tmp/run-$m/final
      [ -d "$model" ] || model=$(ls -d /tmp/run-$m/checkpoint-* | tail -1)
      echo "$model" >> "/tmp/res/train-$m.txt"
      cp "$model"/config.json "$model"/tokenizer.json "$model"/model.safetensors "/tmp/res/$m/"
    done
    # one archive: the device tool brings back only a few files per call
    tar -C /tmp/res -cf "$out/result.tar" .
    ;;
  eval)
    dir=${2:?usage: $0 eval DIR}
    . scripts/env.sh
    cargo build --release --locked --bin rankmamba
    [ -f "$data/bm25.heldout.run" ] || python3 scripts/boolq_data.py "$data" --pseudo 24
    bin=$CARGO_TARGET_DIR/release/rankmamba
    for r in bm25 random random30; do echo "$r $("$bin" eval --qrels $data/qrels.heldout --run $data/$r.heldout.run)"; done
    for m in mamba bert; do
      [ -d "$dir/$m" ] || continue
      echo "$m $("$bin" eval --qrels $data/qrels.heldout --run $data/bm25.heldout.run --model "$dir/$m" \
        --queries $data/queries.heldout.tsv --collection $data/collection.tsv --output "$dir/$m.heldout.run" --top-k 30 --max-length 256)"
    done
    ;;
  install)
    dir=${2:?usage: $0 install DIR}
    for m in mamba bert; do python3 scripts/to_f16.py "$dir/$m" "models/boolq-$m"; done
    ;;
  *) echo "usage: $0 prepare|run|eval DIR|install DIR" >&2; exit 2 ;;
esac
