// The tensor cores' ceiling as WGSL reaches them: the inner loop of `matmul_coop.wgsl` with
// nothing around it (no storage loads, no barriers in the loop), to tell how far the matmul is
// from what cooperative matrices give on this adapter at all (`ops::matmul::coop_peak`,
// `examples/probe_matmul.rs --peak`). Every subgroup of WM × WN owns TM × TN accumulators, as the
// matmul's; one (BM, 64) slice of A and one (64, BN) slice of B are staged in workgroup memory
// once, then REPS times over the slice's four 16-deep steps, adding the matmul's work by MODE:
//   0: the tiles are loaded once, before the loop: multiply-adds alone;
//   1: the tiles are loaded from workgroup memory at every step, as the matmul does;
//   2: and at every slice the staging of STAGES = 1 without its storage loads: a barrier, each
//      invocation's share of the slices written to workgroup memory from registers, a barrier.
// (MODE 2 plus the storage loads is the matmul itself.)
// The accumulator code (decl, tiles, mma, store) is the matmul's own (`CoopShape::code`).
enable f16;
enable wgpu_cooperative_matrix;

const SG: u32 = {{ sg }}u;
const WM: u32 = {{ wm }}u;
const WN: u32 = {{ wn }}u;
const TM: u32 = {{ tm }}u;
const TN: u32 = {{ tn }}u;
const MODE: u32 = {{ mode }}u;
const WG: u32 = WM * WN * SG;
const BM: u32 = WM * TM * 16u;
const BN: u32 = WN * TN * 16u;
const BK: u32 = 64u;
// padded workgroup-memory rows in vec4s, as the matmul's
const SA: u32 = BK / 4u + 2u;
const SB: u32 = BN / 4u + 2u;
// vec4s of each slice one invocation stages
const PER_A: u32 = BM * BK / 4u / WG;
const PER_B: u32 = BK * BN / 4u / WG;

struct Params {
    reps: u32,
}

@group(0) @binding(0) var<storage, read_write> a: array<vec4<f16>>;  // (BM, BK / 4): one slice of A
@group(0) @binding(1) var<storage, read_write> b: array<vec4<f16>>;  // (BK, BN / 4): one slice of B
@group(0) @binding(2) var<storage, read_write> c: array<f32>;        // (workgroups · BM, BN): each workgroup's accumulators
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> sa: array<vec4<f16>, BM * SA>;  // (BM, SA): A's slice, padded
var<workgroup> sb: array<vec4<f16>, BK * SB>;  // (BK, SB): B's slice, padded

fn a_tile(r: u32, kk: u32) -> u32 {
    return r * SA + kk / 4u;
}
fn b_tile(kk: u32, c: u32) -> u32 {
    return kk * SB + c / 4u;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_id) sg: u32,
) {
    // each invocation's share of the slices, in registers (MODE 2 stores them every slice)
    var pa: array<vec4<f16>, PER_A>;
    var pb: array<vec4<f16>, PER_B>;
    for (var t = 0u; t < PER_A; t++) { pa[t] = a[li + t * WG]; }
    for (var t = 0u; t < PER_B; t++) { pb[t] = b[li + t * WG]; }
    for (var t = 0u; t < PER_A; t++) { let e = li + t * WG; sa[(e / (BK / 4u)) * SA + e % (BK / 4u)] = pa[t]; }
    for (var t = 0u; t < PER_B; t++) { let e = li + t * WG; sb[(e / (BN / 4u)) * SB + e % (BN / 4u)] = pb[t]; }
    workgroupBarrier();
    let sr = (sg / WN) * (TM * 16u);
    let sc = (sg % WN) * (TN * 16u);
    let oa = 0u;
    let ob = 0u;
{{ decl }}
    if (MODE == 0u) {
        let kk = 0u;
{{ tiles }}
        for (var r = 0u; r < p.reps; r++) {
            for (var s = 0u; s < BK / 16u; s++) {
{{ mma }}
            }
        }
    } else {
        for (var r = 0u; r < p.reps; r++) {
            if (MODE == 2u) {
                workgroupBarrier();
                for (var t = 0u; t < PER_A; t++) { let e = li + t * WG; sa[(e / (BK / 4u)) * SA + e % (BK / 4u)] = pa[t]; }
                for (var t = 0u; t < PER_B; t++) { let e = li + t * WG; sb[(e / (BN / 4u)) * SB + e % (BN / 4u)] = pb[t]; }
                workgroupBarrier();
            }
            for (var s = 0u; s < BK / 16u; s++) {
                // a position that moves with r, so the loads cannot be hoisted out of the loop
                let kk = (s + r) % (BK / 16u) * 16u;
{{ tiles }}
{{ mma }}
            }
        }
    }
    let n = BN;
    let base = wg.x * BM * BN;
{{ store }}
}
