//! `ops::linear` (split-K weight gradient, WGSL bias gradient) and `ops::sum_rows` on wgpu
//! against burn's reference (`x.matmul(wᵀ) + b` under burn's autodiff) on the same device and an f64
//! host sum, and on the CPU backend where the reference is the op itself.

mod common;
use burn::tensor::{Distribution, Tensor};
use common::{assert_all_close, host as v, rel_err as rel};
use rankmamba::ops::linear::linear;
use rankmamba::ops::sum_rows::sum_rows;

fn wgpu() -> Option<burn::tensor::Device> {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return None;
    }
    Some(rankmamba::DeviceChoice::Wgpu.device().unwrap())
}

/// Against an f64 sum on the host: burn's own `sum_dim(0)` is not a reference here, it returned
/// sums off by 30–45 % for 100000 × 3 and 100000 × 4 on lavapipe (burn 0.22.1; 50000 rows were
/// right).
#[test]
fn sum_rows_matches_an_f64_sum() {
    let Some(dev) = wgpu() else { return };
    // several passes (100000 rows: five), scalar and vec4 columns, one row, one column
    let mut shapes = vec![(100_000, 3), (100_000, 4), (4099, 12), (1, 8), (37, 1), (32768, 20)];
    if std::env::var("RANKMAMBA_TRAINING_SHAPES").as_deref() == Ok("1") {
        shapes.push((32768, 768));
    }
    for &(rows, cols) in &shapes {
        let x = Tensor::<2>::random([rows, cols], Distribution::Uniform(-1.0, 1.0), &dev);
        let host = v(x.clone());
        let want: Vec<f32> = (0..cols).map(|j| (0..rows).map(|i| host[i * cols + j] as f64).sum::<f64>() as f32).collect();
        let got = v(sum_rows(x));
        assert!(rel(&got, &want) <= 1e-5, "{rows} × {cols}: {got:?} vs {want:?}");
    }
}

/// Output and the three gradients of `linear` against burn's autodiff of the same expression.
fn check(dev: &burn::tensor::Device, m: usize, n: usize, k: usize, bias: bool, mixed: bool) {
    let dev = dev.clone().autodiff();
    let r = |s: [usize; 2]| Tensor::<2>::random(s, Distribution::Uniform(-1.0, 1.0), &dev);
    let (x0, w0, g) = (r([m, k]), r([n, k]), r([m, n]));
    let b0 = Tensor::<1>::random([n], Distribution::Uniform(-1.0, 1.0), &dev);
    let run = |ours: bool| {
        let (x, w, b) = (x0.clone().detach().require_grad(), w0.clone().detach().require_grad(), b0.clone().detach().require_grad());
        let y = if ours {
            linear(x.clone(), &w, bias.then_some(&b), mixed)
        } else {
            let y = x.clone().matmul(w.clone().transpose());
            if bias { y + b.clone().unsqueeze_dim(0) } else { y }
        };
        let grads = (y.clone() * g.clone()).sum().backward();
        let db = if bias { v(b.grad(&grads).unwrap()) } else { vec![] };
        (v(y.detach()), v(x.grad(&grads).unwrap()), v(w.grad(&grads).unwrap()), db)
    };
    let (want, got) = (run(false), run(true));
    let named = |r: (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>)| [("output", r.0), ("dx", r.1), ("dw", r.2), ("db", r.3)];
    // tensor cores round the inputs to f16
    let bound = if mixed && rankmamba::ops::matmul::coop_matmul_available(&dev) { 1e-2 } else { 1e-5 };
    assert_all_close(&format!("{m}×{k} · ({n}×{k})ᵀ, bias {bias}, mixed {mixed}"), &named(got), &named(want), bound);
}

#[test]
fn linear_and_its_gradients_match_burns_autodiff() {
    let Some(dev) = wgpu() else { return };
    // split-K weight gradients (few output tiles, many rows: 16 chunks), scalar and vec4 bias
    // sums, and a layer too big to split; `mixed` on an adapter without cooperative matrices
    // keeps f32 products and the same backward
    let coop = rankmamba::ops::matmul::coop_matmul_available(&dev);
    check(&dev, 4096, 10, 24, true, false);
    check(&dev, 4096, 12, 40, false, false);
    check(&dev, 300, 64, 96, true, false);
    if !coop {
        check(&dev, 4096, 12, 24, true, true);
    }
    // sizes off the tensor-core blocks, zero-padded to them (x_proj-like: 80 outputs; a rank-48
    // input), where the adapter has the kernel
    check(&dev, 1024, 80, 192, true, true);
    check(&dev, 1024, 256, 48, false, true);
    // Mamba-130m's x_proj and dt_proj and BERT-base's FFN output in a 64 × 512 training step
    // (slow on a CPU adapter: GPU runs only)
    if std::env::var("RANKMAMBA_TRAINING_SHAPES").as_deref() == Ok("1") {
        check(&dev, 32768, 80, 1536, false, false);
        check(&dev, 32768, 1536, 48, false, false);
        check(&dev, 32768, 768, 3072, true, coop);
        check(&dev, 32768, 80, 1536, false, coop);
        check(&dev, 32768, 1536, 48, false, coop);
    }
}

#[test]
fn linear_on_cpu_is_the_reference() {
    let dev = rankmamba::DeviceChoice::Cpu.device().unwrap();
    check(&dev, 600, 10, 24, true, false);
}
