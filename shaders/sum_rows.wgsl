// Sum over rows, in row chunks: out[c, j] = Σ_{r in chunk c} x[r, j].
//
// burn's reductions along the outer axis of a (rows, cols) tensor give one thread per column,
// each walking all rows: a bias gradient of 32768 rows × 768 columns keeps only 768 threads
// busy. Here every (chunk, column group) pair is a thread; the caller launches the kernel again
// on the (chunks, cols) partials until one row is left. Columns are read as vec{{width}}
// (coalesced across the workgroup); {{width}} divides cols.

// read_write although only read: cubecl may place x and out in one wgpu buffer, and wgpu
// refuses a buffer bound read-only and read-write in one dispatch
@group(0) @binding(0) var<storage, read_write> x: array<{{ty}}>;     // (rows, cols / {{width}})
@group(0) @binding(1) var<storage, read_write> out: array<{{ty}}>;   // (chunks, cols / {{width}})

struct Info {
    rows: u32,
    // columns / {{width}}
    groups: u32,
    rows_per_chunk: u32,
    _pad: u32,
}
@group(0) @binding(2) var<uniform> info: Info;

@compute @workgroup_size({{wg}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let g = gid.x;
    let chunk = gid.y;
    if g >= info.groups {
        return;
    }
    let r0 = chunk * info.rows_per_chunk;
    let r1 = min(r0 + info.rows_per_chunk, info.rows);
    var acc = {{ty}}(0.0);
    for (var r = r0; r < r1; r++) {
        acc += x[r * info.groups + g];
    }
    out[chunk * info.groups + g] = acc;
}
