// Fused attention backward, recomputing probabilities from the forward's log-sum-exp (the
// score matrix never exists):
//   p_ij = exp(q_i·k_j·scale − lse_i),  D_i = Σ_d dout_i·out_i,  ds_ij = p_ij (dout_i·v_j − D_i)
//   dq_i = scale Σ_j ds_ij k_j,   dk_j = scale Σ_i ds_ij q_i,   dv_j = Σ_i p_ij dout_i
// MODE 0: one invocation per query row, key/value tiles staged in workgroup memory; writes dq.
// MODE 1: one invocation per key row, query/dout tiles staged; writes dk and dv.
// Masks as in the forward (padding keys, CAUSAL). Rows are vec4 (head dim a multiple of 4).
//
// Template constants: WG, DH, T (rows per staged tile), CAUSAL, MODE.

const WG: u32 = {{ wg }}u;
const DH: u32 = {{ dh }}u;
const D4: u32 = DH / 4u;
const T: u32 = {{ t }}u;
const CAUSAL: bool = {{ causal }};
const MODE: u32 = {{ mode }}u;

struct Params {
    heads: u32,
    len_q: u32,
    len_k: u32,
    scale_bits: u32,
}

@group(0) @binding(0) var<storage, read_write> q: array<vec4<f32>>;     // (batch, heads, len_q, DH / 4)
@group(0) @binding(1) var<storage, read_write> k: array<vec4<f32>>;     // (batch, heads, len_k, DH / 4)
@group(0) @binding(2) var<storage, read_write> v: array<vec4<f32>>;     // (batch, heads, len_k, DH / 4)
@group(0) @binding(3) var<storage, read_write> lens: array<f32>;        // (batch): real key count
@group(0) @binding(4) var<storage, read_write> dout: array<vec4<f32>>;  // (batch, heads, len_q, DH / 4)
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;       // (2, batch, heads, len_q): lse | D
@group(0) @binding(6) var<storage, read_write> g0: array<vec4<f32>>;    // MODE 0: dq (batch, heads, len_q, DH / 4); MODE 1: dk (.., len_k, ..)
@group(0) @binding(7) var<storage, read_write> g1: array<vec4<f32>>;    // MODE 1: dv (batch, heads, len_k, DH / 4); MODE 0: unused
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> klen_shared: u32;
var<workgroup> a_tile: array<vec4<f32>, T * D4>; // MODE 0: k rows; MODE 1: q rows (scaled)
var<workgroup> b_tile: array<vec4<f32>, T * D4>; // MODE 0: v rows; MODE 1: dout rows
var<workgroup> s_tile: array<vec2<f32>, T>;      // MODE 1: (lse, D) of the staged query rows

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let bh = wid.y;
    let b = bh / p.heads;
    let scale = bitcast<f32>(p.scale_bits);
    if (lid.x == 0u) { klen_shared = min(u32(lens[b]), p.len_k); }
    let klen = workgroupUniformLoad(&klen_shared);
    let plane = arrayLength(&stats) / 2u;
    let row = wid.x * WG + lid.x;

    if (MODE == 0u) {
        let live = row < p.len_q;
        let i = min(row, p.len_q - 1u);
        var qv: array<vec4<f32>, D4>;
        var dov: array<vec4<f32>, D4>;
        var acc: array<vec4<f32>, D4>;
        let base = (bh * p.len_q + i) * D4;
        for (var d = 0u; d < D4; d++) {
            qv[d] = q[base + d] * scale;
            dov[d] = dout[base + d];
            acc[d] = vec4<f32>(0.0);
        }
        let lse_i = stats[bh * p.len_q + i];
        let d_i = stats[plane + bh * p.len_q + i];
        var kend = klen;
        if (CAUSAL) { kend = min(klen, i + 1u); }
        let kv = bh * p.len_k * D4;
        for (var t0 = 0u; t0 < klen; t0 += T) {
            let rows = min(T, klen - t0);
            workgroupBarrier();
            for (var x = lid.x; x < rows * D4; x += WG) {
                a_tile[x] = k[kv + t0 * D4 + x];
                b_tile[x] = v[kv + t0 * D4 + x];
            }
            workgroupBarrier();
            for (var j = 0u; j < rows; j++) {
                if (t0 + j < kend) {
                    var s = 0.0;
                    var dp = 0.0;
                    for (var d = 0u; d < D4; d++) {
                        s += dot(qv[d], a_tile[j * D4 + d]);
                        dp += dot(dov[d], b_tile[j * D4 + d]);
                    }
                    let ds = exp(s - lse_i) * (dp - d_i);
                    for (var d = 0u; d < D4; d++) { acc[d] += ds * a_tile[j * D4 + d]; }
                }
            }
        }
        if (live) {
            for (var d = 0u; d < D4; d++) { g0[base + d] = acc[d] * scale; }
        }
        // g1 is only written by MODE 1; this keeps the binding statically used
        if (live && i == 0xffffffffu) { g1[0] = vec4<f32>(0.0); }
    } else {
        let live = row < p.len_k;
        let j = min(row, p.len_k - 1u);
        var kv_: array<vec4<f32>, D4>;
        var vv: array<vec4<f32>, D4>;
        var dk: array<vec4<f32>, D4>;
        var dv: array<vec4<f32>, D4>;
        let kbase = (bh * p.len_k + j) * D4;
        for (var d = 0u; d < D4; d++) {
            kv_[d] = k[kbase + d];
            vv[d] = v[kbase + d];
            dk[d] = vec4<f32>(0.0);
            dv[d] = vec4<f32>(0.0);
        }
        let key_ok = j < klen;
        let qbase = bh * p.len_q * D4;
        for (var t0 = 0u; t0 < p.len_q; t0 += T) {
            let rows = min(T, p.len_q - t0);
            workgroupBarrier();
            for (var x = lid.x; x < rows * D4; x += WG) {
                a_tile[x] = q[qbase + t0 * D4 + x] * scale;
                b_tile[x] = dout[qbase + t0 * D4 + x];
            }
            for (var x = lid.x; x < rows; x += WG) {
                let si = bh * p.len_q + t0 + x;
                s_tile[x] = vec2<f32>(stats[si], stats[plane + si]);
            }
            workgroupBarrier();
            for (var r = 0u; r < rows; r++) {
                let i = t0 + r;
                if (key_ok && (!CAUSAL || j <= i)) {
                    var s = 0.0;
                    var dp = 0.0;
                    for (var d = 0u; d < D4; d++) {
                        s += dot(a_tile[r * D4 + d], kv_[d]);
                        dp += dot(b_tile[r * D4 + d], vv[d]);
                    }
                    let pij = exp(s - s_tile[r].x);
                    let ds = pij * (dp - s_tile[r].y);
                    for (var d = 0u; d < D4; d++) {
                        dv[d] += pij * b_tile[r * D4 + d];
                        dk[d] += ds * a_tile[r * D4 + d];
                    }
                }
            }
        }
        if (live) {
            for (var d = 0u; d < D4; d++) {
                g0[kbase + d] = dk[d];
                g1[kbase + d] = dv[d];
            }
        }
    }
}
