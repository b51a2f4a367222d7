// Fused scaled-dot-product attention, forward (flash-attention style):
//   out_i = Σ_j softmax_j(q_i·k_j·scale + mask_ij) v_j,   lse_i = log Σ_j exp(q_i·k_j·scale + mask_ij)
// The (len_q × len_k) score matrix never exists: each invocation owns one query row and runs an
// online softmax (running max, running sum, f32 accumulator) over key/value tiles that the
// workgroup stages in workgroup memory. Masks: keys at or past the sequence's length (padding)
// and, with CAUSAL, keys after the query.
//
// Rows are read as vec4 (head dim a multiple of 4); q, k, v are f32, f16 (adapters with
// shader-f16) or f16 packed in u32 pairs (`unpack2x16float`), as `in_ty` and `load` say;
// accumulation is always f32.
{{ enable_f16 }}
//
// Template constants (from Rust: device limits and head dim): WG (query rows per workgroup),
// DH (head dim), KT (key rows per tile), CAUSAL.

const WG: u32 = {{ wg }}u;
const DH: u32 = {{ dh }}u;
const D4: u32 = DH / 4u;
const KT: u32 = {{ kt }}u;
const CAUSAL: bool = {{ causal }};

struct Params {
    heads: u32,
    len_q: u32,
    len_k: u32,
    scale_bits: u32, // f32 scale, bit-cast
}

@group(0) @binding(0) var<storage, read_write> q: array<{{ in_ty }}>;    // (batch, heads, len_q, DH / 4)
@group(0) @binding(1) var<storage, read_write> k: array<{{ in_ty }}>;    // (batch, heads, len_k, DH / 4)
@group(0) @binding(2) var<storage, read_write> v: array<{{ in_ty }}>;    // (batch, heads, len_k, DH / 4)
@group(0) @binding(3) var<storage, read_write> lens: array<f32>; // (batch): real key count of each sequence
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;  // (batch, heads, len_q, DH / 4)
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;  // (batch, heads, len_q)
@group(0) @binding(6) var<uniform> p: Params;

fn load_q(i: u32) -> vec4<f32> { return {{ load_q }}; }
fn load_k(i: u32) -> vec4<f32> { return {{ load_k }}; }
fn load_v(i: u32) -> vec4<f32> { return {{ load_v }}; }

var<workgroup> klen_shared: u32;
var<workgroup> k_tile: array<vec4<f32>, KT * D4>; // (KT, DH / 4)
var<workgroup> v_tile: array<vec4<f32>, KT * D4>; // (KT, DH / 4)

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let bh = wid.y;
    let b = bh / p.heads;
    let qi = wid.x * WG + lid.x;
    // rows past the last query still help stage the tiles: no early return
    let live = qi < p.len_q;
    let qc = min(qi, p.len_q - 1u);
    let scale = bitcast<f32>(p.scale_bits);
    // the tile loop holds barriers, so its bound must be workgroup-uniform: a value read from a
    // storage buffer is not, until it passes through workgroupUniformLoad
    if (lid.x == 0u) { klen_shared = min(u32(lens[b]), p.len_k); }
    let klen = workgroupUniformLoad(&klen_shared);
    var kend = klen;
    if (CAUSAL) { kend = min(klen, qc + 1u); }

    var qv: array<vec4<f32>, D4>;
    var acc: array<vec4<f32>, D4>;
    let qbase = (bh * p.len_q + qc) * D4;
    for (var d = 0u; d < D4; d++) {
        qv[d] = load_q(qbase + d) * scale;
        acc[d] = vec4<f32>(0.0);
    }
    var m = -3.0e38;
    var l = 0.0;
    let kv = bh * p.len_k * D4;
    for (var t0 = 0u; t0 < klen; t0 += KT) {
        let rows = min(KT, klen - t0);
        workgroupBarrier();
        for (var x = lid.x; x < rows * D4; x += WG) {
            k_tile[x] = load_k(kv + t0 * D4 + x);
            v_tile[x] = load_v(kv + t0 * D4 + x);
        }
        workgroupBarrier();
        for (var j = 0u; j < rows; j++) {
            if (t0 + j < kend) {
                var s = 0.0;
                for (var d = 0u; d < D4; d++) { s += dot(qv[d], k_tile[j * D4 + d]); }
                let m_new = max(m, s);
                let corr = exp(m - m_new);
                let pj = exp(s - m_new);
                l = l * corr + pj;
                for (var d = 0u; d < D4; d++) { acc[d] = acc[d] * corr + pj * v_tile[j * D4 + d]; }
                m = m_new;
            }
        }
    }
    if (live) {
        let inv = 1.0 / l;
        for (var d = 0u; d < D4; d++) { out[qbase + d] = acc[d] * inv; }
        lse[bh * p.len_q + qi] = m + log(l);
    }
}
