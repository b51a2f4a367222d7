// Selective scan backward (Mamba-1), the adjoint of selective_scan.wgsl (spec §6.4):
//   dy_t = dout_t·SiLU(z_t),  dz_t = dout_t·y_t·SiLU′(z_t)
//   g_t[n] = C_t[n]·dy_t + a_{t+1}[n]·g_{t+1}[n]          (reverse scan, a_t = exp(Δ_t·A))
//   du_t = Σ_n g_t·Δ_t·B_t + D·dy_t
//   dΔ_t = Σ_n g_t·(B_t·u_t + A·a_t·h_{t−1}),  d(delta)_t = dΔ_t·σ(delta_t + bias)
//   dA[n] = Σ_t g_t·Δ_t·a_t·h_{t−1},  dD = Σ_t dy_t·u_t,  dbias = Σ_t d(delta)_t   (per sequence)
//   dB_t[n] = Σ_e g_t·Δ_t·u_t,  dC_t[n] = Σ_e dy_t·h_t                  (across channels)
//
// P invocations per (sequence, channel), each owning NP = N / P of its states (adjacent lanes;
// the sums over n are finished with P − 1 shuffles): the chain of dependent work per step is NP
// states long and twice as many invocations hide each other's latency. Chunks of T steps are
// taken last to first: the chunk's states are recomputed from its saved start state (`states`,
// kept by the forward every T steps) into a history of T·NP values, then walked backwards. The
// loops over the chunk have constant bounds, but NVIDIA's compiler leaves them rolled, so the
// arrays they index (the history, the chunk's inputs, `parts`) live in local memory, 480 bytes
// per invocation at T 8 (`probe_pipeline`); written out step by step with constant indices they
// move to registers (240 per invocation, half the resident subgroups) and the kernel ran no
// faster (BENCHMARKS.md §5, sixteenth session). The (batch, len, d_inner, N) state tensor
// never exists.
//
// The across-channel sums dB, dC are reduced over each subgroup (its channels; a
// transpose-reduce with shuffles when the subgroup has exactly 2N lanes). With WG_REDUCE (the
// host knows every subgroup has 2N lanes) the subgroups' sums of a chunk's steps are staged in
// workgroup memory and summed over the workgroup after the chunk, so each workgroup writes one
// row of partials per step (8× fewer than one per subgroup at 128 channels × 2 lanes: a Mamba-130m
// layer's partials go from 402 MB to 50 MB); else each subgroup writes its own. The host sums
// the rows. A workgroup holds consecutive channels of one sequence,
// which share B_t and C_t: the B and C rows of TILE steps (several chunks) are staged in
// workgroup memory once, and read as vec4s where an invocation's states are whole vec4s (a
// quarter of the reads; V4 false: one float at a time, the measured alternative).
//
// With KEEP_A the recompute also keeps a_t = exp2(Δ_t·A·log2 e) of each step, so the walk does
// not evaluate it again (half the exponentials, T·NP more registers).
//
// d(delta) and dz go to `dx` in f32, or to `dh` in f16 where a tensor-core matmul's backward
// would cast them (DV16, DZ16; DV_AT, DZ_AT: their planes in the buffer they go to).
//
// Template constants: WG (invocations per workgroup: channels × P), N (state size), P (lanes per
// channel, a power of two dividing N), T (chunk length), TILE (a multiple of T), HAS_Z,
// WG_REDUCE, SGS (subgroups per workgroup when reducing over it, else 1), KEEP_A, the lengths
// of `red` and `ahist`, DV16, DZ16, DV_AT, DZ_AT, `dh_ty` and `v4`.
{{ enable_f16 }}

const WG: u32 = {{ wg }}u;
const N: u32 = {{ n }}u;
const P: u32 = {{ p }}u;
const NP: u32 = N / P;
const T: u32 = {{ t }}u;
const TILE: u32 = {{ tile }}u;
const HAS_Z: bool = {{ has_z }};
const WG_REDUCE: bool = {{ wg_reduce }};
const SGS: u32 = {{ sgs }}u;
const KEEP_A: bool = {{ keep_a }};
const DV16: bool = {{ dv16 }};
const DZ16: bool = {{ dz16 }};
const DV_AT: u32 = {{ dv_at }}u;
const DZ_AT: u32 = {{ dz_at }}u;
alias dh_t = {{ dh_ty }};
const LOG2E: f32 = 1.4426950408889634;
const N4: u32 = (N + 3u) / 4u;   // vec4s of B_t (and of C_t) in a row of bc_tile
const V4: bool = {{ v4 }} && NP % 4u == 0u;  // an invocation's states are whole vec4s of a row

