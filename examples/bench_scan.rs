//! Benchmark of the WGSL selective scan on any wgpu adapter (Vulkan natively).
//!
//!     cargo run --release --example bench_scan -- [--iters N] [--shapes train,infer,long]
//!
//! Shapes: train = batch 64, L 512, d_inner 1536, N 16 (the RankMamba training step);
//! infer = batch 100, L 512 (one query's 100 candidates); long = batch 1, L 32768;
//! small = batch 8, L 512 (fits lavapipe's 128 MiB bindings).
//! For each: median time per call, effective GB/s counting every input read once and every
//! output written once, and the fraction of the device's copy bandwidth, measured in the same
//! run with a large elementwise copy (x · 1 over 256 MiB: read + write).

use burn::tensor::{Device, Distribution, Tensor};
use rankmamba::ops::selective_scan::wgpu::{forward, ScanOptions};
use rankmamba::ops::selective_scan::ScanInputs;
use rankmamba::DeviceChoice;
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

fn copy_bandwidth(device: &Device, iters: usize) -> f64 {
    // 256 MiB (several times any L2), or half the largest binding on small adapters
    let max_binding = match device.as_dispatch().clone().inner() {
        burn::backend::DispatchDevice::Cube(cd) => cd.client().properties().memory.max_page_size as usize,
        _ => usize::MAX,
    };
    let n = (1usize << 26).min(max_binding / 8);
    let x = Tensor::<3>::random([1, 1 << 14, n >> 14], Distribution::Uniform(0.0, 1.0), device);
    let s = time(iters, || x.clone().mul_scalar(1.0001));
    2.0 * (n * 4) as f64 / s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
    let iters: usize = arg("--iters").and_then(|s| s.parse().ok()).unwrap_or(20);
    let shapes = arg("--shapes").unwrap_or("train,infer,long".into());
    let device = DeviceChoice::Wgpu.device().expect("a wgpu adapter");
    let copy = copy_bandwidth(&device, iters.min(10));
    println!("device copy bandwidth (elementwise x·1, read + write): {:.1} GB/s", copy / 1e9);
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
        println!(
            "| {name} | {b} | {l} | {e} | {n} | {}×{} wg {} | forward | {:.3} | {:.1} | {:.1} % |",
            plan.n_chunks,
            plan.chunk_len,
            plan.workgroup,
            secs * 1e3,
            bytes / secs / 1e9,
            100.0 * bytes / secs / copy
        );
    }
}
