//! Benchmark of the WGSL selective scan on any wgpu adapter (Vulkan natively).
//!
//!     cargo run --release --example bench_scan -- [--iters N] [--shapes train,infer,long]
//!
//! Shapes: train = batch 64, L 512, d_inner 1536, N 16 (the RankMamba training step);
//! infer = batch 100, L 512 (one query's 100 candidates); long = batch 1, L 32768;
//! small = batch 8, L 512 (fits lavapipe's 128 MiB bindings).
//! For each: median time per call of the forward (inference plan) and of forward + backward
//! (training plan: the forward that keeps the state every T steps, then the WGSL backward),
//! effective GB/s counting every input read once and every output written once, and the
//! fraction of the device's copy bandwidth, measured in the same run with a WGSL vec4 copy
//! of 1 GiB (read + write).

use burn::tensor::{Distribution, Tensor};
use rankmamba::ops::selective_scan::wgpu::{backward, backward_chunk_len, forward, ScanOptions};
use rankmamba::ops::selective_scan::ScanInputs;
use std::time::Instant;

fn sync(t: &Tensor<3>) {
    t.device().sync().expect("device sync");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<F: FnMut() -> Tensor<3>>(iters: usize, mut f: F) -> f64 {
    sync(&f()); // warm-up: shader compilation, allocations
    let mut samples = Vec::new();
    for _ in 0..iters {
        let t = Instant::now();
        let out = f();
        sync(&out);
        samples.push(t.elapsed().as_secs_f64());
    }
    median(samples)
}

const COPY_WGSL: &str = "
@group(0) @binding(0) var<storage, read_write> src: array<vec4<f32>>; // (n / 4)
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>; // (n / 4)
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = gid.x + gid.y * nw.x * 256u;
    if (i < arrayLength(&src)) { dst[i] = src[i]; }
}
";

