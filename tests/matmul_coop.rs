//! The tensor-core WGSL matmul (`ops::matmul`) against a float64 product of the same
//! f16-rounded inputs, on adapters with cooperative matrices (the H200 through
//! `scripts/gpu.sh`); elsewhere (lavapipe, CPU) it must refuse with a clear error.

mod common;
use common::{host, rel_err};
use burn::tensor::{DType, Distribution, Tensor};
use rankmamba::ops::matmul::{coop_matmul_available, matmul_coop};

/// `a · b` through the kernel against f64 on the f16-rounded inputs; `a`, `b` are passed as
/// given (`f16`: cast first) or as transposed views of their transposes' storage (the kernel
/// reads those in place: a weight gradient's dyᵀ, a forward's wᵀ).
fn check(dev: &burn::tensor::Device, (m, k, n): (usize, usize, usize), f16: bool, trans_a: bool, trans_b: bool) {
    let a = Tensor::<2>::random([m, k], Distribution::Uniform(-1.0, 1.0), dev);
    let b = Tensor::<2>::random([k, n], Distribution::Uniform(-1.0, 1.0), dev);
    let host = |t: &Tensor<2>| t.clone().cast(DType::F16).cast(DType::F32).into_data().try_to_vec::<f32>().unwrap();
    let (ha, hb) = (host(&a), host(&b));
    let stored_transposed = |t: &Tensor<2>, h: &[f32]| {
        let [r, c] = t.dims();
        let ht: Vec<f32> = (0..c * r).map(|i| h[(i % r) * c + i / r]).collect();
        Tensor::<2>::from_data(burn::tensor::TensorData::new(ht, [c, r]), dev).transpose()
    };
    let a_in = if trans_a { stored_transposed(&a, &ha) } else { a.clone() };
    let b_in = if trans_b { stored_transposed(&b, &hb) } else { b.clone() };
    let (a_in, b_in) = if f16 { (a_in.cast(DType::F16), b_in.cast(DType::F16)) } else { (a_in, b_in) };
    let got = matmul_coop(a_in, b_in).unwrap();
    assert_eq!(got.dims(), [m, n]);
    let got = got.into_data().try_to_vec::<f32>().unwrap();
    let mut worst = 0f64;
    for i in 0..m {
        for j in 0..n {
            let want: f64 = (0..k).map(|t| ha[i * k + t] as f64 * hb[t * n + j] as f64).sum();
            worst = worst.max((got[i * n + j] as f64 - want).abs());
        }
    }
    // f32 accumulation of k products of magnitude <= 1
    let bound = 1e-3 * (k as f64 / 192.0).max(1.0);
    assert!(worst <= bound, "({m}, {k}) · ({k}, {n}), f16 {f16}, A transposed {trans_a}, B transposed {trans_b}: max abs error {worst:e}");
}

#[test]
fn coop_matmul_matches_f64_or_says_why_not() {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return;
    }
    let dev = rankmamba::DeviceChoice::Wgpu.device().unwrap();
    if !coop_matmul_available(&dev) {
        let a = Tensor::<2>::zeros([128, 64], &dev);
        let err = matmul_coop(a.clone(), a.transpose()).unwrap_err().to_string();
        assert!(err.contains("no cooperative matrices"), "{err}");
        eprintln!("skipped the numeric check: this adapter has no cooperative matrices");
        return;
    }
    let a = Tensor::<2>::zeros([99, 64], &dev);
    let bad = matmul_coop(a.clone(), Tensor::zeros([64, 128], &dev)).unwrap_err().to_string();
    assert!(bad.contains("multiple of 4"), "{bad}");
    // on the blocks, in every layout and both input types
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        for f16 in [false, true] {
            check(&dev, (256, 192, 384), f16, ta, tb);
        }
    }
    // off the blocks (zeros past the edges), and few blocks over a long K (split K)
    check(&dev, (200, 52, 84), false, false, false);
    check(&dev, (84, 200, 52), false, true, true);
    check(&dev, (128, 4096, 128), false, true, false);
    check(&dev, (80, 8192, 200), true, true, false);
    // multiples of 16 off the blocks and of the K slice (an unstaged shape clamps its tiles
    // inside the operands and ends a split's K 16 at a time)
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        check(&dev, (144, 48, 272), true, ta, tb);
    }
    check(&dev, (80, 4112, 1552), true, true, false);
    // more blocks than the persistent grid has workgroups (a few per SM): each workgroup takes
    // several in turn, and reads the next block's first slice during its current block
    check(&dev, (2304, 64, 2048), true, false, true);
    check(&dev, (2320, 200, 2052), false, true, false);
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
