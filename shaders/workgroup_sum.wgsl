// Included by shaders/norm*.wgsl (through the `workgroup_sum` template value): a tree sum over
// one workgroup of WG (a power of two) threads in workgroup memory. Every thread of the workgroup
// must call `total` the same number of times (it holds barriers).

var<workgroup> red: array<f32, WG>;

// the workgroup's sum of `v` (every thread gets it)
fn total(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if lid < s {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
    let t = red[0];
    workgroupBarrier();
    return t;
}

fn hsum(v: vec4<f32>) -> f32 {
    return v.x + v.y + v.z + v.w;
}
