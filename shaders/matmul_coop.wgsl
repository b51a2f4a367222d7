// C = A · B on tensor cores: f16 products, f32 accumulation, through wgpu's experimental
// cooperative matrices (`enable wgpu_cooperative_matrix;`, SPV_KHR_cooperative_matrix on Vulkan).
// A workgroup of WM × WN subgroups (SG lanes each, SG from Rust: the adapter's subgroup size) owns
// a BM × BN block of C; each subgroup a (TM · 16) × (TN · 16) part of it as TM × TN accumulator
// tiles of 16 × 16. K advances BK at a time: the workgroup copies the (BM × BK) A and (BK × BN)
// B slices to workgroup memory as vec4<f16> (rows padded against bank conflicts), then every
// subgroup multiplies its tiles from there (cooperative loads from vec4 arrays count strides in
// vec4s). The next slices are read into registers while the current ones are multiplied; with
// STAGES = 1 they are stored into the same buffer at the top of the next slice (two barriers),
// with STAGES = 2 into the other buffer after the multiply (one barrier per slice). The STAGES = 2
// loop takes two slices per turn, one from each buffer, so every buffer offset is a constant
// (with the buffer picked at run time it ran 1.6-1.9x slower; BENCHMARKS.md §5).
// STAGES = 0 stages nothing: every subgroup loads its tiles from the storage buffers itself, BK
// at a time (m, n, k multiples of 16; the caller falls back to a staged shape otherwise).
// The shape (WM, WN, TM, TN, BK, STAGES) is chosen in Rust (`ops::matmul::CoopShape`), which also
// writes the accumulator code below (the decl, tiles, mma and store placeholders): named
// accumulators, as an array of them is kept in memory, not registers.
//
// Any m, n, k that are multiples of 4 (vec4 loads): with EDGES, loads past the edges read zeros
// (without, the sizes are multiples of the blocks and the checks compile away); C is written in
// whole blocks, so `c` is (m_pad, n_pad) = the grid times the block, and the caller keeps the
// (m, n) corner. (f32 operands converted as they were staged ran 6× slower on the H200: the
// prefetched slices then need twice the registers and spill, so the caller casts to f16.)
//
// Split K: workgroup z sums K range [z·kc, z·kc + kc) (whole turns of STAGES slices) into its own (m_pad, n_pad) plane of `c`
// (the caller adds the planes), so a product with few output blocks and a long K (a weight
// gradient over every token of a batch) still fills the GPU.
//
// Persistent workgroups: the grid's x is at most a few workgroups per SM (chosen in Rust), and
// each takes output blocks wg.x, wg.x + groups.x, … in turn (row-major over the blocks). The
// first K slice of its next block is read into registers during the current block's last slice,
// so that load's latency passes while the block is multiplied out and stored (a fresh workgroup's
// first load has nothing of its own to overlap with; measured: ~2 % of the matmuls' time,
// BENCHMARKS.md §5). With as many workgroups as blocks, each takes one.
//
// TRANS_A / TRANS_B: the operand is stored transposed (A as (k, m), B as (n, k) row-major: a
// weight-gradient dyᵀ·x, a forward x·wᵀ), so no transposed copy is made. Its slice is staged in
// workgroup memory in its stored orientation and the tiles are loaded column-major (`coopLoad`
// instead of the row-major `coopLoadT`).
enable f16;
enable wgpu_cooperative_matrix;

