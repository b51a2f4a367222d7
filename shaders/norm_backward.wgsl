// Backward of shaders/norm.wgsl (RMS = {{rms}}), with x̂ = (x − mean) / rs, rs = sqrt(var + ε)
// from the forward's stats and dyg = dy · g:
//   LayerNorm: dx = (dyg − mean(dyg) − x̂ · mean(dyg · x̂)) / rs      RMSNorm: dx = (dyg − x̂ · mean(dyg · x̂)) / rs
//   dg = Σ_rows dy · x̂,  db = Σ_rows dy
// One workgroup per chunk of rows; each thread sums dg and db for its columns over the chunk
// and writes them as the chunk's partials, which ops::sum_rows adds up.

@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>>;     // (rows, d / 4)
@group(0) @binding(1) var<storage, read_write> g: array<vec4<f32>>;     // (d / 4)
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;       // (rows, 2): mean, rs
@group(0) @binding(3) var<storage, read_write> dy: array<vec4<f32>>;    // (rows, d / 4)
@group(0) @binding(4) var<storage, read_write> dx: array<vec4<f32>>;    // (rows, d / 4)
@group(0) @binding(5) var<storage, read_write> part: array<vec4<f32>>;  // (chunks, 2, d / 4): dg, db per chunk

struct Info {
    rows: u32,
    // d / 4
    d4: u32,
    rows_per_group: u32,
    _pad: u32,
}
@group(0) @binding(6) var<uniform> info: Info;

const WG: u32 = {{wg}}u;
const COLS: u32 = {{cols}}u;
const RMS: bool = {{rms}};

// total(lid, v): the workgroup's sum of v (every thread gets it); hsum: the sum of a vec4
{{workgroup_sum}}

@compute @workgroup_size({{wg}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let lid = lid3.x;
    let d = f32(info.d4 * 4u);
    let r0 = wid.x * info.rows_per_group;
    let r1 = min(r0 + info.rows_per_group, info.rows);
    var dg: array<vec4<f32>, COLS>;
    var db: array<vec4<f32>, COLS>;
    for (var r = r0; r < r1; r++) {
        let mean = stats[2u * r];
        let rs = stats[2u * r + 1u];
        var xh: array<vec4<f32>, COLS>;
        var dyg: array<vec4<f32>, COLS>;
        var s1 = 0.0;
        var s2 = 0.0;
        for (var c = 0u; c < COLS; c++) {
            let i = lid + c * WG;
            xh[c] = vec4<f32>(0.0);
            dyg[c] = vec4<f32>(0.0);
            if i < info.d4 {
                let o = dy[r * info.d4 + i];
                xh[c] = (x[r * info.d4 + i] - mean) / rs;
                dyg[c] = o * g[i];
                dg[c] += o * xh[c];
                db[c] += o;
                s1 += hsum(dyg[c]);
                s2 += hsum(dyg[c] * xh[c]);
            }
        }
        var m1 = 0.0;
        if !RMS {
            m1 = total(lid, s1) / d;
        }
        let m2 = total(lid, s2) / d;
        for (var c = 0u; c < COLS; c++) {
            let i = lid + c * WG;
            if i < info.d4 {
                dx[r * info.d4 + i] = (dyg[c] - m1 - xh[c] * m2) / rs;
            }
        }
    }
    for (var c = 0u; c < COLS; c++) {
        let i = lid + c * WG;
        if i < info.d4 {
            part[(2u * wid.x) * info.d4 + i] = dg[c];
            part[(2u * wid.x + 1u) * info.d4 + i] = db[c];
        }
    }
}
