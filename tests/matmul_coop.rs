//! The tensor-core WGSL matmul (`ops::matmul`) against a float64 product of the same
//! f16-rounded inputs, on adapters with cooperative matrices (the H200 through
//! `scripts/gpu.sh`); elsewhere (lavapipe, CPU) it must refuse with a clear error.

mod common;
use common::{host, rel_err};
use burn::tensor::{DType, Distribution, Tensor};
use rankmamba::ops::matmul::{coop_matmul_available, matmul_coop};

#[test]
fn coop_matmul_matches_f64_or_says_why_not() {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return;
    }
    let dev = rankmamba::DeviceChoice::Wgpu.device().unwrap();
    let (m, k, n) = (256, 192, 384);
    let a = Tensor::<2>::random([m, k], Distribution::Uniform(-1.0, 1.0), &dev);
    let b = Tensor::<2>::random([k, n], Distribution::Uniform(-1.0, 1.0), &dev);
    if !coop_matmul_available(&dev) {
        let err = matmul_coop(a, b).unwrap_err().to_string();
        assert!(err.contains("no cooperative matrices"), "{err}");
        eprintln!("skipped the numeric check: this adapter has no cooperative matrices");
        return;
    }
    let bad = matmul_coop(a.clone().slice([0..100, 0..k]), b.clone()).unwrap_err().to_string();
    assert!(bad.contains("m % 128"), "{bad}");
    let host = |t: &Tensor<2>| t.clone().cast(DType::F16).cast(DType::F32).into_data().try_to_vec::<f32>().unwrap();
    let (ha, hb) = (host(&a), host(&b));
    // each operand as it is and as a transposed view of its transpose's storage (the kernel reads
    // those in place: a weight gradient's dyᵀ, a forward's wᵀ)
    let stored_transposed = |t: &Tensor<2>, h: &[f32]| {
        let [r, c] = t.dims();
        let ht: Vec<f32> = (0..c * r).map(|i| h[(i % r) * c + i / r]).collect();
        Tensor::<2>::from_data(burn::tensor::TensorData::new(ht, [c, r]), &dev).transpose()
    };
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let a_in = if ta { stored_transposed(&a, &ha) } else { a.clone() };
        let b_in = if tb { stored_transposed(&b, &hb) } else { b.clone() };
        let got = matmul_coop(a_in, b_in).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let mut worst = 0f64;
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|t| ha[i * k + t] as f64 * hb[t * n + j] as f64).sum();
                worst = worst.max((got[i * n + j] as f64 - want).abs());
            }
        }
        // f32 accumulation of k = 192 products of magnitude <= 1
        assert!(worst <= 1e-3, "A transposed {ta}, B transposed {tb}: max abs error {worst:e}");
    }
}

/// `ops::linear` in mixed precision under autodiff: output and both gradients against the f32
/// product. On the tensor-core path the inputs are rounded to f16 (hence the 1e-2 bound);
/// elsewhere it is the f32 matmul (its backward sums in another order: 1e-6).
#[test]
fn linear_mixed_and_its_gradients_match_f32() {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return;
    }
    let dev = rankmamba::DeviceChoice::Wgpu.device().unwrap().autodiff();
    let coop = coop_matmul_available(&dev);
    let r = |s: [usize; 2]| Tensor::<2>::random(s, Distribution::Uniform(-1.0, 1.0), &dev);
    let (x0, w0, g) = (r([256, 384]), r([512, 384]), r([256, 512]));
    let run = |mixed: bool| {
        let (x, w) = (x0.clone().detach().require_grad(), w0.clone().detach().require_grad());
        let y = if mixed { rankmamba::ops::linear::linear(x.clone(), &w, None, true) } else { x.clone().matmul(w.clone().transpose()) };
        let grads = (y.clone() * g.clone()).sum().backward();
        (host(y.detach()), host(x.grad(&grads).unwrap()), host(w.grad(&grads).unwrap()))
    };
    let (want, got) = (run(false), run(true));
    let bound = if coop { 1e-2 } else { 1e-6 };
    for (name, a, b) in [("output", &got.0, &want.0), ("dx", &got.1, &want.1), ("dw", &got.2, &want.2)] {
        let e = rel_err(a, b);
        assert!(e <= bound, "{name}: relative error {e:e} (tensor cores: {coop})");
    }
}
