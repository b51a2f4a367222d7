// Mamba's causal depthwise convolution fused with its SiLU (forward):
//   u[b, t, e] = SiLU(bias[e] + Σ_{k<K} w[e, k] · x[b, t − (K − 1) + k, e]),  x = 0 before t = 0.
// One thread per (column group of {{width}} channels, chunk of rows), rows = (batch, len)
// flattened, so the (batch, len, E) layout of the projections is read as it is (no transpose to
// burn's channels-first conv layout and back).

@group(0) @binding(0) var<storage, read_write> x: array<{{ty}}>;     // (batch, len, E / {{width}})
@group(0) @binding(1) var<storage, read_write> wt: array<{{ty}}>;    // (K, E / {{width}}): w transposed
@group(0) @binding(2) var<storage, read_write> bias: array<{{ty}}>;  // (E / {{width}}); zeros without a conv bias
@group(0) @binding(3) var<storage, read_write> u: array<{{ty}}>;     // (batch, len, E / {{width}})

struct Info {
    // batch · len
    rows: u32,
    len: u32,
    // E / {{width}}
    groups: u32,
    rows_per_thread: u32,
}
@group(0) @binding(4) var<uniform> info: Info;

const K: u32 = {{k}}u;

@compute @workgroup_size({{wg}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let g = gid.x;
    if g >= info.groups {
        return;
    }
    var w: array<{{ty}}, K>;
    for (var k = 0u; k < K; k++) {
        w[k] = wt[k * info.groups + g];
    }
    let b0 = bias[g];
    let r0 = gid.y * info.rows_per_thread;
    let r1 = min(r0 + info.rows_per_thread, info.rows);
    for (var r = r0; r < r1; r++) {
        let t = r % info.len;
        var pre = b0;
        for (var k = 0u; k < K; k++) {
            // row r − (K − 1) + k, inside this sequence
            if t + k >= K - 1u {
                pre += w[k] * x[(r + k + 1u - K) * info.groups + g];
            }
        }
        u[r * info.groups + g] = pre / (1.0 + exp(-pre));
    }
}