#[derive(Debug)]
struct CopyKernel;
impl burn::backend::wgpu::KernelSource for CopyKernel {
    fn source(&self) -> burn::backend::wgpu::SourceTemplate {
        burn::backend::wgpu::SourceTemplate::new(COPY_WGSL)
    }
    fn id(&self) -> burn::cubecl::prelude::KernelId {
        burn::cubecl::prelude::KernelId::new::<Self>().mode(burn::cubecl::prelude::ExecutionMode::Unchecked)
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// What a plain WGSL copy reaches on this device: vec4 loads and stores over 1 GiB (or the
/// largest binding), read + write counted.
fn copy_bandwidth(device: &burn::tensor::Device, iters: usize) -> f64 {
    use burn::backend::wgpu::{CubeBackend, CubeDim, SourceKernel};
    use burn::cubecl::prelude::CubeCount;
    use burn::cubecl::server::KernelArguments;
    let max_binding = rankmamba::ops::kernel::max_binding_bytes(device);
    let n = ((1usize << 28).min(max_binding / 4 / 2)) & !1023; // f32 elements
    let src = Tensor::<1>::random([n], Distribution::Uniform(0.0, 1.0), device);
    let dst = Tensor::<1>::zeros([n], device);
    let (src, dst) = (src.try_into_primitive::<CubeBackend>().unwrap(), dst.try_into_primitive::<CubeBackend>().unwrap());
    let client = src.client.clone();
    let groups = (n / 4).div_ceil(256) as u32;
    let (gx, gy) = (groups.min(65535), groups.div_ceil(65535));
    let launch = || {
        let args = KernelArguments::new().with_buffer(src.handle.clone().binding()).with_buffer(dst.handle.clone().binding());
        client.launch(Box::new(SourceKernel::new(CopyKernel, CubeDim::new_1d(256))), CubeCount::Static(gx, gy, 1), args);
        device.sync().unwrap();
    };
    launch();
    let mut samples = Vec::new();
    for _ in 0..iters {
        let t = Instant::now();
        launch();
        samples.push(t.elapsed().as_secs_f64());
    }
    2.0 * (n * 4) as f64 / median(samples)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
    let iters: usize = arg("--iters").and_then(|s| s.parse().ok()).unwrap_or(20);
    let shapes = arg("--shapes").unwrap_or("train,infer,long".into());
    let (device, setup) = rankmamba::device::wgpu_setup().expect("a wgpu adapter");
    let info = setup.adapter.get_info();
    println!("adapter: {} ({:?}, {:?})", info.name, info.device_type, info.backend);
    let copy = copy_bandwidth(&device, iters.min(10));
    println!("device copy bandwidth (WGSL vec4 copy, read + write): {:.1} GB/s", copy / 1e9);
    println!("| shape | batch | L | d_inner | N | plan | pass | ms | GB/s | of copy bw |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for name in shapes.split(',') {
        let (b, l, e, n) = match name {
            "train" => (64, 512, 1536, 16),
            "infer" => (100, 512, 1536, 16),
            "long" => (1, 32768, 1536, 16),
            "small" => (8, 512, 1536, 16), // fits a 128 MiB binding (lavapipe)
            other => panic!("unknown shape {other}"),
        };
        let r3 = |s: [usize; 3], lo: f64, hi: f64| Tensor::<3>::random(s, Distribution::Uniform(lo, hi), &device);
        let u = r3([b, l, e], -1.0, 1.0);
        let delta = r3([b, l, e], -3.0, 1.0);
        let z = r3([b, l, e], -2.0, 2.0);
        let bm = r3([b, l, n], -1.0, 1.0);
        let cm = r3([b, l, n], -1.0, 1.0);
        let a = Tensor::<2>::random([e, n], Distribution::Uniform(-4.0, -0.1), &device);
        let d = Tensor::<1>::random([e], Distribution::Uniform(-1.0, 1.0), &device);
        let bias = Tensor::<1>::random([e], Distribution::Uniform(-1.0, 0.5), &device);
        let inputs = || ScanInputs {
            u: u.clone(),
            delta: delta.clone(),
            delta_bias: bias.clone(),
            a: a.clone(),
            b: bm.clone(),
            c: cm.clone(),
            d: d.clone(),
            z: Some(z.clone()),
        };
        let plan = forward(inputs(), &ScanOptions::default()).plan;
        let secs = time(iters, || forward(inputs(), &ScanOptions::default()).out);
        // u, Δ, z read and out written once; B, C, A, D, bias read once
        let bytes = 4.0 * (4 * b * l * e + 2 * b * l * n + e * n + 2 * e) as f64;
        let row = |pass: &str, plan: String, secs: f64, bytes: f64| {
            println!(
                "| {name} | {b} | {l} | {e} | {n} | {plan} | {pass} | {:.3} | {:.1} | {:.1} % |",
                secs * 1e3,
                bytes / secs / 1e9,
                100.0 * bytes / secs / copy
            )
        };
        row("forward", format!("{}×{} wg {}", plan.n_chunks, plan.chunk_len, plan.workgroup), secs, bytes);
        if !rankmamba::device::wgpu_has_subgroups() {
            println!("(no subgroup operations on this adapter: no WGSL backward)");
            continue;
        }
        let chunk = arg("--bwd-chunk").and_then(|s| s.parse().ok()).unwrap_or(backward_chunk_len(n));
        let dout = r3([b, l, e], -1.0, 1.0);
        let train = ScanOptions { save_every: Some(chunk), poison: false, ..Default::default() };
        let tplan = forward(inputs(), &train).plan;
        let tlabel = format!("{}×{}, states every {chunk}, wg {}", tplan.n_chunks, tplan.chunk_len, tplan.workgroup);
        let secs_f = time(iters, || forward(inputs(), &train).out);
        // the state every `chunk` steps: (batch, L / chunk, N, E) f32
        let states = (b * l.div_ceil(chunk) * e * n) as f64 * 4.0;
        row("forward, training plan", tlabel.clone(), secs_f, bytes + states);
        let secs = time(iters, || {
            let fwd = forward(inputs(), &train);
            let g = backward(inputs(), fwd.saved_states, dout.clone(), &train);
            g.u
        });
        // + backward: inputs and saved states again, dout read; du, dΔ, dz, dB/dC partials written
        let bwd_bytes = 4.0 * (5 * b * l * e + 2 * b * l * n) as f64 + 4.0 * (3 * b * l * e) as f64 + 2.0 * states;
        row("forward + backward", tlabel, secs, bytes + states + bwd_bytes);
    }
}
