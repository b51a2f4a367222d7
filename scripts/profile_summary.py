#!/usr/bin/env python3
"""Sum cubecl's per-kernel profile log (CUBECL_DEBUG_OPTION=profile) by kernel.

    python3 scripts/profile_summary.py LOG [--step K] [--marker NAME] [--top K] [--by-variant]

Each launch is a line `| 1.23ms | KernelName_hash`; the hash tells apart the compiled variants of
one kernel (dtypes, vectorisation, shapes baked in). Prints time and launch count per kernel
name (or per variant), largest first.

cubecl writes the log from a background task that falls behind the GPU, so the log of a run
that exits ends early, and its first steps include compilation and autotuning. `--step K` keeps
one step's worth of launches: from the K-th launch of `--marker` to the next, counting
`--per-step` launches of it as one. The default marker is `EmbeddingBackwardKernel`, launched
once per step in the backward pass (the token embedding's gradient, `ops::embedding`): the window
holds the end of the backward pass and the optimizer update of step K and the forward pass and
most of the backward of step K + 1. Older logs: `--marker SelectAssignKernel --per-step 2` (burn's
embedding gradient, until the seventh session), `--marker PrngKernel --per-step 1` (the dropout
mask drawn on the device, until the sixth).
"""
import argparse
import re
import sys
from collections import defaultdict

UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
# some launches log a second field (`| 1.23ms | SelectAssignKernel | AddOp_hash`); the hand-written
# kernels all log as `| 1.23ms | SourceKernel | CoopKernel_hash`, so those are named by it
LINE = re.compile(r"^\|\s*([0-9.]+)\s*(ns|µs|us|ms|s)\s*\|\s*(\S+)(?:\s*\|\s*(\S+))?")


def base(name):
    """A kernel's name without its variant (hash suffix, second field)."""
    return re.sub(r"_.*$", "", name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log")
    ap.add_argument("--step", type=int, help="only training step K (1-based; see above)")
    ap.add_argument("--marker", default="EmbeddingBackwardKernel", help="a kernel launched --per-step times per step")
    ap.add_argument("--per-step", type=int, default=1, help="launches of --marker per step")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--by-variant", action="store_true", help="keep the hash suffix")
    a = ap.parse_args()
    launches = []
    with open(a.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if m:
                name = m.group(4) if m.group(3) == "SourceKernel" and m.group(4) else m.group(3)
                # the second field tells variants apart like the hash suffix does
                if m.group(4) and name != m.group(4):
                    name += "_" + m.group(4)
                launches.append((float(m.group(1)) * UNITS[m.group(2)], name))
    if a.step is not None:
        seen, step, kept = 0, 0, []
        for d, full in launches:
            if base(full) == a.marker:
                if seen % a.per_step == 0:
                    step += 1
                seen += 1
            if step == a.step:
                kept.append((d, full))
        if step <= a.step:
            sys.exit(f"{a.log}: the log ends before step {a.step} is complete ({step} launches of `{a.marker}` found)")
        launches = kept
    time, count = defaultdict(float), defaultdict(int)
    for d, full in launches:
        name = full if a.by_variant else base(full)
        time[name] += d
        count[name] += 1
    if not time:
        sys.exit(f"{a.log}: no profile lines (`| duration | kernel`) found")
    total = sum(time.values())
    what = f"step {a.step}" if a.step is not None else "the whole log"
    print(f"{a.log}, {what}: {sum(count.values())} launches, {total * 1e3:.1f} ms of kernel time")
    print(f"{'kernel':<64} {'ms':>9} {'share':>6} {'launches':>9} {'µs each':>8}")
    for name in sorted(time, key=time.get, reverse=True)[: a.top]:
        print(f"{name[:64]:<64} {time[name] * 1e3:9.2f} {time[name] / total:6.1%} "
              f"{count[name]:9d} {time[name] / count[name] * 1e6:8.1f}")


if __name__ == "__main__":
    main()
