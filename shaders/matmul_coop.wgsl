// C = A · B on tensor cores: f16 inputs, f32 accumulation, through wgpu's experimental
// cooperative matrices (`enable wgpu_cooperative_matrix;`, SPV_KHR_cooperative_matrix on Vulkan).
// A workgroup of four subgroups (SG lanes each, SG from Rust: the adapter's subgroup size) owns a
// 128 × 128 block of C; each subgroup a 64 × 64 quarter as 4 × 4 accumulator tiles of 16 × 16.
// K advances 32 at a time: the workgroup stages the (128 × 32) A and (32 × 128) B slices in
// workgroup memory, then every subgroup multiplies its tiles from there.
// M and N must be multiples of 128, K of 32 (checked in Rust).
enable f16;
enable wgpu_cooperative_matrix;

const SG: u32 = {{ sg }}u;
const WG: u32 = 4u * SG;
const BM: u32 = 128u;
const BN: u32 = 128u;
const BK: u32 = 32u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read_write> a: array<vec4<f16>>;  // (m, k / 4) row-major
@group(0) @binding(1) var<storage, read_write> b: array<vec4<f16>>;  // (k, n / 4) row-major
@group(0) @binding(2) var<storage, read_write> c: array<f32>;        // (m, n) row-major
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> sa: array<f16, 4096>;  // (BM, BK) slice of A
var<workgroup> sb: array<f16, 4096>;  // (BK, BN) slice of B

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(subgroup_id) sg: u32) {
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    // this subgroup's 64 x 64 quarter inside the block
    let sr = (sg / 2u) * 64u;
    let sc = (sg % 2u) * 64u;
    let k4 = p.k / 4u;
    let n4 = p.n / 4u;
    var acc: array<coop_mat16x16<f32, C>, 16>;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        workgroupBarrier();
        // stage: BM * BK / 4 = 1024 vec4 of A and as many of B, WG lanes at a time
        for (var e = li; e < 1024u; e += WG) {
            let ar = e / (BK / 4u);
            let ac = e % (BK / 4u);
            let va = a[(row0 + ar) * k4 + k0 / 4u + ac];
            let ia = ar * BK + ac * 4u;
            sa[ia] = va.x; sa[ia + 1u] = va.y; sa[ia + 2u] = va.z; sa[ia + 3u] = va.w;
            let br = e / (BN / 4u);
            let bc = e % (BN / 4u);
            let vb = b[(k0 + br) * n4 + col0 / 4u + bc];
            let ib = br * BN + bc * 4u;
            sb[ib] = vb.x; sb[ib + 1u] = vb.y; sb[ib + 2u] = vb.z; sb[ib + 3u] = vb.w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk += 16u) {
            let a0 = coopLoadT<coop_mat16x16<f16, A>>(&sa[(sr) * BK + kk], BK);
            let a1 = coopLoadT<coop_mat16x16<f16, A>>(&sa[(sr + 16u) * BK + kk], BK);
            let a2 = coopLoadT<coop_mat16x16<f16, A>>(&sa[(sr + 32u) * BK + kk], BK);
            let a3 = coopLoadT<coop_mat16x16<f16, A>>(&sa[(sr + 48u) * BK + kk], BK);
            for (var j = 0u; j < 4u; j++) {
                let bj = coopLoadT<coop_mat16x16<f16, B>>(&sb[kk * BN + sc + j * 16u], BN);
                acc[j] = coopMultiplyAdd(a0, bj, acc[j]);
                acc[4u + j] = coopMultiplyAdd(a1, bj, acc[4u + j]);
                acc[8u + j] = coopMultiplyAdd(a2, bj, acc[8u + j]);
                acc[12u + j] = coopMultiplyAdd(a3, bj, acc[12u + j]);
            }
        }
    }
    // naga 30's SPIR-V writer needs the stored matrix, the index and the stride of a
    // cooperative store as named values (it panics on inline expressions there)
    let n = p.n;
    for (var t = 0u; t < 16u; t++) {
        let r = acc[t];
        let i = (row0 + sr + (t / 4u) * 16u) * n + col0 + sc + (t % 4u) * 16u;
        coopStoreT(r, &c[i], n);
    }
}
