//! What the matmuls of a training step can reach on a wgpu adapter: burn's WGSL matmul at the
//! shape of a Mamba-130m / BERT-base training step (f32, and f16 where the adapter has `shader-f16`),
//! and whether the adapter offers wgpu's experimental cooperative matrices (tensor cores) and
//! in which configurations. `scripts/bench-train-gpu.sh` runs it beside torch's matmuls.
//!
//! With `--shapes`, instead: every candidate shape of the tensor-core kernel (`CoopShape`) on the
//! products of a Mamba-130m 64 × 512 training step, each checked against burn's f32 matmul.
//!
//! With `--peak`: the tensor-core kernel's inner loop alone (`ops::matmul::coop_peak`: no storage
//! loads): the multiply-adds, then with the tiles loaded from workgroup memory every step, then
//! with the slices staged between barriers, for several subgroup tilings: the ceilings the
//! matmul is measured against.
//!
//! With `--small`: the small-product candidates (`CoopShape::SMALL_CANDIDATES`) on x_proj's and
//! dt_proj's products of the same step, as training passes their operands.
//!
//!     cargo run --release --example probe_matmul -- [--iters 10] [--shapes | --small | --peak]

use burn::tensor::{DType, Distribution, Tensor};
use rankmamba::ops::matmul::{coop_matmul_available, coop_peak, coop_shape, matmul_coop_split, matmul_coop_with, CoopShape};
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
    println!("compute units (Vulkan NV SM builtins / AMD core properties): {:?}", rankmamba::device::wgpu_compute_units());
    if args.iter().any(|a| a == "--peak") {
        peak(&device, &time);
        return;
    }
    if args.iter().any(|a| a == "--shapes") {
        shapes(&device, &time);
        return;
    }
    if args.iter().any(|a| a == "--small") {
        small(&device, &time);
        return;
    }
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

/// The candidate shapes on a training step's products (Mamba-130m, 64 × 512 tokens): milliseconds,
/// TFLOP/s and the error against burn's f32 matmul of the same f16 inputs.
fn shapes(device: &burn::tensor::Device, time: &dyn Fn(&dyn Fn() -> Tensor<2>) -> f64) {
    if !coop_matmul_available(device) {
        println!("WGSL cooperative-matrix matmul: not available on this adapter");
        return;
    }
    let r = |s: [usize; 2]| Tensor::<2>::random(s, Distribution::Uniform(-1.0, 1.0), device).cast(DType::F16);
    let (t, d, e) = (32768, 768, 1536);
    // (name, a, b): the operands as a step passes them (transposed views read in place)
    let products: Vec<(&str, Tensor<2>, Tensor<2>)> = vec![
        ("in_proj half forward x·wT (32768x768 · 768x1536)", r([t, d]), r([e, d]).transpose()),
        ("out_proj forward x·wT (32768x1536 · 1536x768)", r([t, e]), r([d, e]).transpose()),
        ("in_proj half dx dy·w (32768x1536 · 1536x768)", r([t, e]), r([e, d])),
        ("in_proj half dW dyT·x (1536x32768 · 32768x768, split K)", r([t, e]).transpose(), r([t, d])),
        ("square 4096", r([4096, 4096]), r([4096, 4096])),
    ];
    sweep(&products, &CoopShape::CANDIDATES, time);
    // the weight gradients' split of K (few output blocks, K = every token of the batch): the
    // shape training runs (`RANKMAMBA_COOP_SHAPE` or the default) at each split count, for
    // Mamba-130m's in_proj half / out_proj (72 blocks) and x_proj / dt_proj (12 blocks)
    let weight_grads: Vec<(&str, Tensor<2>, Tensor<2>)> = vec![
        ("in_proj half dW (1536x32768 · 32768x768)", r([t, e]).transpose(), r([t, d])),
        ("x_proj dW (80x32768 · 32768x1536)", r([t, 80]).transpose(), r([t, e])),
        ("dt_proj dW (1536x32768 · 32768x48)", r([t, e]).transpose(), r([t, 48])),
    ];
    for (name, a, b) in &weight_grads {
        let ([m, k], n) = (a.dims(), b.dims()[1]);
        let want = a.clone().cast(DType::F32).matmul(b.clone().cast(DType::F32));
        let scale = want.clone().abs().max().into_scalar::<f32>();
        for splits in [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 16, 22, 32] {
            let shape = coop_shape();
            let got = matmul_coop_split(a.clone(), b.clone(), shape, Some(splits)).expect("the training shape runs");
            let err = (got - want.clone()).abs().max().into_scalar::<f32>() / scale;
            let t = time(&|| matmul_coop_split(a.clone(), b.clone(), shape, Some(splits)).expect("checked above"));
            println!("{name} split K {splits}: {:.3} ms, {:.1} TFLOP/s (max error / max |C| = {err:.2e})", t * 1e3, 2.0 * (m * k * n) as f64 / t / 1e12);
        }
        let t = time(&|| rankmamba::ops::matmul::matmul_coop(a.clone(), b.clone()).expect("checked above"));
        println!("{name} split K and shape as chosen: {:.3} ms, {:.1} TFLOP/s", t * 1e3, 2.0 * (m * k * n) as f64 / t / 1e12);
    }
}

