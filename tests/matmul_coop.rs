//! The tensor-core WGSL matmul (`ops::matmul`) against a float64 product of the same
//! f16-rounded inputs, on adapters with cooperative matrices (the H200 through
//! `scripts/gpu.sh`); elsewhere (lavapipe, CPU) it must refuse with a clear error.

mod common;
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
    let got = matmul_coop(a, b).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let mut worst = 0f64;
    for i in 0..m {
        for j in 0..n {
            let want: f64 = (0..k).map(|t| ha[i * k + t] as f64 * hb[t * n + j] as f64).sum();
            worst = worst.max((got[i * n + j] as f64 - want).abs());
        }
    }
    // f32 accumulation of k = 192 products of magnitude <= 1
    assert!(worst <= 1e-3, "max abs error {worst:e}");
}
