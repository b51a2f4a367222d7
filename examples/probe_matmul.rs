//! What the matmuls of a training step can reach on a wgpu adapter: burn's WGSL matmul at the
//! shape of a Mamba-130m / BERT-base training step (f32, and f16 where the adapter has `shader-f16`),
//! and whether the adapter offers wgpu's experimental cooperative matrices (tensor cores) and
//! in which configurations. `scripts/bench-train-gpu.sh` runs it beside torch's matmuls.
//!
//!     cargo run --release --example probe_matmul -- [--iters 10]

use burn::tensor::{DType, Distribution, Tensor};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iters = args.iter().position(|a| a == "--iters").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(10);
    let (device, setup) = rankmamba::device::wgpu_setup().expect("a wgpu adapter");
    // per-launch time: ten launches per sample, then wait for the device and read one value of
    // the last product back (the work must be done); median of `iters`
    let time = |launch: &dyn Fn() -> Tensor<2>| {
        let _ = launch().slice([0..1, 0..1]).into_data();
        let mut ts: Vec<f64> = (0..iters)
            .map(|_| {
                let t = Instant::now();
                let outs: Vec<Tensor<2>> = (0..10).map(|_| launch()).collect();
                device.sync().unwrap();
                let _ = outs[9].clone().slice([0..1, 0..1]).into_data();
                t.elapsed().as_secs_f64() / 10.0
            })
            .collect();
        ts.sort_by(f64::total_cmp);
        ts[ts.len() / 2]
    };
    let info = setup.adapter.get_info();
    println!("adapter: {} ({:?})", info.name, info.backend);
    let coop = setup.adapter.features().contains(burn::tensor::wgpu::wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX);
    println!("wgpu EXPERIMENTAL_COOPERATIVE_MATRIX offered: {coop}");
    for p in setup.adapter.cooperative_matrix_properties() {
        println!("  cooperative matrix: {p:?}");
    }
    // (tokens, in, out): a 64 x 512 step's in_proj of Mamba-130m, and BERT-base's FFN up-projection
    let shapes: [(&str, usize, usize, usize); 2] = [("in_proj / FFN of a 64 x 512 step: 32768x768 @ 768x3072", 32768, 768, 3072), ("square 4096", 4096, 4096, 4096)];
    for (name, m, k, n) in shapes {
        for dtype in [DType::F32, DType::F16] {
            if dtype == DType::F16 && !rankmamba::device::wgpu_has_shader_f16() {
                continue;
            }
            if m * n * 4 > rankmamba::ops::kernel::max_binding_bytes(&device) {
                println!("burn wgpu matmul {name}: skipped, the output exceeds this adapter's binding limit");
                break;
            }
            let a = Tensor::<2>::random([m, k], Distribution::Uniform(-1.0, 1.0), &device).cast(dtype);
            let b = Tensor::<2>::random([k, n], Distribution::Uniform(-1.0, 1.0), &device).cast(dtype);
            let t = time(&|| a.clone().matmul(b.clone()));
            println!("burn wgpu matmul {name} {dtype:?}: {:.3} ms, {:.1} TFLOP/s", t * 1e3, 2.0 * (m * k * n) as f64 / t / 1e12);
        }
        if rankmamba::ops::matmul::coop_matmul_available(&device) {
            let a = Tensor::<2>::random([m, k], Distribution::Uniform(-1.0, 1.0), &device);
            let b = Tensor::<2>::random([k, n], Distribution::Uniform(-1.0, 1.0), &device);
            // f16 inputs up front, so the timing holds the matmul alone
            let (a16, b16) = (a.clone().cast(DType::F16), b.clone().cast(DType::F16));
            let t = time(&|| rankmamba::ops::matmul::matmul_coop(a16.clone(), b16.clone()).expect("coop matmul"));
            // against burn's f32 matmul of the same f16-rounded inputs
            let want = a16.clone().cast(DType::F32).matmul(b16.clone().cast(DType::F32));
            let got = rankmamba::ops::matmul::matmul_coop(a, b).unwrap();
            let err = (got - want.clone()).abs().max().into_scalar::<f32>() / want.abs().max().into_scalar::<f32>();
            println!("WGSL cooperative-matrix matmul {name} f16 -> f32: {:.3} ms, {:.1} TFLOP/s (max error / max |C| = {err:.2e})", t * 1e3, 2.0 * (m * k * n) as f64 / t / 1e12);
        } else {
            println!("WGSL cooperative-matrix matmul: not available on this adapter");
        }
    }
}