struct Params {
    batch: u32,
    len: u32,
    d_inner: u32,
    n_chunks: u32,
    bc_stride: u32,   // row stride of `bc`
    c_offset: u32,    // column of C_t[0] in a `bc` row
    n_groups: u32,    // rows of partials per (sequence, step) in `dbc`
    groups_per_wg: u32, // rows each workgroup writes (1 with WG_REDUCE)
}

@group(0) @binding(0) var<storage, read_write> u: array<f32>;      // (batch, len, d_inner)
@group(0) @binding(1) var<storage, read_write> delta: array<f32>;  // (batch, len, d_inner), before bias and softplus
@group(0) @binding(2) var<storage, read_write> z: array<f32>;      // (batch, len, d_inner); 1 dummy element when !HAS_Z
@group(0) @binding(3) var<storage, read_write> bc: array<f32>;     // (batch, len, bc_stride): B_t at 0.., C_t at c_offset..
@group(0) @binding(4) var<storage, read_write> chan: array<f32>;   // A (d_inner, N) | D (d_inner) | delta_bias (d_inner)
@group(0) @binding(5) var<storage, read_write> states: array<f32>; // (batch, n_chunks, N, d_inner): h entering each chunk
@group(0) @binding(6) var<storage, read_write> dout: array<f32>;   // (batch, len, d_inner)
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;     // (1–3, batch, len, d_inner): du | d(delta) | dz, those in f32
@group(0) @binding(8) var<storage, read_write> dbc: array<f32>;    // (n_groups, batch, len, 2N): partial dB | dC (group-major: summed as rows)
@group(0) @binding(9) var<storage, read_write> dchan: array<f32>;  // (batch, d_inner, N + 2): dA | dD | dbias per sequence
@group(0) @binding(10) var<storage, read_write> dh: array<dh_t>;  // (1–2, batch, len, d_inner): d(delta) | dz, those in f16; 1 dummy element when none
@group(0) @binding(11) var<uniform> p: Params;

var<workgroup> bc_tile: array<vec4<f32>, TILE * 2u * N4>; // (TILE, 2, N4): B_t | C_t of the current tile, each zero-padded to whole vec4s
var<workgroup> red: array<f32, {{ red_len }}u>; // (T, SGS, 2N) with WG_REDUCE, else (1): each subgroup's dB_t | dC_t of the chunk

// B (c = 0) or C (c = 1) of the NP states from s0 at row r of the tile
fn tile_states(r: u32, c: u32, s0: u32) -> array<f32, NP> {
    var v: array<f32, NP>;
    let row = (r * 2u + c) * N4;
    if (V4) {
        for (var q = 0u; q < NP / 4u; q++) {
            let w = bc_tile[row + s0 / 4u + q];
            v[4u * q] = w.x;
            v[4u * q + 1u] = w.y;
            v[4u * q + 2u] = w.z;
            v[4u * q + 3u] = w.w;
        }
    } else {
        for (var n = 0u; n < NP; n++) { v[n] = bc_tile[row + (s0 + n) / 4u][(s0 + n) % 4u]; }
    }
    return v;
}

// the sum of `v` over the P lanes of one channel (adjacent lanes)
fn channel_sum(v: f32) -> f32 {
    var s = v;
    for (var o = 1u; o < P; o = o * 2u) {
        s += subgroupShuffleXor(s, o);
    }
    return s;
}

