#!/usr/bin/env python3
"""Sum a host profile of `train` (RANKMAMBA_HOST_PROFILE, src/train/host_profile.rs).

    python3 scripts/host_profile_summary.py STACKS [--top K] [--thread NAME]

STACKS holds collapsed stacks, `thread;outermost;...;innermost samples` per line. Prints the
samples of each thread; then, per thread (or the one --thread names): the share of samples
under each crate (a sample counts once for every crate on its stack: inclusive), the crates
and the functions the samples were in (self time), largest first. A crate is the first path segment of a
function's name (`burn_autodiff`, `cubecl_wgpu`, `wgpu_core`, ...; `<A as B>::f` counts as A's).
"""
import argparse
import collections
import re


def crate_of(name):
    m = re.match(r"[<&\s]*(?:dyn\s+|mut\s+)*([A-Za-z_][A-Za-z0-9_]*)::", name)
    return m.group(1) if m else name.split("(")[0][:40]


def clean(name):
    return re.sub(r"::h[0-9a-f]{16}$", "", name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stacks")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--thread")
    a = ap.parse_args()
    per_thread = collections.Counter()
    inclusive = collections.defaultdict(collections.Counter)
    leaf = collections.defaultdict(collections.Counter)
    leaf_crate = collections.defaultdict(collections.Counter)
    for line in open(a.stacks):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(n)
        thread, *frames = stack.split(";")
        per_thread[thread] += n
        frames = [clean(f) for f in frames]
        for c in {crate_of(f) for f in frames}:
            inclusive[thread][c] += n
        leaf[thread][frames[-1] if frames else "(no frames)"] += n
        leaf_crate[thread][crate_of(frames[-1]) if frames else "(no frames)"] += n
    total = sum(per_thread.values())
    print(f"{a.stacks}: {total} samples")
    for t, n in per_thread.most_common():
        print(f"  {t:<40} {n:8d} {n / total:6.1%}")
    for t, n in per_thread.most_common():
        if a.thread and t != a.thread:
            continue
        print(f"\n== thread {t}: {n} samples; crates on the stack (inclusive)")
        for c, k in inclusive[t].most_common(a.top):
            print(f"  {c:<40} {k:8d} {k / n:6.1%}")
        print("-- crates of the innermost function (self)")
        for c, k in leaf_crate[t].most_common(a.top):
            print(f"  {c:<40} {k:8d} {k / n:6.1%}")
        print("-- innermost functions (self)")
        for f, k in leaf[t].most_common(a.top):
            print(f"  {k:8d} {k / n:6.1%}  {f[:150]}")


if __name__ == "__main__":
    main()
