//! `ops::causal_conv` (WGSL causal depthwise conv + SiLU, forward and backward) against the
//! reference (burn's conv1d + silu under burn's autodiff) on the same wgpu device.

mod common;
use burn::tensor::{Distribution, Tensor};
use common::{assert_all_close, assert_is_f16_of, host as v};
use rankmamba::ops::causal_conv::{causal_conv1d_silu, causal_conv1d_silu_grad_as, reference};

/// Output and the gradients of x, w and bias: kernel against reference.
fn check(dev: &burn::tensor::Device, batch: usize, len: usize, e: usize, k: usize, bias: bool) {
    let dev = dev.clone().autodiff();
    let r = |s: [usize; 3]| Tensor::<3>::random(s, Distribution::Uniform(-1.0, 1.0), &dev);
    let (x0, w0, g) = (r([batch, len, e]), r([e, 1, k]), r([batch, len, e]));
    let b0 = Tensor::<1>::random([e], Distribution::Uniform(-1.0, 1.0), &dev);
    let run = |ours: bool| {
        let (x, w, b) = (x0.clone().detach().require_grad(), w0.clone().detach().require_grad(), b0.clone().detach().require_grad());
        let bb = bias.then(|| b.clone());
        let y = if ours { causal_conv1d_silu(x.clone(), w.clone(), bb) } else { reference(x.clone(), w.clone(), bb) };
        let grads = (y.clone() * g.clone()).sum().backward();
        let db = if bias { v(b.grad(&grads).unwrap()) } else { vec![] };
        (v(y.detach()), v(x.grad(&grads).unwrap()), v(w.grad(&grads).unwrap()), db)
    };
    let (want, got) = (run(false), run(true));
    let named = |r: (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>)| [("u", r.0), ("dx", r.1), ("dw", r.2), ("dbias", r.3)];
    assert_all_close(&format!("batch {batch}, len {len}, E {e}, K {k}, bias {bias}"), &named(got), &named(want), 1e-5);
}

#[test]
fn causal_conv_and_its_gradients_match_the_reference() {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return;
    }
    let dev = rankmamba::DeviceChoice::Wgpu.device().unwrap();
    // vec4 channels and many row chunks across sequence boundaries; scalar channels (E = 22, as
    // the tiny fixtures), K = 3 and K = 1, no bias, sequences shorter than the kernel
    check(&dev, 3, 700, 64, 4, true);
    check(&dev, 2, 37, 22, 4, true);
    check(&dev, 4, 5, 12, 3, false);
    check(&dev, 2, 9, 8, 1, true);
    check(&dev, 5, 2, 8, 4, true);
    // a Mamba-130m layer of a 64 × 512 training step (slow on a CPU adapter: GPU runs only)
    if std::env::var("RANKMAMBA_TRAINING_SHAPES").as_deref() == Ok("1") {
        check(&dev, 64, 512, 1536, 4, true);
    }
}

/// The backward writing dx in f16 (for the tensor cores) gives the f16 rounding of the f32 dx,
/// and the same output, dw and dbias.
#[test]
fn the_input_gradient_in_f16_is_the_cast_of_f32() {
    use burn::tensor::DType;
    let Some(dev) = common::wgpu_f16_autodiff() else { return };
    // vec4 and scalar channels
    for (batch, len, e) in [(3, 70, 64), (2, 37, 22)] {
        let r = |s: [usize; 3]| Tensor::<3>::random(s, Distribution::Uniform(-1.0, 1.0), &dev);
        let (x0, w0, g) = (r([batch, len, e]), r([e, 1, 4]), r([batch, len, e]));
        let b0 = Tensor::<1>::random([e], Distribution::Uniform(-1.0, 1.0), &dev);
        let run = |dx: DType| {
            let (x, w, b) = (x0.clone().detach().require_grad(), w0.clone().detach().require_grad(), b0.clone().detach().require_grad());
            let u = causal_conv1d_silu_grad_as(x.clone(), w.clone(), Some(b.clone()), dx);
            let grads = (u.clone() * g.clone()).sum().backward();
            (v(u.detach()), x.grad(&grads).unwrap(), v(w.grad(&grads).unwrap()), v(b.grad(&grads).unwrap()))
        };
        let ((u16, dx16, dw16, db16), (u32, dx32, dw32, db32)) = (run(DType::F16), run(DType::F32));
        let what = format!("batch {batch}, len {len}, E {e}");
        assert_is_f16_of(&what, dx16, dx32);
        assert_eq!((u16, dw16, db16), (u32, dw32, db32), "{what}: u, dw, dbias");
    }
}
