// C = A · B on tensor cores: f16 products, f32 accumulation, through wgpu's experimental
// cooperative matrices (`enable wgpu_cooperative_matrix;`, SPV_KHR_cooperative_matrix on Vulkan).
// A workgroup of four subgroups (SG lanes each, SG from Rust: the adapter's subgroup size) owns a
// 128 × 128 block of C; each subgroup a 64 × 64 quarter as 4 × 4 accumulator tiles of 16 × 16.
// K advances BK = 64 at a time: the workgroup copies the (128 × 64) A and (64 × 128) B slices to
// workgroup memory as vec4<f16> (rows padded against bank conflicts), then every subgroup
// multiplies its tiles from there (cooperative loads from vec4 arrays count strides in vec4s).
//
// Any m, n, k that are multiples of 4 (vec4 loads): with EDGES, loads past the edges read zeros
// (without, the sizes are multiples of the blocks and the checks compile away); C is written in
// whole blocks, so `c` is (m_pad, n_pad) = the grid times the block, and the caller keeps the
// (m, n) corner. (f32 operands converted as they were staged ran 6× slower on the H200: the
// prefetched slices then need twice the registers and spill, so the caller casts to f16.)
//
// Split K: workgroup z sums K range [z·kc, z·kc + kc) into its own (m_pad, n_pad) plane of `c`
// (the caller adds the planes), so a product with few output blocks and a long K (a weight
// gradient over every token of a batch) still fills the GPU.
//
// TRANS_A / TRANS_B: the operand is stored transposed (A as (k, m), B as (n, k) row-major: a
// weight-gradient dyᵀ·x, a forward x·wᵀ), so no transposed copy is made. Its slice is staged in
// workgroup memory in its stored orientation and the tiles are loaded column-major (`coopLoad`
// instead of the row-major `coopLoadT`).
enable f16;
enable wgpu_cooperative_matrix;

const SG: u32 = {{ sg }}u;
const TRANS_A: bool = {{ trans_a }};
const TRANS_B: bool = {{ trans_b }};
const EDGES: bool = {{ edges }};
const WG: u32 = 4u * SG;
const BM: u32 = 128u;
const BN: u32 = 128u;
const BK: u32 = 64u;
// workgroup-memory row strides in vec4s, padded by two so the rows of a 16 x 16 tile fall in
// different banks (unpadded, every row starts in bank 0)
// (transposed operands: the slices are (BK, BM) and (BN, BK))
const SA: u32 = {{ sa }}u;
const SB: u32 = {{ sb }}u;
// vec4s of each slice one lane copies
const PER: u32 = 2048u / WG;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    kc: u32,  // K range of one split (a multiple of BK)
}

@group(0) @binding(0) var<storage, read_write> a: array<vec4<f16>>;  // (m, k / 4) row-major; TRANS_A: (k, m / 4)
@group(0) @binding(1) var<storage, read_write> b: array<vec4<f16>>;  // (k, n / 4) row-major; TRANS_B: (n, k / 4)
@group(0) @binding(2) var<storage, read_write> c: array<f32>;        // (splits, m_pad, n_pad) row-major
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> sa: array<vec4<f16>, 2304>;  // (BM, SA): the (BM, BK / 4) slice of A, padded; TRANS_A: (BK, SA)
var<workgroup> sb: array<vec4<f16>, 2304>;  // (BK, SB): the (BK, BN / 4) slice of B, padded; TRANS_B: (BN, SB)

