// LayerNorm or RMSNorm over the last dim d, forward (RMS = {{rms}}):
//   LayerNorm: y = (x − mean) / sqrt(var + ε) · g + b      RMSNorm: y = x / sqrt(mean(x²) + ε) · g
// One workgroup per chunk of rows, row after row; each thread keeps {{cols}} vec4 of the row in
// registers, and the row's sums go through workgroup memory. The per-row statistics the backward
// needs (mean, sqrt(var + ε)) are written beside y (f32). y is f32, or f16 for a tensor-core
// matmul that would cast it (`y_ty`).
{{enable_f16}}

@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>>;     // (rows, d / 4)
@group(0) @binding(1) var<storage, read_write> g: array<vec4<f32>>;     // (d / 4)
@group(0) @binding(2) var<storage, read_write> b: array<vec4<f32>>;     // (d / 4); unread for RMSNorm
@group(0) @binding(3) var<storage, read_write> y: array<{{y_ty}}>;     // (rows, d / 4)
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;       // (rows, 2): mean (0 for RMSNorm), sqrt(var + ε)

struct Info {
    rows: u32,
    // d / 4
    d4: u32,
    rows_per_group: u32,
    // ε, as f32 bits
    eps: u32,
}
@group(0) @binding(5) var<uniform> info: Info;

const WG: u32 = {{wg}}u;
const COLS: u32 = {{cols}}u;
const RMS: bool = {{rms}};

// total(lid, v): the workgroup's sum of v (every thread gets it); hsum: the sum of a vec4
{{workgroup_sum}}

@compute @workgroup_size({{wg}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let lid = lid3.x;
    let d = f32(info.d4 * 4u);
    let eps = bitcast<f32>(info.eps);
    let r0 = wid.x * info.rows_per_group;
    let r1 = min(r0 + info.rows_per_group, info.rows);
    for (var r = r0; r < r1; r++) {
        var v: array<vec4<f32>, COLS>;
        var s = 0.0;
        for (var c = 0u; c < COLS; c++) {
            let i = lid + c * WG;
            v[c] = vec4<f32>(0.0);
            if i < info.d4 {
                v[c] = x[r * info.d4 + i];
            }
            s += hsum(v[c]);
        }
        var mean = 0.0;
        if !RMS {
            mean = total(lid, s) / d;
        }
        var q = 0.0;
        for (var c = 0u; c < COLS; c++) {
            let i = lid + c * WG;
            if i < info.d4 {
                let e = v[c] - mean;
                q += hsum(e * e);
            }
        }
        let rs = sqrt(total(lid, q) / d + eps);
        for (var c = 0u; c < COLS; c++) {
            let i = lid + c * WG;
            if i < info.d4 {
                var o = (v[c] - mean) / rs * g[i];
                if !RMS {
                    o += b[i];
                }
                y[r * info.d4 + i] = {{y_ty}}(o);
            }
        }
        if lid == 0u {
            stats[2u * r] = mean;
            stats[2u * r + 1u] = rs;
        }
    }
}