@compute @workgroup_size(WG, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_size) sg_size: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
) {
    let E = p.d_inner;
    let part = lid.x % P;     // this invocation's states: part·NP ..
    let s0 = part * NP;
    let e = wid.x * (WG / P) + lid.x / P;
    let b = wid.y;
    // every invocation runs the loops (the subgroup sums need the whole subgroup);
    // those past the last channel compute on channel E−1 and contribute zeros
    let live = e < E;
    let ec = min(e, E - 1u);
    let w = select(0.0, 1.0, live);
    let group = wid.x * p.groups_per_wg + lid.x / sg_size;

    var a: array<f32, NP>;   // A
    var ga: array<f32, NP>;  // a_{t+1}·g_{t+1}, carried backwards
    var h: array<f32, NP>;   // during the walk: h_t of the current step
    var da: array<f32, NP>;
    var hist: array<f32, T * NP>; // h_{t−1} of each step of the current chunk
    var ahist: array<f32, {{ ahist_len }}u>; // (T, NP) with KEEP_A, else (1): a_t of each step
    var dts: array<f32, T>;       // Δ_t of each step of the current chunk
    // the chunk's inputs, read in the recompute (where no store comes between the loads, so
    // they issue together; the walk's stores to dx could alias them)
    var us: array<f32, T>;
    var vs: array<f32, T>;        // delta_t + bias
    var gos: array<f32, T>;       // dout_t
    var zs: array<f32, T>;
    for (var n = 0u; n < NP; n++) {
        a[n] = chan[ec * N + s0 + n];
        ga[n] = 0.0;
        da[n] = 0.0;
    }
    let dd = chan[E * N + ec];
    let bias = chan[E * N + E + ec];
    var dd_acc = 0.0;
    var dbias_acc = 0.0;
    let plane = p.batch * p.len * E;
    let n_tiles = (p.len + TILE - 1u) / TILE;

    for (var jj = 0u; jj < n_tiles; jj++) {
        let tile0 = (n_tiles - 1u - jj) * TILE;
        let tile_steps = min(TILE, p.len - tile0);
        workgroupBarrier();
        for (var j = lid.x; j < tile_steps * 2u * N; j += WG) {
            let r = j / (2u * N);
            let col = j % (2u * N);
            let src_col = select(p.c_offset + col - N, col, col < N);
            let s = select(col - N, col, col < N);
            bc_tile[(r * 2u + select(1u, 0u, col < N)) * N4 + s / 4u][s % 4u] = bc[(b * p.len + tile0 + r) * p.bc_stride + src_col];
        }
        workgroupBarrier();
        let chunks_here = (tile_steps + T - 1u) / T;
        for (var kk = 0u; kk < chunks_here; kk++) {
            let kt = chunks_here - 1u - kk;     // chunk within the tile
            let t0 = tile0 + kt * T;
            let k = t0 / T;
            let steps = min(T, p.len - t0);
            let row0 = kt * T;                  // the chunk's first row of bc_tile
            let sidx = (b * p.n_chunks + k) * N * E + ec;
            for (var n = 0u; n < NP; n++) { h[n] = states[sidx + (s0 + n) * E]; }
            // recompute the chunk forwards, keeping h_{t−1} and Δ_t; h ends as the chunk's last
            // h_t. Steps past the sequence's end (the last chunk) are no-ops: Δ = 0 keeps h.
            for (var r = 0u; r < T; r++) {
                let valid = r < steps;
                let rc = min(r, steps - 1u);
                let i = (b * p.len + t0 + rc) * E + ec;
                let v = delta[i] + bias;
                let dt = select(0.0, select(log(1.0 + exp(v)), v, v > 20.0), valid);
                let uu = u[i];
                dts[r] = dt;
                us[r] = uu;
                vs[r] = v;
                gos[r] = dout[i] * w;
                if (HAS_Z) { zs[r] = z[i]; }
                let dtl = dt * LOG2E;
                let du = dt * uu;
                let bs = tile_states(row0 + rc, 0u, s0);
                for (var n = 0u; n < NP; n++) {
                    hist[r * NP + n] = h[n];
                    let at = exp2(dtl * a[n]);
                    if (KEEP_A) { ahist[r * NP + n] = at; }
                    h[n] = at * h[n] + du * bs[n];
                }
            }
            // and walk it backwards: h_t is the next step's h_{t−1}, so nothing is recomputed
            // (every invocation of the workgroup has the same `steps`: the subgroup operations
            // stay in uniform control flow)
            for (var rr = 0u; rr < T; rr++) {
                let r = T - 1u - rr;
                if (r < steps) {
                    let t = t0 + r;
                    let i = (b * p.len + t) * E + ec;
                    let ut = us[r];
                    let v = vs[r];
                    let dt = dts[r];
                    let dtl = dt * LOG2E;
                    let dtu = dt * ut;
                    let bs = tile_states(row0 + r, 0u, s0);
                    let cs = tile_states(row0 + r, 1u, s0);
                    let go = gos[r];
                    var dy = go;
                    var zt = 0.0;
                    var sz = 0.0;
                    if (HAS_Z) {
                        zt = zs[r];
                        sz = 1.0 / (1.0 + exp(-zt));
                        dy = go * zt * sz;
                    }
                    var cy = 0.0;     // Σ_n C_t·h_t over this invocation's states
                    var gb = 0.0;     // Σ_n g_t·B_t
                    var ga_h = 0.0;   // Σ_n A·g_t·a_t·h_{t−1}
                    let out_row = ((group * p.batch + b) * p.len + t) * 2u * N;
                    // this invocation's dB_t | dC_t contributions (its NP states each), summed
                    // across the subgroup's channels below
                    var parts: array<f32, 2u * NP>;
                    for (var n = 0u; n < NP; n++) {
                        let bn = bs[n];
                        let cn = cs[n];
                        let hp = hist[r * NP + n];
                        let ht = h[n];
                        var at = 0.0;
                        if (KEEP_A) { at = ahist[r * NP + n]; } else { at = exp2(dtl * a[n]); }
                        cy += cn * ht;
                        let g = cn * dy + ga[n];
                        gb += g * bn;
                        let q = g * at * hp;
                        ga_h += a[n] * q;
                        da[n] += dt * q;
                        ga[n] = at * g;
                        parts[n] = g * dtu;
                        parts[NP + n] = dy * ht;
                        h[n] = hp;
                    }
                    let y = dd * ut + channel_sum(cy); // y_t before the gate, for dz
                    gb = channel_sum(gb);
                    let du = dd * dy + dt * gb;
                    let ddt = ut * gb + channel_sum(ga_h);
                    var dz = 0.0;
                    if (HAS_Z) {
                        dz = go * y * sz * (1.0 + zt * (1.0 - sz));
                    }
                    if (sg_size == 2u * N && WG % sg_size == 0u) {
                        // full subgroups of exactly 2N lanes (a workgroup narrower than the
                        // subgroup leaves lanes inactive): transpose-reduce over the lane bits
                        // that pick the channel (P and up), halving the vector each time and
                        // trading the half the partner keeps. The lane with channel bits c
                        // ends with the subgroup's sum of value c of its part: 2N/P − 1
                        // shuffles per invocation. The bounds are constants (o starts at
                        // sg_size / 2 = N), so the loops unroll and `parts` stays in registers.
                        var len = 2u * NP;
                        for (var o = N; o >= P; o = o / 2u) {
                            len = len / 2u;
                            let upper = (sg_lane & o) != 0u;
                            for (var j = 0u; j < len; j++) {
                                let keep = select(parts[j], parts[j + len], upper);
                                let give = select(parts[j + len], parts[j], upper);
                                parts[j] = keep + subgroupShuffleXor(give, o);
                            }
                        }
                        let c = sg_lane / P;  // 0 .. 2N/P: dB of state s0 + c, or dC of s0 + c − NP
                        let col = select(N + s0 + c - NP, s0 + c, c < NP);
                        if (WG_REDUCE) {
                            red[(r * SGS + lid.x / (2u * N)) * 2u * N + col] = parts[0];
                        } else {
                            dbc[out_row + col] = parts[0];
                        }
                    } else {
                        for (var q = 0u; q < P; q++) {
                            for (var n = 0u; n < 2u * NP; n++) {
                                let total = subgroupAdd(select(0.0, parts[n], part == q));
                                let col = select(N + q * NP + n - NP, q * NP + n, n < NP);
                                if (sg_lane == 0u) { dbc[out_row + col] = total; }
                            }
                        }
                    }
                    let dv = ddt * select(1.0 / (1.0 + exp(-v)), 1.0, v > 20.0);
                    dd_acc += dy * ut;
                    dbias_acc += dv;
                    if (live && part == 0u) {
                        dx[i] = du;
                        if (DV16) { dh[DV_AT * plane + i] = dh_t(dv); } else { dx[DV_AT * plane + i] = dv; }
                        if (DZ16) { dh[DZ_AT * plane + i] = dh_t(dz); } else { dx[DZ_AT * plane + i] = dz; }
                    }
                }
            }
            if (WG_REDUCE) {
                // the chunk's steps summed over the workgroup's subgroups, in a fixed order
                workgroupBarrier();
                for (var j = lid.x; j < steps * 2u * N; j += WG) {
                    let r = j / (2u * N);
                    let col = j % (2u * N);
                    var total = 0.0;
                    for (var g = 0u; g < SGS; g++) { total += red[(r * SGS + g) * 2u * N + col]; }
                    dbc[((wid.x * p.batch + b) * p.len + t0 + r) * 2u * N + col] = total;
                }
                workgroupBarrier();
            }
        }
    }
    if (live) {
        let o = (b * E + e) * (N + 2u);
        for (var n = 0u; n < NP; n++) { dchan[o + s0 + n] = da[n]; }
        if (part == 0u) {
            dchan[o + N] = dd_acc;
            dchan[o + N + 1u] = dbias_acc;
        }
    }
}
