#!/usr/bin/env bash
# Training throughput on a GPU machine (BENCHMARKS.md §5), rankmamba's `train` on wgpu beside
# PyTorch + transformers in the same run: sequences/s at 64 sequences (8 LCE groups of 8) ×
# 512 tokens, random-init Mamba-130m-size and BERT-base-size models, and peak GPU memory.
#
#   bash scripts/bench-train-gpu.sh prepare     # here: release `train` + the BERT tokenizer into .device/
#   # device tool: run(command="bash scripts/bench-train-gpu.sh run", carry=[".device", ".gl"])
#   CHECKS="selective_scan matmul_coop" bash scripts/bench-train-gpu.sh prepare   # + those kernel
#   # tests, run on the GPU before the timings (TRAINING_SHAPES=1: at training shapes; TRAIN=0:
#   # the tests alone; CHECK_SHAPES: the tests again with the tensor-core kernel in those shapes).
#   # PROBE=1: the matmul probe too, DISPATCH=1: the launch-cost probe (run with MATMUL=0: the
#   # launch-cost probe alone; PEAK=1: the tensor-core kernel's inner loop alone; SHAPES=1: the tensor-core kernel's
#   # shapes, the fastest usable in RUNS as RANKMAMBA_COOP_SHAPE=BEST; SMALL=1: the small-product shapes). `train` and the tests go into one archive with a large xz dictionary
#   # (they share most of their code): two tests fit the 64 MiB carry beside `train`.
#   # PIPELINES=1: the driver's compile statistics (registers, spills) of every kernel of each
#   # profiled run (`probe_pipeline`), and of the cubecl logs given in PIPELINE_LOGS at prepare.
#   # BACKENDS=1: examples/probe_backends.rs too (burn's SPIR-V matmuls, the WGSL
#   # kernels beside them), run before the matmul probe, with torch at the same shapes; no
#   # `train` then (the carry's limit): PROBE=1 BACKENDS=1 prepare, then run with SHAPES=1 PROBE_ONLY=1.
#   # HOST_PROFILE=1: `train` built to sample its host threads (src/train/host_profile.rs), for
#   # RUNS' host variant (e.g. mamba-130m:mixed:host): host-<run>.txt.xz (collapsed stacks) and
#   # host-<run>-summary.txt (scripts/host_profile_summary.py).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/device-lib.sh
case "${1:-}" in
  prepare)
    . scripts/env.sh
    rm -rf .device /tmp/rankmamba-bins
    mkdir -p .device /tmp/rankmamba-bins
    bins=()
    if [ "${TRAIN:-1}" = 1 ]; then
      if [ "${HOST_PROFILE:-0}" = 1 ]; then
        # HOST_PROFILE=1: `train` with the host-profile feature and its symbols (profile
        # `profiling`), for RUNS' host variant; the probes as release builds
        cargo build --profile profiling --locked --features host-profile --bin train
        cp "$CARGO_TARGET_DIR/profiling/train" /tmp/rankmamba-bins/ && bins+=(train)
        [ "${PROBE:-0}${PIPELINES:-0}${DISPATCH:-0}" = 000 ] || cargo build --release --locked --example probe_matmul --example probe_dispatch --example probe_pipeline
      else
        cargo build --release --locked --bin train --example probe_matmul --example probe_dispatch --example probe_pipeline
        # (BACKENDS=1: no `train`, which does not fit the 64 MiB carry beside both matmul probes;
        # run with PROBE_ONLY=1)
        [ "${BACKENDS:-0}" = 1 ] || { cp "$CARGO_TARGET_DIR/release/train" /tmp/rankmamba-bins/ && bins+=(train); }
      fi
      # PROBE=1: the matmul probe too, DISPATCH=1 the launch-cost probe (the carry has room for
      # both only without CHECKS, for the matmul probe beside one test)
      if [ "${PROBE:-0}" = 1 ]; then
        cp "$CARGO_TARGET_DIR/release/examples/probe_matmul" /tmp/rankmamba-bins/ && bins+=(probe_matmul)
      fi
      if [ "${PIPELINES:-0}" = 1 ]; then
        cp "$CARGO_TARGET_DIR/release/examples/probe_pipeline" /tmp/rankmamba-bins/ && bins+=(probe_pipeline)
        # logs of earlier runs (xz or plain) to read on the device too
        n=0; for l in ${PIPELINE_LOGS:-}; do n=$((n + 1)); xz -dcf "$l" > "/tmp/rankmamba-bins/log$n.log" && bins+=("log$n.log"); done
      fi
      if [ "${DISPATCH:-0}" = 1 ]; then
        cp "$CARGO_TARGET_DIR/release/examples/probe_dispatch" /tmp/rankmamba-bins/ && bins+=(probe_dispatch)
      fi
    fi
    # BACKENDS=1: burn's SPIR-V matmuls and the raw-wgpu route for the WGSL kernels
    # (examples/probe_backends.rs; its own feature, which switches burn's Vulkan devices to SPIR-V)
    if [ "${BACKENDS:-0}" = 1 ]; then
      cargo build --release --locked --features backend-probe --example probe_backends
      cp "$CARGO_TARGET_DIR/release/examples/probe_backends" /tmp/rankmamba-bins/ && bins+=(probe_backends)
    fi
    for t in ${CHECKS:-}; do
      bin=$(cargo test --release --locked --no-run --test "$t" 2>&1 | grep -o "target/release/deps/$t-[0-9a-f]*" | tail -1)
      cp "$CARGO_TARGET_DIR/release/deps/$(basename "$bin")" "/tmp/rankmamba-bins/test_$t" && bins+=("test_$t")
    done
    tar -C /tmp/rankmamba-bins -cf - "${bins[@]}" | xz -T1 -9e --lzma2=dict=192MiB > .device/bins.tar.xz
    cp "$HOME/.cache/rankmamba/all-MiniLM-L6-v2/tokenizer.json" .device/bert-tokenizer.json
    ls -la .device
    total=$(( $(du -sb .device .gl | cut -f1 | paste -sd+ | bc) + $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) ))
    echo "carry with the tracked tree: $total bytes (limit $((64 << 20)))"
    ;;
  run)
    # the device tool brings back at most 8 files: more than that go back as one archive
    pack_out() {
      local o=${OUT:-/tmp/out}
      [ "$(find "$o" -type f | wc -l)" -gt 8 ] || return 0
      tar -C "$o" -cJf /tmp/results.tar.xz . && find "$o" -mindepth 1 -delete && mv /tmp/results.tar.xz "$o/"
    }
    trap pack_out EXIT
    device_setup
    tar -C /tmp/bin -xJf .device/bins.tar.xz
    out=${OUT:-/tmp/out}
    steps=${STEPS:-10}
    mkdir -p "$out" /tmp/m
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
    # the kernel tests first (CHECKS= of prepare), at training shapes with TRAINING_SHAPES=1;
    # CHECK_SHAPES="WMxWNxTMxTNxBKxSTAGES ...": again with the tensor-core kernel in each;
    # CHECK_ENVS: again under each set of variables
    for t in /tmp/bin/test_*; do
      [ -x "$t" ] || continue
      for shape in default ${CHECK_SHAPES:-}; do
        [ "$shape" = default ] && unset RANKMAMBA_COOP_SHAPE || export RANKMAMBA_COOP_SHAPE=$shape
        echo "== $(basename "$t") with the tensor-core shape $shape" | tee -a "$out/$(basename "$t").txt"
        RANKMAMBA_TRAINING_SHAPES=${TRAINING_SHAPES:-0} RANKMAMBA_FIXTURES="$PWD/tests/fixtures" "$t" --test-threads 1 2>&1 | grep -v '^$' | tee -a "$out/$(basename "$t").txt" || true
      done
      unset RANKMAMBA_COOP_SHAPE
      # CHECK_ENVS="VAR=VALUE[,VAR=VALUE] ...": again under each (a kernel's benchmark knobs)
      for envs in ${CHECK_ENVS:-}; do
        echo "== $(basename "$t") with $envs" | tee -a "$out/$(basename "$t").txt"
        env ${envs//,/ } RANKMAMBA_TRAINING_SHAPES=${TRAINING_SHAPES:-0} RANKMAMBA_FIXTURES="$PWD/tests/fixtures" "$t" --test-threads 1 2>&1 | grep -v '^$' | tee -a "$out/$(basename "$t").txt" || true
      done
    done
    # the driver's statistics of the kernels of logs carried from earlier runs (PIPELINES=1)
    if [ -x /tmp/bin/probe_pipeline ]; then
      for l in /tmp/bin/log*.log; do
        [ -f "$l" ] && /tmp/bin/probe_pipeline "$l" 2>&1 | tee "$out/pipelines-$(basename "$l" .log).txt" || true
      done
    fi
    # what the matmuls can reach: burn's WGSL matmul and the adapter's cooperative-matrix offer,
    # beside torch's matmul (fp32, tf32, bf16) at the same shapes
    # what a launch costs apart from its work (host and device), raw wgpu beside burn + cubecl;
    # also with cubecl submitting every 256 launches instead of 32
    if [ -x /tmp/bin/probe_dispatch ]; then
      { /tmp/bin/probe_dispatch; echo "CUBECL_WGPU_MAX_TASKS=256:"; CUBECL_WGPU_MAX_TASKS=256 /tmp/bin/probe_dispatch | tail -1; } 2>&1 | tee "$out/probe_dispatch.txt" || true
    fi
    # burn's other tensor-core route (BACKENDS=1 at prepare): its SPIR-V matmuls at the
    # step's products, beside torch's bf16 at the same shapes; the WGSL kernels beside SPIR-V
    if [ -x /tmp/bin/probe_backends ]; then
      /tmp/bin/probe_backends --iters 10 2>&1 | tee "$out/probe_backends.txt" || true
      python3 - <<'PY' 2>&1 | tee -a "$out/probe_backends.txt" || true
import torch
for (name, m, k, n, ta) in (("in_proj half x·wᵀ 32768x768·768x1536", 32768, 768, 1536, False), ("out_proj x·wᵀ 32768x1536·1536x768", 32768, 1536, 768, False),
                            ("dW dyᵀ·x 1536x32768·32768x768", 1536, 32768, 768, True), ("square 4096", 4096, 4096, 4096, False)):
    for label, dt in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        a = torch.randn(k, m, device="cuda", dtype=dt).t() if ta else torch.randn(m, k, device="cuda", dtype=dt)
        b = torch.randn(k, n, device="cuda", dtype=dt)
        for _ in range(3): a @ b
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        ts = []
        for _ in range(10):
            s.record()
            for _ in range(10): a @ b
            e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e) / 1e4)
        ts.sort(); t = ts[len(ts) // 2]
        print(f"torch matmul {name} {label}: {t * 1e3:.3f} ms, {2 * m * k * n / t / 1e12:.1f} TFLOP/s")
PY
    fi
    # MATMUL=0: skip the matmul probe
    if [ -x /tmp/bin/probe_matmul ] && [ "${SHAPES:-0}" = 0 ] && [ "${MATMUL:-1}" = 1 ]; then
    /tmp/bin/probe_matmul --iters 10 2>&1 | tee "$out/probe_matmul.txt" || true
    python3 - <<'PY' 2>&1 | tee -a "$out/probe_matmul.txt" || true
import torch
for (name, m, k, n) in (("in_proj / FFN of a 64 x 512 step: 32768x768 @ 768x3072", 32768, 768, 3072), ("square 4096", 4096, 4096, 4096)):
    for label, dt, tf32 in (("fp32", torch.float32, False), ("tf32", torch.float32, True), ("bf16", torch.bfloat16, False)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.randn(m, k, device="cuda", dtype=dt); b = torch.randn(k, n, device="cuda", dtype=dt)
        for _ in range(3): a @ b
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        ts = []
        for _ in range(10):
            s.record(); a @ b; e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e) / 1e3)
        ts.sort(); t = ts[len(ts) // 2]
        print(f"torch matmul {name} {label}: {t * 1e3:.3f} ms, {2 * m * k * n / t / 1e12:.1f} TFLOP/s")
PY
    fi
    # PEAK=1: the tensor-core kernel's inner loop alone (its ceiling on this adapter)
    if [ -x /tmp/bin/probe_matmul ] && [ "${PEAK:-0}" = 1 ]; then
      /tmp/bin/probe_matmul --iters 10 --peak 2>&1 | tee "$out/probe_peak.txt" || true
    fi
    # SMALL=1: the small-product candidates on x_proj's and dt_proj's products, under the
    # persistent grid and with one workgroup per block
    if [ -x /tmp/bin/probe_matmul ] && [ "${SMALL:-0}" = 1 ]; then
      /tmp/bin/probe_matmul --iters 10 --small 2>&1 | tee "$out/probe_small.txt" || true
      RANKMAMBA_COOP_WORKGROUPS=0 /tmp/bin/probe_matmul --iters 10 --small 2>&1 | tee "$out/probe_small_per_block.txt" || true
    fi
    # SHAPES=1: the tensor-core kernel's candidate shapes on a training step's products; the
    # fastest over the step's four products (BEST in a run's VAR=VALUE field below)
    best=
    if [ -x /tmp/bin/probe_matmul ] && [ "${SHAPES:-0}" = 1 ]; then
      /tmp/bin/probe_matmul --iters 10 --shapes 2>&1 | tee "$out/probe_shapes.txt" || true
      best=$(python3 - "$out/probe_shapes.txt" <<'PY'
import re, sys, collections
total = collections.Counter(); seen = collections.Counter()
for line in open(sys.argv[1]):
    m = re.match(r"(.*?) CoopShape \{ wm: (\d+), wn: (\d+), tm: (\d+), tn: (\d+), bk: (\d+), stages: (\d+) \}: ([\d.]+) ms", line)
    if m and not m.group(1).startswith("square"):
        key = "x".join(m.group(i) for i in range(2, 8)); total[key] += float(m.group(8)); seen[key] += 1
full = [k for k in total if seen[k] == max(seen.values())]
print(min(full, key=total.get) if full else "")
PY
)
      echo "fastest shape over the step's products: ${best:-none}" | tee -a "$out/probe_shapes.txt"
    fi
    [ "${PROBE_ONLY:-0}" = 1 ] && exit 0
    [ -x /tmp/bin/train ] || exit 0
    # random-init checkpoints in the Hugging Face layout, and long synthetic training groups
    python3 - <<'PY' 2>&1 | tee "$out/setup.txt"
import json, os, random, shutil, torch
from transformers import MambaConfig, MambaModel, BertConfig, BertForSequenceClassification
torch.manual_seed(0)
m = MambaModel(MambaConfig(vocab_size=50280, hidden_size=768, num_hidden_layers=24, state_size=16, expand=2, conv_kernel=4))
m.save_pretrained("/tmp/m/mamba-130m"); shutil.copy("tests/fixtures/tiny-hf/tokenizer.json", "/tmp/m/mamba-130m/")
# the same 24-layer graph with little arithmetic (d 64): its step time is the host's share
t = MambaModel(MambaConfig(vocab_size=50280, hidden_size=64, num_hidden_layers=24, state_size=16, expand=2, conv_kernel=4))
t.save_pretrained("/tmp/m/mamba-24x64"); shutil.copy("tests/fixtures/tiny-hf/tokenizer.json", "/tmp/m/mamba-24x64/")
b = BertForSequenceClassification(BertConfig(num_labels=1))
b.save_pretrained("/tmp/m/bert-base"); shutil.copy(".device/bert-tokenizer.json", "/tmp/m/bert-base/tokenizer.json")
print("mamba params", sum(p.numel() for p in m.parameters()), "bert params", sum(p.numel() for p in b.parameters()))
r = random.Random(0)
words = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(3, 9))) for _ in range(3000)]
os.makedirs("/tmp/data", exist_ok=True)
with open("/tmp/data/collection.tsv", "w") as f:
    for i in range(800): f.write(f"d{i}\t" + " ".join(r.choice(words) for _ in range(700)) + "\n")
