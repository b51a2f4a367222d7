// Selective scan forward (Mamba-1), fused:
//   Δ_t = softplus(delta_t + delta_bias)                (threshold 20, as torch)
//   h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·B_t·u_t            (ZOH for A, Euler for B; f32 state)
//   y_t = C_t·h_t + D·u_t,   out_t = y_t · SiLU(z_t)    (gate only when HAS_Z)
//
// One invocation per (sequence, channel, chunk): the N states live in registers and time runs
// sequentially inside the chunk. B and C are shared by all channels of a sequence, so a
// workgroup (consecutive channels of one sequence) reads the same B_t, C_t: broadcast loads.
//
// MODE 0 (output): scan the chunk from its start state (zero for chunk 0, else
//   `states[b, k, e, 0..N]`, written by selective_scan_chunks.wgsl) and write `out`.
// MODE 1 (summary): scan the chunk from zero and write its end state and its total decay
//   exp(A·ΣΔ) to `states[b, k, e, 0..2N]`; `out` is not written.
//
// Template constants (set in Rust from the device limits and the shape): WG, N, MODE, HAS_Z.

const WG: u32 = {{ wg }}u;
const N: u32 = {{ n }}u;
const MODE: u32 = {{ mode }}u;
const HAS_Z: bool = {{ has_z }};

struct Params {
    batch: u32,
    len: u32,
    d_inner: u32,
    chunk_len: u32,
    n_chunks: u32,
    bc_stride: u32,   // row stride of `bc` (2N when B and C are packed side by side)
    c_offset: u32,    // column of C_t[0] in a `bc` row (B_t[0] is column 0)
    _pad: u32,
}

// Every storage binding is read_write: burn packs tensors into shared pages, and a read-only
// binding beside a writable one of the same page is a usage conflict.
@group(0) @binding(0) var<storage, read_write> u: array<f32>;      // (batch, len, d_inner), post-conv SiLU
@group(0) @binding(1) var<storage, read_write> delta: array<f32>;  // (batch, len, d_inner), before bias and softplus
@group(0) @binding(2) var<storage, read_write> z: array<f32>;      // (batch, len, d_inner); 1 dummy element when !HAS_Z
@group(0) @binding(3) var<storage, read_write> bc: array<f32>;     // (batch, len, bc_stride): B_t at 0.., C_t at c_offset..
@group(0) @binding(4) var<storage, read_write> chan: array<f32>;   // A (d_inner, N) | D (d_inner) | delta_bias (d_inner)
@group(0) @binding(5) var<storage, read_write> states: array<f32>; // (batch, n_chunks, d_inner, 2N): [h | decay]
@group(0) @binding(6) var<storage, read_write> out: array<f32>;    // (batch, len, d_inner)
@group(0) @binding(7) var<uniform> p: Params;

fn softplus(v: f32) -> f32 {
    if (v > 20.0) { return v; }
    return log(1.0 + exp(v));
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let e = gid.x;
    let b = wid.y;
    let k = wid.z;
    if (e >= p.d_inner || b >= p.batch || k >= p.n_chunks) { return; }
    let t0 = k * p.chunk_len;
    let t1 = min(t0 + p.chunk_len, p.len);
    let E = p.d_inner;

    var a: array<f32, N>;
    var h: array<f32, N>;
    for (var n = 0u; n < N; n++) {
        a[n] = chan[e * N + n];
        h[n] = 0.0;
    }
    let dd = chan[E * N + e];
    let bias = chan[E * N + E + e];
    let sidx = ((b * p.n_chunks + k) * E + e) * 2u * N;
    if (MODE == 0u && k > 0u) {
        for (var n = 0u; n < N; n++) { h[n] = states[sidx + n]; }
    }

    var dsum = 0.0;
    for (var t = t0; t < t1; t++) {
        let i = (b * p.len + t) * E + e;
        let ut = u[i];
        let dt = softplus(delta[i] + bias);
        let du = dt * ut;
        let row = (b * p.len + t) * p.bc_stride;
        var y = 0.0;
        for (var n = 0u; n < N; n++) {
            h[n] = exp(dt * a[n]) * h[n] + du * bc[row + n];
            y += bc[row + p.c_offset + n] * h[n];
        }
        dsum += dt;
        if (MODE == 0u) {
            y += dd * ut;
            if (HAS_Z) {
                let zt = z[i];
                y *= zt / (1.0 + exp(-zt));
            }
            out[i] = y;
        }
    }
    if (MODE == 1u) {
        for (var n = 0u; n < N; n++) {
            states[sidx + n] = h[n];
            states[sidx + N + n] = exp(a[n] * dsum);
        }
    }
}
