//! `train::FusedAdamW` (one WGSL kernel per parameter tensor) against burn's AdamW, through
//! burn's `ModuleOptimizer` as `train` uses it: the same parameters after several steps, and
//! optimizer records that either one resumes from.

mod common;
use burn::module::{Module, Param};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use rankmamba::train::FusedAdamW;

#[derive(Module, Debug)]
struct Two {
    /// vec4 path
    a: Param<Tensor<2>>,
    /// scalar path (7 elements)
    b: Param<Tensor<1>>,
}

fn v<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn start(dev: &Device) -> Two {
    Two {
        a: Param::from_tensor(Tensor::random([16, 12], Distribution::Uniform(-1.0, 1.0), dev)),
        b: Param::from_tensor(Tensor::random([7], Distribution::Uniform(-1.0, 1.0), dev)),
    }
}

/// `steps` steps of a loss whose gradients differ per element and per step.
fn train(mut m: Two, optim: &mut ModuleOptimizer, steps: std::ops::Range<usize>) -> Two {
    for s in steps {
        let k = 1.0 + s as f32 * 0.5;
        let loss = (m.a.val().powi_scalar(2) * k).sum() + (m.b.val() * k).sin().sum() + m.a.val().sum_dim(0).powi_scalar(3).sum().mul_scalar(0.1);
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        m = optim.step(1e-2, m, grads);
    }
    m
}

fn burn_adamw() -> ModuleOptimizer {
    AdamWConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).with_weight_decay(0.01).init()
}

fn fused() -> ModuleOptimizer {
    ModuleOptimizer::from(FusedAdamW::new(0.9, 0.999, 1e-8, 0.01))
}

fn close(got: &Two, want: &Two, what: &str) {
    for (name, g, w) in [("a", v(got.a.val()), v(want.a.val())), ("b", v(got.b.val()), v(want.b.val()))] {
        for (x, y) in g.iter().zip(&w) {
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1.0), "{what}: `{name}` {g:?} vs {w:?}");
        }
    }
}

#[test]
fn fused_adamw_follows_burns_adamw_and_shares_its_records() {
    let devices = if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        vec![rankmamba::DeviceChoice::Cpu.device().unwrap()]
    } else {
        vec![rankmamba::DeviceChoice::Cpu.device().unwrap(), rankmamba::DeviceChoice::Wgpu.device().unwrap()]
    };
    for dev in devices {
        let dev = dev.autodiff();
        let m0 = start(&dev);
        let want = train(m0.clone(), &mut burn_adamw(), 0..6);
        let got = train(m0.clone(), &mut fused(), 0..6);
        close(&got, &want, "six steps");
        // three steps with one, a record, three more with the other (both ways)
        for (first, second) in [(fused as fn() -> ModuleOptimizer, burn_adamw as fn() -> ModuleOptimizer), (burn_adamw, fused)] {
            let mut o1 = first();
            let half = train(m0.clone(), &mut o1, 0..3);
            let mut o2 = second().load_record(o1.to_record());
            close(&train(half, &mut o2, 3..6), &want, "resumed from the other optimizer's record");
        }
    }
}
