#!/usr/bin/env python3
"""Second oracle for the selective scan, with real trained weights: the first Mamba block of the
`typeseg` 0.2.7 PyPI package (Apache-2.0) on a real input, one scan direction.

    python3 scripts/gen_typeseg_fixture.py      # needs numpy + safetensors; downloads the wheel

Runs the package's own numpy forward up to the scan of block 0 (LayerNorm, in_proj, its SAME
depthwise conv, SiLU, x_proj, dt_proj, softplus + 1e-4), then its sequential scan
`_selective_scan_seq` (the forward direction), and writes the scan's inputs and output to
tests/fixtures/typeseg/block0_scan.safetensors. Our kernel fuses the softplus, so Δ is stored
as its exact inverse softplus (float64) with a zero bias.
"""
import glob
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "typeseg", "block0_scan.safetensors")
TEXT = '<div class="card">hi</div>\n.btn { color: red; }\nfn main() { println!("x"); }\n'


def main():
    tmp = tempfile.mkdtemp()
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "typeseg==0.2.7", "-d", tmp, "-q"])
    whl = glob.glob(os.path.join(tmp, "typeseg-0.2.7-*.whl"))[0]
    with zipfile.ZipFile(whl) as z:
        z.extractall(tmp)
    npz = os.path.join(tmp, "typeseg", "data", "mamba_al.npz")
    digest = hashlib.sha256(open(npz, "rb").read()).hexdigest()
    assert digest.startswith("36c1f318") and digest.endswith("2a44"), digest
    spec = importlib.util.spec_from_file_location("mk", os.path.join(tmp, "typeseg", "_mamba_kernel.py"))
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    data = np.load(npz)
    w = {k.replace("__", "/"): np.asarray(data[k], dtype=np.float32) for k in data.files}  # as typeseg._runtime loads it
    xp = np
    tokens = np.frombuffer(TEXT.encode(), dtype=np.uint8).astype(np.int64)
    x = mk._embed(xp, w, tokens).astype(np.float32)
    p = "CheckpointMambaBlock1D_0/"
    d_state, dt_rank = 16, 16
    h = mk._layernorm(xp, x, w[p + "LayerNorm_0/scale"], w[p + "LayerNorm_0/bias"], eps=1e-6)
    xz = h @ w[p + "Dense_0/kernel"] + w[p + "Dense_0/bias"]
    d_inner = xz.shape[1] // 2
    u = mk._silu(xp, mk._depthwise_conv1d_same(xp, xz[:, :d_inner], w[p + "Conv_0/kernel"], w[p + "Conv_0/bias"]))
    x_dbl = u @ w[p + "Dense_1/kernel"] + w[p + "Dense_1/bias"]
    B = x_dbl[:, dt_rank:dt_rank + d_state]
    C = x_dbl[:, dt_rank + d_state:dt_rank + 2 * d_state]
    dt = mk._softplus(xp, x_dbl[:, :dt_rank] @ w[p + "Dense_2/kernel"] + w[p + "Dense_2/bias"]) + 1e-4
    A = -np.exp(w[p + "A_log"])
    D = w[p + "D"]
    u, dt, B, C, A, D = [np.ascontiguousarray(v, dtype=np.float32) for v in (u, dt, B, C, A, D)]
    y = mk._selective_scan_seq(xp, u, dt, B, C, A, D)
    dt64 = dt.astype(np.float64)
    delta = np.where(dt64 > 20, dt64, np.log(np.expm1(dt64))).astype(np.float32)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file({"u": u, "delta": delta, "dt": dt, "B": B, "C": C, "A": A, "D": D, "y": np.ascontiguousarray(y)}, OUT,
              metadata={"source": "typeseg==0.2.7 mamba_al.npz, CheckpointMambaBlock1D_0, forward direction",
                        "text": TEXT})
    print("wrote", OUT, u.shape, file=sys.stderr)


if __name__ == "__main__":
    main()
