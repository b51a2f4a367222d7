// Selective scan forward (Mamba-1), fused:
//   Δ_t = softplus(delta_t + delta_bias)                (threshold 20, as torch)
//   h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·B_t·u_t            (ZOH for A, Euler for B; f32 state)
//   y_t = C_t·h_t + D·u_t,   out_t = y_t · SiLU(z_t)    (gate only when HAS_Z)
//
// One invocation per (sequence, channel, chunk): the N states live in registers and time runs
// sequentially inside the chunk. B and C are shared by all channels of a sequence, and a
// workgroup holds consecutive channels of one sequence: it stages B_t, C_t for TILE time
// steps in workgroup memory (one coalesced load), then every invocation reads them from there,
// as vec4s (a quarter of the workgroup-memory reads; BENCHMARKS.md §5).
//
// MODE 0 (output): scan the chunk from its start state (zero for chunk 0, else
//   `states[b, k, e, 0..N]`, written by selective_scan_chunks.wgsl) and write `out`. Training
//   (`save_every` > 0) also keeps the state entering every `save_every`-th step in
//   `saved[b, t / save_every, .., e]` for the backward, which recomputes from those.
// MODE 1 (summary): scan the chunk from zero and write its end state and its total decay
//   exp(A·ΣΔ) to `states[b, k, e, 0..2N]`; `out` is not written.
//
// Template constants (set in Rust from the device limits and the shape): WG, N, TILE, MODE, HAS_Z,
// PREFETCH (each step loads the next step's u, Δ, z; false: its own, the measured alternative);
// and the storage format of u, Δ, z: f32, f16 (adapters with shader-f16), or f16 pairs packed
// in u32 words (`unpack2x16float`, for adapters without it): `in_ty` and the `load_*` bodies;
// `out_ty`: f32, or f16 where a tensor-core matmul would cast the output.
{{ enable_f16 }}

const WG: u32 = {{ wg }}u;
const N: u32 = {{ n }}u;
const TILE: u32 = {{ tile }}u;
const MODE: u32 = {{ mode }}u;
const HAS_Z: bool = {{ has_z }};
const PREFETCH: bool = {{ prefetch }};
const N4: u32 = (N + 3u) / 4u; // vec4s of B_t (and of C_t) in a row of bc_tile

