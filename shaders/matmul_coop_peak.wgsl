// The tensor cores' ceiling as WGSL reaches them: the inner loop of `matmul_coop.wgsl` with
// nothing around it (no storage loads, no barriers in the loop), to tell how far the matmul is
// from what cooperative matrices give on this adapter at all (`ops::matmul::coop_peak`,
// `examples/probe_matmul.rs --peak`). Every subgroup of WM × WN owns TM × TN accumulators, as the
// matmul's; one (BM, 64) slice of A and one (64, BN) slice of B are staged in workgroup memory
// once, then REPS times over the slice's four 16-deep steps:
//   LOADS = false: the tiles are loaded once, before the loop: multiply-adds alone;
//   LOADS = true: the tiles are loaded from workgroup memory at every step, as the matmul does.
// The accumulator code (decl, tiles, mma, store) is the matmul's own (`CoopShape::code`).
enable f16;
enable wgpu_cooperative_matrix;

const SG: u32 = {{ sg }}u;
const WM: u32 = {{ wm }}u;
const WN: u32 = {{ wn }}u;
const TM: u32 = {{ tm }}u;
const TN: u32 = {{ tn }}u;
const LOADS: bool = {{ loads }};
const WG: u32 = WM * WN * SG;
const BM: u32 = WM * TM * 16u;
const BN: u32 = WN * TN * 16u;
const BK: u32 = 64u;
// padded workgroup-memory rows in vec4s, as the matmul's
const SA: u32 = BK / 4u + 2u;
const SB: u32 = BN / 4u + 2u;

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
    for (var e = li; e < BM * BK / 4u; e += WG) { sa[(e / (BK / 4u)) * SA + e % (BK / 4u)] = a[e]; }
    for (var e = li; e < BK * BN / 4u; e += WG) { sb[(e / (BN / 4u)) * SB + e % (BN / 4u)] = b[e]; }
    workgroupBarrier();
    let sr = (sg / WN) * (TM * 16u);
    let sc = (sg % WN) * (TN * 16u);
    let oa = 0u;
    let ob = 0u;
{{ decl }}
    if (LOADS) {
        for (var r = 0u; r < p.reps; r++) {
            for (var s = 0u; s < BK / 16u; s++) {
                // a position that moves with r, so the loads cannot be hoisted out of the loop
                let kk = (s + r) % (BK / 16u) * 16u;
{{ tiles }}
{{ mma }}
            }
        }
    } else {
        let kk = 0u;
{{ tiles }}
        for (var r = 0u; r < p.reps; r++) {
            for (var s = 0u; s < BK / 16u; s++) {
{{ mma }}
            }
        }
    }
    let n = BN;
    let base = wg.x * BM * BN;
{{ store }}
}
