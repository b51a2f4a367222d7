// The gradient of an embedding lookup: dw[id, :] = Σ over the tokens t with ids[t] = id of dy[t, :].
//
// burn's backward of `select` (a select-assign with add) takes ~8 ms for a 64 × 512 batch into
// a 50280-row table on the H200. Here the host, which has the token ids, groups the positions by
// id beforehand (`ops::embedding::TokenSegments`): segment u holds the positions
// order[starts[u] .. starts[u + 1]] of token seg_ids[u]. One invocation per (segment, column
// group) sums its segment's rows in position order (deterministic, no atomics) and writes that
// id's row; rows of ids absent from the batch keep the zeros the caller filled dw with.
// Segments past the batch's distinct ids are empty (starts = tokens) and skipped.
// {{width}} f32 lanes per column group ({{width}} divides the width d).

// read_write although only read: cubecl may place several tensors in one wgpu buffer, and wgpu
// refuses a buffer bound read-only and read-write in one dispatch
@group(0) @binding(0) var<storage, read_write> dy: array<{{ty}}>;        // (tokens, d / {{width}})
@group(0) @binding(1) var<storage, read_write> order: array<{{int}}>;    // (tokens): positions sorted by id
@group(0) @binding(2) var<storage, read_write> starts: array<{{int}}>;   // (tokens + 1): segment offsets into order
@group(0) @binding(3) var<storage, read_write> seg_ids: array<{{int}}>;  // (tokens): each segment's token id
@group(0) @binding(4) var<storage, read_write> dw: array<{{ty}}>;        // (vocab, d / {{width}}), zeroed

struct Info {
    tokens: u32,
    // d / {{width}}
    groups: u32,
    vocab: u32,
    _pad: u32,
}
@group(0) @binding(5) var<uniform> info: Info;

@compute @workgroup_size({{wg}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = gid.x;
    if g >= info.groups {
        return;
    }
    // segments strided over the grid's rows (a batch may have more than a dispatch's 65535)
    for (var u = gid.y; u < info.tokens; u += nwg.y) {
        let s0 = u32(starts[u]);
        let s1 = u32(starts[u + 1u]);
        // the empty segments are the trailing ones
        if s0 >= s1 {
            break;
        }
        let id = u32(seg_ids[u]);
        var acc = {{ty}}(0.0);
        for (var i = s0; i < s1; i++) {
            acc += dy[u32(order[i]) * info.groups + g];
        }
        if id < info.vocab {
            dw[id * info.groups + g] = acc;
        }
    }
}
