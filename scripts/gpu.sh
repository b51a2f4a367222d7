#!/usr/bin/env bash
# Check and time the WGSL kernels on a real GPU through the device tool, in one go.
#
#   bash scripts/gpu.sh prepare        # here: build release binaries into .device/ (ignored), xz them
#   # then, with the device tool:  run(command="bash scripts/gpu.sh run", carry=[".device", ".gl"])
#
# `run` (on the GPU machine): installs the Vulkan loader from .gl/*.deb (see the device README),
# runs the kernel and parity tests on the GPU, then the scan benchmark; logs go to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/device-lib.sh
case "${1:-}" in
  prepare)
    . scripts/env.sh
    cargo build --release --locked --example bench_scan --example bench_attention
    cargo test --release --locked --no-run --test selective_scan --test parity --test model_grad --test attention --test matmul_coop 2>&1 | tee /tmp/rankmamba-testbins.txt
    rm -rf .device && mkdir -p .device
    cp "$CARGO_TARGET_DIR/release/examples/bench_scan" "$CARGO_TARGET_DIR/release/examples/bench_attention" .device/
    for t in selective_scan parity model_grad attention matmul_coop; do
      bin=$(grep -o "target/release/deps/${t}-[0-9a-f]*" /tmp/rankmamba-testbins.txt | tail -1)
      cp "$CARGO_TARGET_DIR/release/deps/$(basename "$bin")" ".device/test_$t"
    done
    xz -T2 -6 .device/*
    # the device tool carries at most 64 MiB with the working tree: leave out what does not fit
    # (the tracked tree is ~35 MB): keep the kernels' tests and the benchmarks first
    for t in test_model_grad test_parity; do
      [ "$(( $(du -sb .device | cut -f1) + $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) ))" -lt $((62 << 20)) ] || rm -f ".device/$t.xz"
    done
    ls -la .device
    ;;
  run)
    device_setup
    export RANKMAMBA_FIXTURES="$PWD/tests/fixtures"
    out=${OUT:-/tmp/out}
    mkdir -p "$out"
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$out/gpu.txt"
    # correctness on this GPU first (CPU parts too); then timings
    if [ "${TESTS:-1}" = 1 ]; then
      /tmp/bin/test_selective_scan --test-threads 1 2>&1 | tee "$out/test_selective_scan.txt"
      [ -x /tmp/bin/test_parity ] && /tmp/bin/test_parity --test-threads 1 2>&1 | tee "$out/test_parity.txt"
      [ -x /tmp/bin/test_model_grad ] && /tmp/bin/test_model_grad 2>&1 | tee "$out/test_model_grad.txt"
      /tmp/bin/test_attention 2>&1 | tee "$out/test_attention.txt"
      /tmp/bin/test_matmul_coop --nocapture 2>&1 | tee "$out/test_matmul_coop.txt"
    fi
    /tmp/bin/bench_scan --iters "${ITERS:-20}" --shapes "${SHAPES:-train,infer,long}" 2>&1 | tee "$out/bench_scan.txt"
    /tmp/bin/bench_attention --iters "${ITERS:-20}" 2>&1 | tee "$out/bench_attention.txt"
    # PyTorch scaled_dot_product_attention on the same shape, same run (fp32 and bf16)
    python3 - <<'PY' 2>&1 | tee "$out/torch_sdpa.txt" || true
import torch, torch.nn.functional as F
B, H, L, D = 64, 12, 512, 64
for dt in (torch.float32, torch.bfloat16):
    q, k, v = (torch.randn(B, H, L, D, device="cuda", dtype=dt, requires_grad=True) for _ in range(3))
    g = torch.randn(B, H, L, D, device="cuda", dtype=dt)
    def fwd(): return F.scaled_dot_product_attention(q, k, v)
    def both():
        o = F.scaled_dot_product_attention(q, k, v); o.backward(g)
    for name, f in (("forward", fwd), ("forward + backward", both)):
        for _ in range(3): f()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        ts = []
        for _ in range(20):
            s.record(); f(); e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
        ts.sort()
        print(f"torch SDPA {str(dt).split('.')[-1]} {name} {B}x{H}x{L}x{D}: {ts[len(ts)//2]:.3f} ms")
PY
    # the machine's copy bandwidth through CUDA, in the same run, as the reference ceiling
    python3 - <<'PY' 2>&1 | tee "$out/cuda_copy.txt" || true
import torch
x = torch.empty(2**28, device="cuda"); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
ts = []
for _ in range(20):
    s.record(); y.copy_(x); e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e) / 1e3)
ts.sort()
print(f"CUDA device-to-device copy (torch, 1 GiB, read + write): {2 * x.numel() * 4 / ts[len(ts) // 2] / 1e9:.1f} GB/s")
PY
    ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