/// `candidates` on `products` (name, a, b): milliseconds, TFLOP/s and the error against burn's
/// f32 matmul of the same f16 inputs.
fn sweep(products: &[(&str, Tensor<2>, Tensor<2>)], candidates: &[CoopShape], time: &dyn Fn(&dyn Fn() -> Tensor<2>) -> f64) {
    for (name, a, b) in products {
        let ([m, k], n) = (a.dims(), b.dims()[1]);
        let want = a.clone().cast(DType::F32).matmul(b.clone().cast(DType::F32));
        let scale = want.clone().abs().max().into_scalar::<f32>();
        for &shape in candidates {
            let got = match matmul_coop_with(a.clone(), b.clone(), shape) {
                Ok(c) => c,
                Err(err) => {
                    println!("{name} {shape:?}: {err}");
                    continue;
                }
            };
            let err = (got - want.clone()).abs().max().into_scalar::<f32>() / scale;
            let t = time(&|| matmul_coop_with(a.clone(), b.clone(), shape).expect("checked above"));
            println!("{name} {shape:?}: {:.3} ms, {:.1} TFLOP/s (max error / max |C| = {err:.2e})", t * 1e3, 2.0 * (m * k * n) as f64 / t / 1e12);
        }
    }
}

/// The small-product candidates on Mamba-130m's x_proj and dt_proj products (64 × 512 tokens),
/// each in the orientation training passes it: forward x·wᵀ (w read transposed in place), dx = dy·w,
/// dW = dyᵀ·x (dy read transposed).
fn small(device: &burn::tensor::Device, time: &dyn Fn(&dyn Fn() -> Tensor<2>) -> f64) {
    if !coop_matmul_available(device) {
        println!("WGSL cooperative-matrix matmul: not available on this adapter");
        return;
    }
    let r = |s: [usize; 2]| Tensor::<2>::random(s, Distribution::Uniform(-1.0, 1.0), device).cast(DType::F16);
    let (t, e, x, rank) = (32768, 1536, 80, 48);
    let products: Vec<(&str, Tensor<2>, Tensor<2>)> = vec![
        ("x_proj forward x·wT (32768x1536 · 1536x80)", r([t, e]), r([x, e]).transpose()),
        ("x_proj dx dy·w (32768x80 · 80x1536)", r([t, x]), r([x, e])),
        ("x_proj dW dyT·x (80x32768 · 32768x1536)", r([t, x]).transpose(), r([t, e])),
        ("dt_proj forward x·wT (32768x48 · 48x1536)", r([t, rank]), r([e, rank]).transpose()),
        ("dt_proj dx dy·w (32768x1536 · 1536x48)", r([t, e]), r([e, rank])),
        ("dt_proj dW dyT·x (1536x32768 · 32768x48)", r([t, e]).transpose(), r([t, rank])),
    ];
    sweep(&products, &CoopShape::SMALL_CANDIDATES, time);
}

/// The multiply-add rate of the kernel's inner loop alone, per subgroup tiling (`coop_peak`).
fn peak(device: &burn::tensor::Device, time: &dyn Fn(&dyn Fn() -> Tensor<2>) -> f64) {
    if !coop_matmul_available(device) {
        println!("WGSL cooperative-matrix matmul: not available on this adapter");
        return;
    }
    let tilings = [(4, 2, 2, 4), (4, 2, 2, 2), (2, 2, 4, 4), (4, 4, 2, 2)];
    for (wm, wn, tm, tn) in tilings {
        let shape = CoopShape { wm, wn, tm, tn, bk: 64, stages: 1 };
        for (mode, how) in [(0, "multiply-adds alone"), (1, "tiles loaded from workgroup memory every step"), (2, "and the slices staged between barriers")] {
            // enough workgroups for many waves over any GPU, 64 slices of four steps each
            let (workgroups, reps) = (4096, 64);
            let flops = match coop_peak(device, shape, workgroups, reps, mode) {
                Ok((_, f)) => f,
                Err(err) => {
                    println!("peak {wm}x{wn} subgroups of {tm}x{tn} tiles: {err}");
                    break;
                }
            };
            let t = time(&|| coop_peak(device, shape, workgroups, reps, mode).expect("checked above").0);
            println!("peak {wm}x{wn} subgroups of {tm}x{tn} tiles, {how}: {:.3} ms, {:.1} TFLOP/s", t * 1e3, flops / t / 1e12);
        }
    }
}
