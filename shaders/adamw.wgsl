// One AdamW step of one parameter tensor in one launch (burn's AdamW launches about 17 kernels
// per tensor: BENCHMARKS.md §5). Same arithmetic, in the same order, as burn-optim 0.22.1's
// AdamW (decoupled weight decay, bias-corrected moments, ε outside the square root):
//   m ← β₁·m + (1 − β₁)·g            v ← β₂·v + (1 − β₂)·g²     (m = v = 0 before the first step)
//   p ← p·(1 − lr·λ) − lr · (m / (1 − β₁ᵗ)) / (sqrt(v / (1 − β₂ᵗ)) + ε)
// Elements as vec{{width}} (width divides the element count); a grid-stride loop covers tensors
// larger than one dispatch.

@group(0) @binding(0) var<storage, read_write> param: array<{{ty}}>;   // (n / {{width}}) updated in place
@group(0) @binding(1) var<storage, read_write> grad: array<{{ty}}>;    // (n / {{width}})
@group(0) @binding(2) var<storage, read_write> m: array<{{ty}}>;       // (n / {{width}}) first moment, updated in place
@group(0) @binding(3) var<storage, read_write> v: array<{{ty}}>;       // (n / {{width}}) second moment, updated in place
// (4) the step's scalars: 1 − β₁ᵗ, 1 − β₂ᵗ, 1 − lr·λ, lr. A buffer, not uniform parameters, so a
// captured training step replays with each step's learning rate and bias corrections.
@group(0) @binding(4) var<storage, read_write> step: array<f32>;

struct Info {
    // n / {{width}}
    count: u32,
    // 1 on the first step: m and v are not read (they may hold anything)
    first: u32,
    // the f32 scalars, as bits
    beta_1: u32,
    one_minus_beta_1: u32,
    beta_2: u32,
    one_minus_beta_2: u32,
    epsilon: u32,
    _pad: u32,
}
@group(0) @binding(5) var<uniform> info: Info;

@compute @workgroup_size({{wg}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * {{wg}}u;
    let b1 = bitcast<f32>(info.beta_1);
    let f1 = bitcast<f32>(info.one_minus_beta_1);
    let b2 = bitcast<f32>(info.beta_2);
    let f2 = bitcast<f32>(info.one_minus_beta_2);
    let c1 = step[0];
    let c2 = step[1];
    let eps = bitcast<f32>(info.epsilon);
    let decay = step[2];
    let lr = step[3];
    for (var i = gid.x; i < info.count; i += stride) {
        let g = grad[i];
        var m1 = g * f1;
        var m2 = (g * g) * f2;
        if info.first == 0u {
            m1 = m[i] * b1 + m1;
            m2 = v[i] * b2 + m2;
        }
        m[i] = m1;
        v[i] = m2;
        let delta = (m1 / c1) / (sqrt(m2 / c2) + eps);
        param[i] = param[i] * decay - delta * lr;
    }
}