// the e-th vec4 of A's slice at k0 (zeros past the edges), and where it goes in workgroup memory
fn a_load(e: u32, row0: u32, k0: u32) -> vec4<f16> {
    if (TRANS_A) {
        let kr = k0 + e / (BM / 4u);
        let m4 = row0 / 4u + e % (BM / 4u);
        if (EDGES && (kr >= p.k || m4 * 4u >= p.m)) { return vec4<f16>(); }
        return a[kr * (p.m / 4u) + m4];
    }
    let mr = row0 + e / (BK / 4u);
    let k4 = k0 / 4u + e % (BK / 4u);
    if (EDGES && (mr >= p.m || k4 * 4u >= p.k)) { return vec4<f16>(); }
    return a[mr * (p.k / 4u) + k4];
}
fn a_dst(e: u32) -> u32 {
    if (TRANS_A) { return (e / (BM / 4u)) * SA + e % (BM / 4u); }
    return (e / (BK / 4u)) * SA + e % (BK / 4u);
}
// the e-th vec4 of B's slice at k0 (zeros past the edges)
fn b_load(e: u32, col0: u32, k0: u32) -> vec4<f16> {
    if (TRANS_B) {
        let nr = col0 + e / (BK / 4u);
        let k4 = k0 / 4u + e % (BK / 4u);
        if (EDGES && (nr >= p.n || k4 * 4u >= p.k)) { return vec4<f16>(); }
        return b[nr * (p.k / 4u) + k4];
    }
    let kr = k0 + e / (BN / 4u);
    let n4 = col0 / 4u + e % (BN / 4u);
    if (EDGES && (kr >= p.k || n4 * 4u >= p.n)) { return vec4<f16>(); }
    return b[kr * (p.n / 4u) + n4];
}
fn b_dst(e: u32) -> u32 {
    if (TRANS_B) { return (e / (BK / 4u)) * SB + e % (BK / 4u); }
    return (e / (BN / 4u)) * SB + e % (BN / 4u);
}
// where the 16 × 16 tile at (row r, k kk) of A's slice and at (k kk, column c) of B's starts
fn a_tile(r: u32, kk: u32) -> u32 {
    if (TRANS_A) { return kk * SA + r / 4u; }
    return r * SA + kk / 4u;
}
fn b_tile(kk: u32, c: u32) -> u32 {
    if (TRANS_B) { return c * SB + kk / 4u; }
    return kk * SB + c / 4u;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_id) sg: u32,
) {
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    // this split's K range
    let kb = wg.z * p.kc;
    let ke = min(kb + p.kc, (p.k + BK - 1u) / BK * BK);
    // this subgroup's 64 x 64 quarter inside the block
    let sr = (sg / 2u) * 64u;
    let sc = (sg % 2u) * 64u;
    var acc0 = coop_mat16x16<f32, C>();
    var acc1 = coop_mat16x16<f32, C>();
    var acc2 = coop_mat16x16<f32, C>();
    var acc3 = coop_mat16x16<f32, C>();
    var acc4 = coop_mat16x16<f32, C>();
    var acc5 = coop_mat16x16<f32, C>();
    var acc6 = coop_mat16x16<f32, C>();
    var acc7 = coop_mat16x16<f32, C>();
    var acc8 = coop_mat16x16<f32, C>();
    var acc9 = coop_mat16x16<f32, C>();
    var acc10 = coop_mat16x16<f32, C>();
    var acc11 = coop_mat16x16<f32, C>();
    var acc12 = coop_mat16x16<f32, C>();
    var acc13 = coop_mat16x16<f32, C>();
    var acc14 = coop_mat16x16<f32, C>();
    var acc15 = coop_mat16x16<f32, C>();
    // the next slices wait in registers while the current ones are multiplied
    var pa: array<vec4<f16>, PER>;
    var pb: array<vec4<f16>, PER>;
    for (var t = 0u; t < PER; t++) {
        let e = li + t * WG;
        pa[t] = a_load(e, row0, kb);
        pb[t] = b_load(e, col0, kb);
    }
    for (var k0 = kb; k0 < ke; k0 += BK) {
        workgroupBarrier();
        for (var t = 0u; t < PER; t++) {
            let e = li + t * WG;
            sa[a_dst(e)] = pa[t];
            sb[b_dst(e)] = pb[t];
        }
        workgroupBarrier();
        let k1 = k0 + BK;
        if (k1 < ke) {
            for (var t = 0u; t < PER; t++) {
                let e = li + t * WG;
                pa[t] = a_load(e, row0, k1);
                pb[t] = b_load(e, col0, k1);
            }
        }
        for (var kk = 0u; kk < BK; kk += 16u) {
            let a0 = {{ load_a }}<coop_mat16x16<f16, A>>(&sa[a_tile(sr + 0u, kk)], SA);
            let a1 = {{ load_a }}<coop_mat16x16<f16, A>>(&sa[a_tile(sr + 16u, kk)], SA);
            let a2 = {{ load_a }}<coop_mat16x16<f16, A>>(&sa[a_tile(sr + 32u, kk)], SA);
            let a3 = {{ load_a }}<coop_mat16x16<f16, A>>(&sa[a_tile(sr + 48u, kk)], SA);
            let b0 = {{ load_b }}<coop_mat16x16<f16, B>>(&sb[b_tile(kk, sc + 0u)], SB);
            let b1 = {{ load_b }}<coop_mat16x16<f16, B>>(&sb[b_tile(kk, sc + 16u)], SB);
            let b2 = {{ load_b }}<coop_mat16x16<f16, B>>(&sb[b_tile(kk, sc + 32u)], SB);
            let b3 = {{ load_b }}<coop_mat16x16<f16, B>>(&sb[b_tile(kk, sc + 48u)], SB);
            // sixteen named accumulators (an array of them is kept in memory, not registers)
            acc0 = coopMultiplyAdd(a0, b0, acc0);
            acc1 = coopMultiplyAdd(a0, b1, acc1);
            acc2 = coopMultiplyAdd(a0, b2, acc2);
            acc3 = coopMultiplyAdd(a0, b3, acc3);
            acc4 = coopMultiplyAdd(a1, b0, acc4);
            acc5 = coopMultiplyAdd(a1, b1, acc5);
            acc6 = coopMultiplyAdd(a1, b2, acc6);
            acc7 = coopMultiplyAdd(a1, b3, acc7);
            acc8 = coopMultiplyAdd(a2, b0, acc8);
            acc9 = coopMultiplyAdd(a2, b1, acc9);
            acc10 = coopMultiplyAdd(a2, b2, acc10);
            acc11 = coopMultiplyAdd(a2, b3, acc11);
            acc12 = coopMultiplyAdd(a3, b0, acc12);
            acc13 = coopMultiplyAdd(a3, b1, acc13);
            acc14 = coopMultiplyAdd(a3, b2, acc14);
            acc15 = coopMultiplyAdd(a3, b3, acc15);
        }
    }
    // naga 30's SPIR-V writer needs the stored matrix, the index and the stride of a
    // cooperative store as named values (it panics on inline expressions there)
    // whole blocks into this split's plane of the padded C
    let n = groups.x * BN;
    let base = (wg.z * groups.y * BM + row0) * n + col0;
    let r0 = acc0; let i0 = base + (sr + 0u) * n + sc + 0u; coopStoreT(r0, &c[i0], n);
    let r1 = acc1; let i1 = base + (sr + 0u) * n + sc + 16u; coopStoreT(r1, &c[i1], n);
    let r2 = acc2; let i2 = base + (sr + 0u) * n + sc + 32u; coopStoreT(r2, &c[i2], n);
    let r3 = acc3; let i3 = base + (sr + 0u) * n + sc + 48u; coopStoreT(r3, &c[i3], n);
    let r4 = acc4; let i4 = base + (sr + 16u) * n + sc + 0u; coopStoreT(r4, &c[i4], n);
    let r5 = acc5; let i5 = base + (sr + 16u) * n + sc + 16u; coopStoreT(r5, &c[i5], n);
    let r6 = acc6; let i6 = base + (sr + 16u) * n + sc + 32u; coopStoreT(r6, &c[i6], n);
    let r7 = acc7; let i7 = base + (sr + 16u) * n + sc + 48u; coopStoreT(r7, &c[i7], n);
    let r8 = acc8; let i8 = base + (sr + 32u) * n + sc + 0u; coopStoreT(r8, &c[i8], n);
    let r9 = acc9; let i9 = base + (sr + 32u) * n + sc + 16u; coopStoreT(r9, &c[i9], n);
    let r10 = acc10; let i10 = base + (sr + 32u) * n + sc + 32u; coopStoreT(r10, &c[i10], n);
    let r11 = acc11; let i11 = base + (sr + 32u) * n + sc + 48u; coopStoreT(r11, &c[i11], n);
    let r12 = acc12; let i12 = base + (sr + 48u) * n + sc + 0u; coopStoreT(r12, &c[i12], n);
    let r13 = acc13; let i13 = base + (sr + 48u) * n + sc + 16u; coopStoreT(r13, &c[i13], n);
    let r14 = acc14; let i14 = base + (sr + 48u) * n + sc + 32u; coopStoreT(r14, &c[i14], n);
    let r15 = acc15; let i15 = base + (sr + 48u) * n + sc + 48u; coopStoreT(r15, &c[i15], n);
}
