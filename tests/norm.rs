//! `ops::norm` (WGSL LayerNorm and RMSNorm, forward and backward) against the reference (burn
//! tensor ops under burn's autodiff) on the same wgpu device.

mod common;
use burn::tensor::{Distribution, Tensor};
use common::{assert_all_close, host as v};
use rankmamba::ops::norm::{layer_norm, reference, rms_norm};

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
