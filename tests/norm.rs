//! `ops::norm` (WGSL LayerNorm and RMSNorm, forward and backward) against the reference (burn
//! tensor ops under burn's autodiff) on the same wgpu device.

mod common;
use burn::tensor::{Distribution, Tensor};
use common::{assert_all_close, assert_is_f16_of, host as v};
use rankmamba::ops::norm::{layer_norm, reference, rms_norm, rms_norm_as};

fn check(dev: &burn::tensor::Device, batch: usize, len: usize, d: usize, layer: bool) {
    let dev = dev.clone().autodiff();
    let r = |s: [usize; 3]| Tensor::<3>::random(s, Distribution::Uniform(-2.0, 3.0), &dev);
    let (x0, dy) = (r([batch, len, d]), r([batch, len, d]));
    let g0 = Tensor::<1>::random([d], Distribution::Uniform(0.5, 1.5), &dev);
    let b0 = Tensor::<1>::random([d], Distribution::Uniform(-1.0, 1.0), &dev);
    let run = |ours: bool| {
        let (x, g, b) = (x0.clone().detach().require_grad(), g0.clone().detach().require_grad(), b0.clone().detach().require_grad());
        let y = match (ours, layer) {
            (true, true) => layer_norm(x.clone(), g.clone(), b.clone(), 1e-12),
            (true, false) => rms_norm(x.clone(), g.clone(), 1e-5),
            (false, true) => reference(x.clone(), g.clone(), Some(b.clone()), 1e-12),
            (false, false) => reference(x.clone(), g.clone(), None, 1e-5),
        };
        let grads = (y.clone() * dy.clone()).sum().backward();
        let db = if layer { v(b.grad(&grads).unwrap()) } else { vec![] };
        (v(y.detach()), v(x.grad(&grads).unwrap()), v(g.grad(&grads).unwrap()), db)
    };
    let (want, got) = (run(false), run(true));
    let named = |r: (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>)| [("y", r.0), ("dx", r.1), ("dg", r.2), ("db", r.3)];
    assert_all_close(&format!("batch {batch}, len {len}, d {d}, layer norm {layer}"), &named(got), &named(want), 1e-5);
}

#[test]
fn norms_and_their_gradients_match_the_reference() {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return;
    }
    let dev = rankmamba::DeviceChoice::Wgpu.device().unwrap();
    // widths with one and several vec4 per thread and a ragged last one; one row; many chunks
    for layer in [true, false] {
        check(&dev, 3, 50, 64, layer);
        check(&dev, 2, 7, 36, layer);
        check(&dev, 1, 1, 8, layer);
        check(&dev, 4, 300, 768, layer);
        if std::env::var("RANKMAMBA_TRAINING_SHAPES").as_deref() == Ok("1") {
            check(&dev, 64, 512, 768, layer);
        }
    }
}

/// RMSNorm written in f16 (for the tensor cores) is the f16 rounding of the f32 kernel's output,
/// and its backward takes an f16 gradient as the f32 one would (the same dx and dg).
#[test]
fn rms_norm_in_f16_is_the_cast_of_f32() {
    use burn::tensor::DType;
    let Some(dev) = common::wgpu_f16_autodiff() else { return };
    for (rows, d) in [(3, 36), (300, 768)] {
        let x0 = Tensor::<2>::random([rows, d], Distribution::Uniform(-2.0, 3.0), &dev);
        let dy = Tensor::<2>::random([rows, d], Distribution::Uniform(-1.0, 1.0), &dev);
        let g0 = Tensor::<1>::random([d], Distribution::Uniform(0.5, 1.5), &dev);
        let run = |f16: bool| {
            let (x, g) = (x0.clone().detach().require_grad(), g0.clone().detach().require_grad());
            let y = if f16 { rms_norm_as(x.clone(), g.clone(), 1e-5, DType::F16) } else { rms_norm(x.clone(), g.clone(), 1e-5) };
            // the gradient reaches the norm in f16 both ways (the casts' backward)
            let grads = (y.clone().cast(DType::F16).cast(DType::F32) * dy.clone()).sum().backward();
            (y.detach(), v(x.grad(&grads).unwrap()), v(g.grad(&grads).unwrap()))
        };
        let ((y16, dx16, dg16), (y32, dx32, dg32)) = (run(true), run(false));
        let what = format!("rows {rows}, d {d}");
        assert_is_f16_of(&what, y16, y32);
        assert_eq!((dx16, dg16), (dx32, dg32), "{what}: gradients");
    }
}