const SG: u32 = {{ sg }}u;
const WM: u32 = {{ wm }}u;
const WN: u32 = {{ wn }}u;
const TM: u32 = {{ tm }}u;
const TN: u32 = {{ tn }}u;
const TRANS_A: bool = {{ trans_a }};
const TRANS_B: bool = {{ trans_b }};
const EDGES: bool = {{ edges }};
const WG: u32 = WM * WN * SG;
const BM: u32 = WM * TM * 16u;
const BN: u32 = WN * TN * 16u;
const BK: u32 = {{ bk }}u;
const STAGES: u32 = {{ stages }}u;
// workgroup-memory row strides in vec4s, padded by two so the rows of a 16 x 16 tile fall in
// different banks (unpadded, every row starts in bank 0)
// (transposed operands: the slices are (BK, BM) and (BN, BK))
const SA: u32 = {{ sa }}u;
const SB: u32 = {{ sb }}u;
// vec4s of one staged (padded) slice: a stage's offset in `sa` / `sb`
const LA: u32 = {{ la }}u;
const LB: u32 = {{ lb }}u;
// vec4s of each slice one lane copies
const PER_A: u32 = BM * BK / 4u / WG;
const PER_B: u32 = BK * BN / 4u / WG;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    kc: u32,        // K range of one split (a multiple of BK)
    blocks_x: u32,  // output blocks per row of blocks: n_pad / BN
    blocks: u32,    // output blocks of one split: (m_pad / BM) · blocks_x
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> a: array<vec4<f16>>;  // (m, k / 4) row-major; TRANS_A: (k, m / 4)
@group(0) @binding(1) var<storage, read_write> b: array<vec4<f16>>;  // (k, n / 4) row-major; TRANS_B: (n, k / 4)
@group(0) @binding(2) var<storage, read_write> c: array<f32>;        // (splits, m_pad, n_pad) row-major
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> sa: array<vec4<f16>, {{ sa_len }}>;  // (STAGES, BM, SA): the (BM, BK / 4) slices of A, padded; TRANS_A: (STAGES, BK, SA)
var<workgroup> sb: array<vec4<f16>, {{ sb_len }}>;  // (STAGES, BK, SB): the (BK, BN / 4) slices of B, padded; TRANS_B: (STAGES, BN, SB)

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
    // this split's K range
    let kb = wg.z * p.kc;
    // (staged: K padded to whole turns of STAGES slices, the caller sets EDGES where that passes
    // k; unstaged: K itself, the last turn ends 16 at a time)
    const TURN: u32 = max(STAGES, 1u) * BK;
    let ke = min(kb + p.kc, select((p.k + TURN - 1u) / TURN * TURN, p.k, STAGES == 0u));
    // this subgroup's part of a block
    let sr = (sg / WN) * (TM * 16u);
    let sc = (sg % WN) * (TN * 16u);
    // (the padded C's row length and split plane)
    let n = p.blocks_x * BN;
    let plane = (p.blocks / p.blocks_x) * BM * n;
    // the next slices wait in registers while the current ones are multiplied; the first
    // block's first slice is read here, every later block's during the block before it
    var pa: array<vec4<f16>, PER_A>;
    var pb: array<vec4<f16>, PER_B>;
    var blk = wg.x;
    if (STAGES > 0u) {
        let row0 = (blk / p.blocks_x) * BM;
        let col0 = (blk % p.blocks_x) * BN;
        for (var t = 0u; t < PER_A; t++) { pa[t] = a_load(li + t * WG, row0, kb); }
        for (var t = 0u; t < PER_B; t++) { pb[t] = b_load(li + t * WG, col0, kb); }
    }
    // (the loop's body keeps the indentation the accumulator code is generated with)
    for (; blk < p.blocks; blk += groups.x) {
    let row0 = (blk / p.blocks_x) * BM;
    let col0 = (blk % p.blocks_x) * BN;
    let next = blk + groups.x;
    let more = next < p.blocks;
    let next_row0 = (next / p.blocks_x) * BM;
    let next_col0 = (next % p.blocks_x) * BN;
{{ decl }}
    if (STAGES == 0u) {
        // tiles straight from storage (the workgroup's subgroups share them through the cache):
        // no workgroup memory, no barriers. Sizes are multiples of 16; a tile past the edge reads
        // the last tile inside instead (its products land in C's padding, which the caller drops).
        let m4 = p.m / 4u;
        let n4 = p.n / 4u;
        let k4 = p.k / 4u;
{{ gclamp }}
        var k0 = kb;
        for (; k0 + BK <= ke; k0 += BK) {
            for (var kk = 0u; kk < BK; kk += 16u) {
                let kq = k0 + kk;
{{ gtiles }}
{{ mma }}
            }
        }
        for (; k0 < ke; k0 += 16u) {
            let kq = k0;
{{ gtiles }}
{{ mma }}
        }
    } else {
    if (STAGES == 1u) {
        for (var k0 = kb; k0 < ke; k0 += BK) {
            workgroupBarrier();
            for (var t = 0u; t < PER_A; t++) { let e = li + t * WG; sa[a_dst(e)] = pa[t]; }
            for (var t = 0u; t < PER_B; t++) { let e = li + t * WG; sb[b_dst(e)] = pb[t]; }
            workgroupBarrier();
            let k1 = k0 + BK;
            if (k1 < ke) {
                for (var t = 0u; t < PER_A; t++) { pa[t] = a_load(li + t * WG, row0, k1); }
                for (var t = 0u; t < PER_B; t++) { pb[t] = b_load(li + t * WG, col0, k1); }
            } else if (more) {
                for (var t = 0u; t < PER_A; t++) { pa[t] = a_load(li + t * WG, next_row0, kb); }
                for (var t = 0u; t < PER_B; t++) { pb[t] = b_load(li + t * WG, next_col0, kb); }
            }
            let oa = 0u;
            let ob = 0u;
            for (var kk = 0u; kk < BK; kk += 16u) {
{{ tiles }}
{{ mma }}
            }
        }
    } else {
        // slice kb into buffer 0, kb + BK into registers (every split holds whole turns)
        for (var t = 0u; t < PER_A; t++) { let e = li + t * WG; sa[a_dst(e)] = pa[t]; }
        for (var t = 0u; t < PER_B; t++) { let e = li + t * WG; sb[b_dst(e)] = pb[t]; }
        workgroupBarrier();
        for (var t = 0u; t < PER_A; t++) { pa[t] = a_load(li + t * WG, row0, kb + BK); }
        for (var t = 0u; t < PER_B; t++) { pb[t] = b_load(li + t * WG, col0, kb + BK); }
        for (var k0 = kb; k0 < ke; k0 += 2u * BK) {
            // buffer 0 holds slice k0, the registers k0 + BK; buffer 1 was last read before the
            // previous barrier
            {
                let oa = 0u;
                let ob = 0u;
                for (var kk = 0u; kk < BK; kk += 16u) {
{{ tiles }}
{{ mma }}
                }
            }
            for (var t = 0u; t < PER_A; t++) { let e = li + t * WG; sa[LA + a_dst(e)] = pa[t]; }
            for (var t = 0u; t < PER_B; t++) { let e = li + t * WG; sb[LB + b_dst(e)] = pb[t]; }
            let k2 = k0 + 2u * BK;
            if (k2 < ke) {
                for (var t = 0u; t < PER_A; t++) { pa[t] = a_load(li + t * WG, row0, k2); }
                for (var t = 0u; t < PER_B; t++) { pb[t] = b_load(li + t * WG, col0, k2); }
            }
            workgroupBarrier();
            // buffer 1 holds slice k0 + BK, the registers k0 + 2 BK; buffer 0 was read above
            {
                let oa = LA;
                let ob = LB;
                for (var kk = 0u; kk < BK; kk += 16u) {
{{ tiles }}
{{ mma }}
                }
            }
            if (k2 < ke) {
                for (var t = 0u; t < PER_A; t++) { let e = li + t * WG; sa[a_dst(e)] = pa[t]; }
                for (var t = 0u; t < PER_B; t++) { let e = li + t * WG; sb[b_dst(e)] = pb[t]; }
                for (var t = 0u; t < PER_A; t++) { pa[t] = a_load(li + t * WG, row0, k2 + BK); }
                for (var t = 0u; t < PER_B; t++) { pb[t] = b_load(li + t * WG, col0, k2 + BK); }
            }
            workgroupBarrier();
        }
        // the next block's first slice (here not overlapped with a multiply)
        if (more) {
            for (var t = 0u; t < PER_A; t++) { pa[t] = a_load(li + t * WG, next_row0, kb); }
            for (var t = 0u; t < PER_B; t++) { pb[t] = b_load(li + t * WG, next_col0, kb); }
        }
    }
    }
    // naga 30's SPIR-V writer needs the stored matrix, the index and the stride of a
    // cooperative store as named values (it panics on inline expressions there)
    // whole blocks into this split's plane of the padded C
    let base = wg.z * plane + row0 * n + col0;
{{ store }}
    }
}
