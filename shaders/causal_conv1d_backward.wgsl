// Backward of shaders/causal_conv1d.wgsl. With pre = bias + Σ_k w[k] · x[t − (K − 1) + k] and
// dpre = du · SiLU'(pre), SiLU'(p) = s · (1 + p · (1 − s)), s = sigmoid(p):
//   dx[t]  = Σ_k w[k] · dpre[t + (K − 1) − k]   (within the sequence)
//   dw[k]  = Σ_{b,t} dpre[t] · x[t − (K − 1) + k]
//   dbias  = Σ_{b,t} dpre[t]
// One thread per (column group, chunk of rows) walks its rows last to first, keeping dpre of the
// K − 1 rows after the current one; pre is recomputed from x (nothing is saved by the forward).
// dw and dbias leave as per-chunk partials, summed over the chunks by ops::sum_rows. dx is f32,
// or f16 where a tensor-core matmul's backward would cast it (`dx_ty`).
{{enable_f16}}

@group(0) @binding(0) var<storage, read_write> x: array<{{ty}}>;     // (batch, len, E / {{width}})
@group(0) @binding(1) var<storage, read_write> wt: array<{{ty}}>;    // (K, E / {{width}}): w transposed
@group(0) @binding(2) var<storage, read_write> bias: array<{{ty}}>;  // (E / {{width}})
@group(0) @binding(3) var<storage, read_write> du: array<{{ty}}>;    // (batch, len, E / {{width}})
@group(0) @binding(4) var<storage, read_write> dx: array<{{dx_ty}}>; // (batch, len, E / {{width}})
@group(0) @binding(5) var<storage, read_write> part: array<{{ty}}>;  // (chunks, K + 1, E / {{width}}): dw[k] rows, then dbias

struct Info {
    // batch · len
    rows: u32,
    len: u32,
    // E / {{width}}
    groups: u32,
    rows_per_thread: u32,
}
@group(0) @binding(6) var<uniform> info: Info;

const K: u32 = {{k}}u;

var<private> w: array<{{ty}}, K>;
var<private> b0: {{ty}};

fn x_at(r: u32, t: u32, k: u32, g: u32) -> {{ty}} {
    // x at row r − (K − 1) + k of the sequence whose position t row r is; 0 before its start
    if t + k >= K - 1u {
        return x[(r + k + 1u - K) * info.groups + g];
    }
    return {{ty}}(0.0);
}

fn dpre_at(r: u32, g: u32) -> {{ty}} {
    if r >= info.rows {
        return {{ty}}(0.0);
    }
    let t = r % info.len;
    var pre = b0;
    for (var k = 0u; k < K; k++) {
        pre += w[k] * x_at(r, t, k, g);
    }
    let s = 1.0 / (1.0 + exp(-pre));
    return du[r * info.groups + g] * s * (1.0 + pre * (1.0 - s));
}

@compute @workgroup_size({{wg}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let g = gid.x;
    if g >= info.groups {
        return;
    }
    for (var k = 0u; k < K; k++) {
        w[k] = wt[k * info.groups + g];
    }
    b0 = bias[g];
    let r0 = gid.y * info.rows_per_thread;
    let r1 = min(r0 + info.rows_per_thread, info.rows);
    // win[j] = dpre at row r + j; before the first (last) row: rows r1 .. r1 + K − 2
    var win: array<{{ty}}, K>;
    for (var j = 0u; j + 1u < K; j++) {
        win[j] = dpre_at(r1 + j, g);
    }
    var dw: array<{{ty}}, K>;
    var db = {{ty}}(0.0);
    for (var r = r1; r > r0; ) {
        r--;
        for (var j = K - 1u; j > 0u; j--) {
            win[j] = win[j - 1u];
        }
        win[0] = dpre_at(r, g);
        let t = r % info.len;
        var acc = {{ty}}(0.0);
        for (var j = 0u; j < K; j++) {
            // row r + j feeds row r through tap K − 1 − j, when it is in the same sequence
            if t + j < info.len {
                acc += w[K - 1u - j] * win[j];
            }
        }
        dx[r * info.groups + g] = {{dx_ty}}(acc);
        for (var k = 0u; k < K; k++) {
            dw[k] += win[0] * x_at(r, t, k, g);
        }
        db += win[0];
    }
    let base = gid.y * (K + 1u) * info.groups + g;
    for (var k = 0u; k < K; k++) {
        part[base + k * info.groups] = dw[k];
    }
    part[base + K * info.groups] = db;
}
