// C = A · B on tensor cores: f16 inputs, f32 accumulation, through wgpu's experimental
// cooperative matrices (`enable wgpu_cooperative_matrix;`, SPV_KHR_cooperative_matrix on Vulkan).
// One workgroup is one subgroup (WG = the adapter's subgroup size, from Rust); it owns a
// (16·TM) × (16·TN) block of C = 64 × 32: TM × TN = 4 × 2 accumulator tiles of 16 × 16, and walks
// K in steps of 16, loading each A and B tile once per step straight from storage.
// M must be a multiple of 64, N of 32, K of 16 (checked in Rust).
enable f16;
enable wgpu_cooperative_matrix;

const WG: u32 = {{ wg }}u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read_write> a: array<f16>;  // (m, k) row-major
@group(0) @binding(1) var<storage, read_write> b: array<f16>;  // (k, n) row-major
@group(0) @binding(2) var<storage, read_write> c: array<f32>;  // (m, n) row-major
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>) {
    let row = wg.y * 64u;
    let col = wg.x * 32u;
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();
    var c20 = coop_mat16x16<f32, C>();
    var c21 = coop_mat16x16<f32, C>();
    var c30 = coop_mat16x16<f32, C>();
    var c31 = coop_mat16x16<f32, C>();
    for (var kk = 0u; kk < p.k; kk += 16u) {
        let b0 = coopLoadT<coop_mat16x16<f16, B>>(&b[kk * p.n + col], p.n);
        let b1 = coopLoadT<coop_mat16x16<f16, B>>(&b[kk * p.n + col + 16u], p.n);
        let a0 = coopLoadT<coop_mat16x16<f16, A>>(&a[row * p.k + kk], p.k);
        c00 = coopMultiplyAdd(a0, b0, c00);
        c01 = coopMultiplyAdd(a0, b1, c01);
        let a1 = coopLoadT<coop_mat16x16<f16, A>>(&a[(row + 16u) * p.k + kk], p.k);
        c10 = coopMultiplyAdd(a1, b0, c10);
        c11 = coopMultiplyAdd(a1, b1, c11);
        let a2 = coopLoadT<coop_mat16x16<f16, A>>(&a[(row + 32u) * p.k + kk], p.k);
        c20 = coopMultiplyAdd(a2, b0, c20);
        c21 = coopMultiplyAdd(a2, b1, c21);
        let a3 = coopLoadT<coop_mat16x16<f16, A>>(&a[(row + 48u) * p.k + kk], p.k);
        c30 = coopMultiplyAdd(a3, b0, c30);
        c31 = coopMultiplyAdd(a3, b1, c31);
    }
    // naga 30's SPIR-V writer needs the stored matrix, the index and the stride of a
    // cooperative store as named values (it panics on inline expressions there)
    let n = p.n;
    let base = row * n + col;
    let r00 = c00; let i00 = base; coopStoreT(r00, &c[i00], n);
    let r01 = c01; let i01 = base + 16u; coopStoreT(r01, &c[i01], n);
    let r10 = c10; let i10 = base + 16u * n; coopStoreT(r10, &c[i10], n);
    let r11 = c11; let i11 = base + 16u * n + 16u; coopStoreT(r11, &c[i11], n);
    let r20 = c20; let i20 = base + 32u * n; coopStoreT(r20, &c[i20], n);
    let r21 = c21; let i21 = base + 32u * n + 16u; coopStoreT(r21, &c[i21], n);
    let r30 = c30; let i30 = base + 48u * n; coopStoreT(r30, &c[i30], n);
    let r31 = c31; let i31 = base + 48u * n + 16u; coopStoreT(r31, &c[i31], n);
}
