// Selective scan, long sequences: the short scan across chunks.
// In: states[b, k, e, 0..N] = chunk k's end state from a zero start, states[b, k, e, N..2N] =
// its total decay exp(A·ΣΔ). Out, in place: states[b, k, e, 0..N] = chunk k's start state
// (h entering the chunk), which the output pass of selective_scan.wgsl starts from and the
// backward pass recomputes from. One invocation per (sequence, channel, state).

const WG: u32 = {{ wg }}u;
const N: u32 = {{ n }}u;

struct Params {
    batch: u32,
    d_inner: u32,
    n_chunks: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> states: array<f32>; // (batch, n_chunks, d_inner, 2N): [h | decay]
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let en = gid.x;              // channel · N + state
    let b = wid.y;
    if (en >= p.d_inner * N || b >= p.batch) { return; }
    let e = en / N;
    let n = en % N;
    var running = 0.0;
    for (var k = 0u; k < p.n_chunks; k++) {
        let s = ((b * p.n_chunks + k) * p.d_inner + e) * 2u * N;
        let local_end = states[s + n];
        let decay = states[s + N + n];
        states[s + n] = running;
        running = decay * running + local_end;
    }
}