struct Params {
    batch: u32,
    len: u32,
    d_inner: u32,
    chunk_len: u32,
    n_chunks: u32,
    bc_stride: u32,   // row stride of `bc` (2N when B and C are packed side by side)
    c_offset: u32,    // column of C_t[0] in a `bc` row (B_t[0] is column 0)
    save_every: u32,  // MODE 0: steps between kept states (0: none)
    n_saved: u32,     // ceil(len / save_every)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Every storage binding is read_write: burn packs tensors into shared pages, and a read-only
// binding beside a writable one of the same page is a usage conflict.
@group(0) @binding(0) var<storage, read_write> u: array<{{ in_ty }}>;      // (batch, len, d_inner), post-conv SiLU
@group(0) @binding(1) var<storage, read_write> delta: array<{{ in_ty }}>;  // (batch, len, d_inner), before bias and softplus
@group(0) @binding(2) var<storage, read_write> z: array<{{ in_ty }}>;      // (batch, len, d_inner); 1 dummy element when !HAS_Z
@group(0) @binding(3) var<storage, read_write> bc: array<f32>;     // (batch, len, bc_stride): B_t at 0.., C_t at c_offset..
@group(0) @binding(4) var<storage, read_write> chan: array<f32>;   // A (d_inner, N) | D (d_inner) | delta_bias (d_inner)
@group(0) @binding(5) var<storage, read_write> states: array<f32>; // (batch, n_chunks, d_inner, 2N): [h | decay]
@group(0) @binding(6) var<storage, read_write> out: array<{{ out_ty }}>; // (batch, len, d_inner)
@group(0) @binding(7) var<storage, read_write> saved: array<f32>;  // (batch, ceil(len / save_every), N, d_inner); 1 dummy element when not saving
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> bc_tile: array<vec4<f32>, TILE * 2u * N4>; // (TILE, 2, N4): B_t | C_t of this sequence, each zero-padded to whole vec4s

fn load_u(i: u32) -> f32 { return {{ load_u }}; }
fn load_delta(i: u32) -> f32 { return {{ load_delta }}; }
fn load_z(i: u32) -> f32 { return {{ load_z }}; }

fn softplus(v: f32) -> f32 {
    if (v > 20.0) { return v; }
    return log(1.0 + exp(v));
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let e = wid.x * WG + lid.x;
    let b = wid.y;
    let k = wid.z;
    // invocations past the last channel still help stage B and C, so no early return
    let live = e < p.d_inner;
    let ec = min(e, p.d_inner - 1u);
    let t0 = k * p.chunk_len;
    let t1 = min(t0 + p.chunk_len, p.len);
    let E = p.d_inner;

    var a: array<f32, N>; // A·log2(e)
    var h: array<f32, N>;
    // A·log2(e), so the decay is one exp2 per state
    for (var n = 0u; n < N; n++) {
        a[n] = chan[ec * N + n] * 1.4426950408889634;
        h[n] = 0.0;
    }
    let dd = chan[E * N + ec];
    let bias = chan[E * N + E + ec];
    let sidx = ((b * p.n_chunks + k) * E + ec) * 2u * N;
    if (MODE == 0u && k > 0u) {
        for (var n = 0u; n < N; n++) { h[n] = states[sidx + n]; }
    }

    var dsum = 0.0;
    // the inputs of the step about to run: with PREFETCH each step loads the next one's, so a
    // step does not wait a memory round trip for its own (one invocation per channel has little
    // arithmetic per step to hide that behind: a step's loads were its latency)
    var nu = 0.0;
    var nd = 0.0;
    var nz = 0.0;
    if (PREFETCH && live && t0 < t1) {
        let i0 = (b * p.len + t0) * E + e;
        nu = load_u(i0);
        nd = load_delta(i0);
        if (MODE == 0u && HAS_Z) { nz = load_z(i0); }
    }
    for (var tt = t0; tt < t1; tt += TILE) {
        let steps = min(TILE, t1 - tt);
        workgroupBarrier();
        for (var j = lid.x; j < steps * 2u * N; j += WG) {
            let r = j / (2u * N);
            let col = j % (2u * N);
            let src_col = select(p.c_offset + col - N, col, col < N);
            let s = select(col - N, col, col < N);
            bc_tile[(r * 2u + select(1u, 0u, col < N)) * N4 + s / 4u][s % 4u] = bc[(b * p.len + tt + r) * p.bc_stride + src_col];
        }
        workgroupBarrier();
        if (live) {
            for (var r = 0u; r < steps; r++) {
                let i = (b * p.len + tt + r) * E + e;
                var ut = nu;
                var dl = nd;
                var zt = nz;
                if (PREFETCH) {
                    // the next step's inputs (across tiles too), before this step's store to
                    // `out` (which could alias them, so the compiler cannot hoist them itself)
                    if (tt + r + 1u < t1) {
                        nu = load_u(i + E);
                        nd = load_delta(i + E);
                        if (MODE == 0u && HAS_Z) { nz = load_z(i + E); }
                    }
                } else {
                    ut = load_u(i);
                    dl = load_delta(i);
                    if (MODE == 0u && HAS_Z) { zt = load_z(i); }
                }
                let dt = softplus(dl + bias);
                let du = dt * ut;
                var y = 0.0;
                if (MODE == 0u && p.save_every > 0u && (tt + r) % p.save_every == 0u) {
                    // state-major rows: consecutive channels write consecutive words
                    let s = (b * p.n_saved + (tt + r) / p.save_every) * N * E + e;
                    for (var n = 0u; n < N; n++) { saved[s + n * E] = h[n]; }
                }
                for (var q = 0u; q < N4; q++) {
                    let b4 = bc_tile[r * 2u * N4 + q];
                    let c4 = bc_tile[(r * 2u + 1u) * N4 + q];
                    for (var c = 0u; c < 4u; c++) {
                        let n = 4u * q + c;
                        if (n < N) {
                            h[n] = exp2(dt * a[n]) * h[n] + du * b4[c];
                            y += c4[c] * h[n];
                        }
                    }
                }
                dsum += dt;
                if (MODE == 0u) {
                    y += dd * ut;
                    if (HAS_Z) {
                        y *= zt / (1.0 + exp(-zt));
                    }
                    out[i] = {{ out_ty }}(y);
                }
            }
        }
    }
    if (MODE == 1u && live) {
        for (var n = 0u; n < N; n++) {
            states[sidx + n] = h[n];
            states[sidx + N + n] = exp2(a[n] * dsum);
        }
    }
}