with open("/tmp/data/queries.tsv", "w") as f:
    for i in range(200): f.write(f"q{i}\t" + " ".join(r.choice(words) for _ in range(8)) + "\n")
with open("/tmp/data/groups.tsv", "w") as f:
    for i in range(200): f.write(f"q{i}\t" + "\t".join(f"d{r.randrange(800)}" for _ in range(8)) + "\n")
PY
    peak() {  # peak used GPU memory (MiB) while "$@" runs
      nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > /tmp/mem.txt & local p=$!
      "$@"; local rc=$?
      kill $p; sort -n /tmp/mem.txt | tail -1 > /tmp/peak.txt; return $rc
    }
    # RUNS: model:precision[:ref|:prof|:ref+prof|:graph|:graph+prof|:host[:VAR=VALUE,...]] (mixed
    # precision: the linear layers on tensor cores; ref: burn's own ops instead of rankmamba's
    # training kernels, RANKMAMBA_REFERENCE_OPS=1; graph: `train --graph`, the step captured
    # once and replayed; prof: this run profiled; host: its host threads sampled (HOST_PROFILE=1
    # at prepare); then environment for this run)
    for spec in ${RUNS:-mamba-130m:f32 mamba-130m:mixed bert-base:f32}; do
      # a fourth field: VAR=VALUE[,VAR=VALUE] for this run (e.g. RANKMAMBA_SCAN_CHUNK=8)
      IFS=: read -r model prec variant vars <<< "$spec"
      vars=${vars//BEST/${best:-2x2x4x4x32x1}}
      # LOG_EVERY=N in the fourth field: `train --log-every N` for this run (default LOG_EVERY, 4)
      log_every=${LOG_EVERY:-4}
      case ",$vars," in *,LOG_EVERY=*) log_every=$(sed 's/.*LOG_EVERY=\([0-9]*\).*/\1/' <<< "$vars") ;; esac
      tag="$model-$prec${variant:+-$variant}${vars:+-${vars//[=,]/-}}"
      export RANKMAMBA_REFERENCE_OPS=$([ "${variant%+prof}" = ref ] && echo 1 || echo 0)
      graph=$([ "${variant%+prof}" = graph ] && echo --graph || true)
      # NO_WARM_UP=1 among a run's variables: `train --no-warm-up`
      nowarm=$([[ ",$vars," == *",NO_WARM_UP=1,"* ]] && echo --no-warm-up || true)
      # variant prof (or ref+prof), or PROFILE=1 for every run
      prof=$([ "${PROFILE:-0}" = 1 ] || [ "${variant%prof}" != "$variant" ] && echo 1 || echo 0)
      unset CUBECL_DEBUG_OPTION CUBECL_DEBUG_LOG
      rm -rf "/tmp/run-$tag"
      # profiled: cubecl's per-kernel log (every launch with its duration; steps run slower)
      if [ "$prof" = 1 ]; then export CUBECL_DEBUG_OPTION=profile CUBECL_DEBUG_LOG="$out/profile-$tag.log"; fi
      unset RANKMAMBA_HOST_PROFILE
      [ "$variant" = host ] && export RANKMAMBA_HOST_PROFILE="$out/host-$tag.txt"
      # the recipe's 1000 warmup steps: the timed steps run at a tiny lr, so a random init does
      # not diverge (it did in f16 at full lr); the time of a step does not depend on the lr
      peak timeout 240 env ${vars//,/ } /tmp/bin/train --model "/tmp/m/$model" --output "/tmp/run-$tag" --device wgpu --precision "$prec" \
        --groups /tmp/data/groups.tsv --queries /tmp/data/queries.tsv --collection /tmp/data/collection.tsv \
        --max-steps 10000 --save-every 1000000 --log-every "$log_every" --stop-after "$steps" $graph $nowarm 2>&1 | tail -3 | tee "$out/train-$tag.txt" || true
      cp "/tmp/run-$tag/log.jsonl" "$out/log-$tag.jsonl" 2>/dev/null || true
      # the device tool brings back few files: summaries of steps 2 and 3, and the log compressed
      if [ "$prof" = 1 ] && [ -f "$out/profile-$tag.log" ]; then
        if [ -x /tmp/bin/probe_pipeline ]; then /tmp/bin/probe_pipeline "$out/profile-$tag.log" > "$out/pipelines-$tag.txt" 2>&1 || true; fi
        for k in 2 3; do python3 scripts/profile_summary.py "$out/profile-$tag.log" --step $k --top 40 > "$out/profile-$tag-step$k.txt" 2>&1 || true; done
        xz -T0 "$out/profile-$tag.log"
      fi
      if [ -f "$out/host-$tag.txt" ]; then
        python3 scripts/host_profile_summary.py "$out/host-$tag.txt" --top 40 > "$out/host-$tag-summary.txt" 2>&1 || true
        xz -T0 "$out/host-$tag.txt"
      fi
      unset RANKMAMBA_HOST_PROFILE
      echo "peak GPU memory MiB: $(cat /tmp/peak.txt)" | tee -a "$out/train-$tag.txt"
      python3 -c "
import json,sys
l=[json.loads(x) for x in open('/tmp/run-$tag/log.jsonl')]
# the losses are read every --log-every steps: a read's lines share its time; time from the
# first read after the two compiling steps to the last
pts=[x for i,x in enumerate(l) if x['step']>=2 and (i+1==len(l) or l[i+1]['elapsed_s']!=x['elapsed_s'])]
if len(pts)>=2:
    a,b=pts[0],pts[-1]; t=b['elapsed_s']-a['elapsed_s']; k=b['step']-a['step']
    q=[x['queue_s'] for x in l if a['step']<x['step']<=b['step'] and 'queue_s' in x]
    host=f', host queueing {sum(q)/len(q):.3f} s/step' if q else ''
    print(f'rankmamba train wgpu $tag: {k*64/t:.1f} sequences/s over steps {a[\"step\"]+1}..{b[\"step\"]} ({t/k:.3f} s/step{host}), losses', [round(x['loss'],4) for x in l])
" | tee -a "$out/train-$tag.txt" || true
    done
    [ "${TORCH:-1}" = 1 ] || exit 0
    # PyTorch + transformers on the same GPU, same run: the same step (LCE over 8 groups of 8,
    # AdamW), 64 x 512 random token ids
    timeout 300 python3 - <<'PY' 2>&1 | tee "$out/torch.txt" || true
import time, torch, torch.nn as nn, torch.nn.functional as F
from transformers import OPTConfig, OPTModel, BertConfig, BertModel, MambaConfig, MambaModel
try:
    import mamba_ssm  # noqa
    fast = "mamba-ssm kernels"
except Exception:
    fast = "no mamba-ssm: transformers' sequential path"
dev = "cuda"; B, L = 64, 512
def run(name, body, vocab, dtype, steps=5, warm=2, last_token=True):
    torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    head = nn.Linear(body.config.hidden_size, 1).to(dev)
    params = list(body.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=2e-5, weight_decay=0.01, eps=1e-8)
    ids = torch.randint(0, vocab, (B, L), device=dev)
    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            h = body(input_ids=ids).last_hidden_state
            s = head(h[:, -1] if last_token else h[:, 0]).float().view(8, 8)
            loss = -F.log_softmax(s, 1)[:, 0].mean()
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    try:
        for _ in range(warm): step()
        torch.cuda.synchronize(); t = time.perf_counter()
        for _ in range(steps): step()
        torch.cuda.synchronize(); dt = (time.perf_counter() - t) / steps
        print(f"torch {name} {dtype}: {B / dt:.1f} sequences/s ({dt:.3f} s/step), peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB", flush=True)
    except Exception as e:
        print(f"torch {name} {dtype}: failed: {type(e).__name__}: {e}", flush=True)
print("torch", torch.__version__, torch.cuda.get_device_name())
for dtype in ("bf16", "fp32"):
    torch.manual_seed(0)
    run("OPT-125m sdpa", OPTModel(OPTConfig(attn_implementation="sdpa")).to(dev), 50272, dtype)
    run("BERT-base sdpa", BertModel(BertConfig(attn_implementation="sdpa")).to(dev), 30522, dtype, last_token=False)
for dtype in ("bf16", "fp32"):
    run(f"Mamba-130m transformers ({fast})", MambaModel(MambaConfig(vocab_size=50280, hidden_size=768, num_hidden_layers=24)).to(dev), 50280, dtype, steps=2, warm=1)
PY
    ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
