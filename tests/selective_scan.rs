//! The WGSL selective scan against a float64 oracle: fresh random inputs each run (the seed is
//! printed on failure), shapes that are not multiples of the workgroup size, single-pass and
//! chunked plans, outputs poisoned with NaN before the launch so unwritten elements fail.

mod common;
use rankmamba::ops::selective_scan::reference::relative_error;
use rankmamba::ops::selective_scan::wgpu::{forward, ScanOptions};
use rankmamba::ops::selective_scan::{selective_scan, HostScan};
use rankmamba::DeviceChoice;

const TOL: f64 = 1e-4;

fn seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn wgpu() -> Option<burn::tensor::Device> {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return None;
    }
    Some(DeviceChoice::Wgpu.device().expect("wgpu device (set RANKMAMBA_SKIP_WGPU=1 to skip)"))
}

fn check(device: &burn::tensor::Device, shape: (usize, usize, usize, usize), with_z: bool, chunk_len: Option<usize>) {
    check_with(device, shape, with_z, ScanOptions { chunk_len, poison: true, ..Default::default() })
}

fn check_with(device: &burn::tensor::Device, shape: (usize, usize, usize, usize), with_z: bool, opts: ScanOptions) {
    let (b, l, e, n) = shape;
    let s = seed();
    let host = HostScan::random(b, l, e, n, with_z, s);
    let want = host.forward_f64();
    let got = forward(host.to_inputs(device), &opts);
    let plan = got.plan;
    let out = got.out.into_data().try_to_vec::<f32>().unwrap();
    let err = relative_error(&out, &want);
    assert!(
        err <= TOL,
        "shape (batch {b}, len {l}, d_inner {e}, N {n}), z {with_z}, {plan:?}: relative error {err:e} (seed {s})"
    );
}

#[test]
fn forward_matches_f64_over_odd_shapes() {
    let Some(dev) = wgpu() else { return };
    let shapes = [
        ((1, 1, 5, 1), false),
        ((3, 2, 48, 4), true),
        ((17, 7, 5, 16), true),
        ((3, 130, 48, 16), false),
        ((17, 130, 1536, 4), true),
        ((1, 1000, 1536, 16), true),
        ((1, 5000, 48, 16), true), // long: the default plan chunks it
        ((3, 5000, 5, 1), false),
    ];
    for (shape, z) in shapes {
        check(&dev, shape, z, None);
    }
}

#[test]
fn chunked_plans_match_f64() {
    let Some(dev) = wgpu() else { return };
    for (shape, chunk) in [((3, 130, 48, 16), 7), ((3, 130, 48, 16), 64), ((17, 7, 5, 16), 3), ((1, 1000, 1536, 16), 128), ((2, 9, 5, 4), 1)] {
        check(&dev, shape, true, Some(chunk));
    }
}

/// The training forward (states kept every `save_every` steps): one pass, or the chunked passes
/// for sequences longer than one invocation runs.
#[test]
fn training_forward_matches_f64() {
    let Some(dev) = wgpu() else { return };
    for (shape, every) in [((3, 130, 48, 16), 4), ((2, 9, 5, 4), 4), ((2, 7, 5, 4), 64), ((1, 5000, 5, 4), 16)] {
        check_with(&dev, shape, true, ScanOptions { save_every: Some(every), poison: true, ..Default::default() });
    }
}

/// u, Δ, z stored as f16: read natively (`shader-f16`) and as packed u32 words; against f64 on
/// the same f16-rounded values.
#[test]
fn forward_reads_f16_inputs() {
    use burn::tensor::DType;
    use rankmamba::ops::selective_scan::wgpu::InputFormat;
    let Some(dev) = wgpu() else { return };
    let mut formats = vec![InputFormat::PackedF16];
    if rankmamba::device::wgpu_has_shader_f16() {
        formats.push(InputFormat::F16);
    }
    for format in formats {
        for ((b, l, e, n), z, chunk) in [((1, 1, 5, 1), true, None), ((3, 7, 5, 16), false, None), ((2, 130, 48, 4), true, Some(33))] {
            let s = seed();
            let mut host = HostScan::random(b, l, e, n, z, s);
            let round = |v: &mut Vec<f32>| v.iter_mut().for_each(|x| *x = half::f16::from_f32(*x).to_f32());
            round(&mut host.u);
            round(&mut host.delta);
            if let Some(z) = host.z.as_mut() {
                round(z);
            }
            let mut x = host.to_inputs(&dev);
            x.u = x.u.cast(DType::F16);
            x.delta = x.delta.cast(DType::F16);
            x.z = x.z.map(|z| z.cast(DType::F16));
            let out = forward(x, &ScanOptions { chunk_len: chunk, poison: true, f16_format: Some(format), ..Default::default() });
            let err = relative_error(&out.out.into_data().try_to_vec::<f32>().unwrap(), &host.forward_f64());
            assert!(err <= TOL, "{format:?} ({b}, {l}, {e}, {n}) z {z}: relative error {err:e} (seed {s})");
        }
    }
}

#[test]
fn model_path_picks_the_kernel_on_wgpu_and_the_reference_on_cpu() {
    let host = HostScan::random(2, 33, 7, 3, true, seed());
    let want = host.forward_f64();
    let cpu = selective_scan(host.to_inputs(&DeviceChoice::Cpu.device().unwrap())).into_data().try_to_vec::<f32>().unwrap();
    assert!(relative_error(&cpu, &want) <= TOL);
    if let Some(dev) = wgpu() {
        let gpu = selective_scan(host.to_inputs(&dev)).into_data().try_to_vec::<f32>().unwrap();
        assert!(relative_error(&gpu, &want) <= TOL);
    }
}

// ----------------------------------------------------------------------------------------------
// Backward
// ----------------------------------------------------------------------------------------------

use burn::tensor::{Tensor, TensorData};
use rankmamba::ops::selective_scan::reference::HostGrads;
use rankmamba::ops::selective_scan::wgpu::{backward, backward_chunk_len};
use rankmamba::ops::selective_scan::ScanInputs;

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn assert_grads(what: &str, got: [(&str, Vec<f32>); 8], want: &HostGrads, seed: u64) {
    let refs: [(&str, Option<&Vec<f64>>); 8] = [
        ("u", Some(&want.u)),
        ("delta", Some(&want.delta)),
        ("delta_bias", Some(&want.delta_bias)),
        ("A", Some(&want.a)),
        ("B", Some(&want.b)),
        ("C", Some(&want.c)),
        ("D", Some(&want.d)),
        ("z", want.z.as_ref()),
    ];
    for ((name, g), (_, w)) in got.into_iter().zip(refs) {
        let Some(w) = w else { continue };
        let err = relative_error(&g, w);
        assert!(err <= TOL, "{what}: d{name}: relative error {err:e} (seed {seed})");
    }
}

/// The WGSL backward launched directly, from the states the training forward kept.
#[test]
fn backward_kernel_matches_f64() {
    let Some(dev) = wgpu() else { return };
    if !rankmamba::device::wgpu_has_subgroups() {
        panic!("this adapter has no subgroup operations: the WGSL backward cannot run");
    }
    for (b, l, e, n) in [(1, 1, 5, 1), (3, 2, 48, 4), (2, 7, 5, 16), (3, 130, 48, 16), (1, 1000, 1536, 16), (17, 70, 48, 4), (1, 5000, 5, 4)] {
        let s = seed();
        let host = HostScan::random(b, l, e, n, true, s);
        let dout = HostScan::random(b, l, e, 1, false, s ^ 1).u; // any (batch, len, d_inner) values
        let want = host.backward_f64(&dout);
        let every = backward_chunk_len(n);
        // the states from the one-pass forward, and (one shape) from the chunked passes with
        // chunks that do not line up with the saved steps
        let chunked: &[bool] = if (b, l, e, n) == (3, 130, 48, 16) { &[false, true] } else { &[false] };
        // and (small shapes) four invocations per channel instead of the default's two, and a_t
        // kept from the recompute
        let small = l * e < 10_000;
        let variants: &[(Option<u32>, Option<bool>)] = match (small, n % 4 == 0) {
            (true, true) => &[(None, None), (Some(4), None), (None, Some(true))],
            (true, false) => &[(None, None), (None, Some(true))],
            _ => &[(None, None)],
        };
        for (&forced, &(lanes, keep_a)) in chunked.iter().flat_map(|f| variants.iter().map(move |v| (f, v))) {
            let opts = ScanOptions { save_every: Some(every), chunk_len: forced.then_some(7), poison: true, lanes, keep_a, ..Default::default() };
            let fwd = forward(host.to_inputs(&dev), &opts);
            let dout_t = Tensor::<3>::from_data(TensorData::new(dout.clone(), [b, l, e]), &dev);
            let g = backward(host.to_inputs(&dev), fwd.saved_states, dout_t, &opts);
            let got = [
                ("u", vec_of(g.u)),
                ("delta", vec_of(g.delta)),
                ("delta_bias", vec_of(g.delta_bias)),
                ("A", vec_of(g.a)),
                ("B", vec_of(g.b)),
                ("C", vec_of(g.c)),
                ("D", vec_of(g.d)),
                ("z", vec_of(g.z.unwrap())),
            ];
            assert_grads(&format!("backward kernel ({b}, {l}, {e}, {n}), chunked forward {forced}, lanes {lanes:?}, keep a_t {keep_a:?}"), got, &want, s);
        }
    }
}

/// `loss.backward()` through `selective_scan` on an autodiff device: the WGSL backward on wgpu,
/// burn's autodiff of the reference on the CPU; both against f64.
#[test]
fn autodiff_gradients_match_f64_on_every_backend() {
    let mut devices = vec![DeviceChoice::Cpu.device().unwrap()];
    devices.extend(wgpu());
    for dev in devices {
        let ad = dev.clone().autodiff();
        for (b, l, e, n) in [(2, 9, 5, 3), (3, 70, 48, 16)] {
            let s = seed();
            let host = HostScan::random(b, l, e, n, true, s);
            let w = HostScan::random(b, l, e, 1, false, s ^ 1).u;
            let want = host.backward_f64(&w);
            let x = host.to_inputs(&ad);
            let leaves = ScanInputs {
                u: x.u.require_grad(),
                delta: x.delta.require_grad(),
                delta_bias: x.delta_bias.require_grad(),
                a: x.a.require_grad(),
                b: x.b.require_grad(),
                c: x.c.require_grad(),
                d: x.d.require_grad(),
                z: x.z.map(|z| z.require_grad()),
            };
            let keep = (
                leaves.u.clone(),
                leaves.delta.clone(),
                leaves.delta_bias.clone(),
                leaves.a.clone(),
                leaves.b.clone(),
                leaves.c.clone(),
                leaves.d.clone(),
                leaves.z.clone().unwrap(),
            );
            let out = selective_scan(leaves);
            let wt = Tensor::<3>::from_data(TensorData::new(w, [b, l, e]), &ad);
            let grads = (out * wt).sum().backward();
            let got = [
                ("u", vec_of(keep.0.grad(&grads).unwrap())),
                ("delta", vec_of(keep.1.grad(&grads).unwrap())),
                ("delta_bias", vec_of(keep.2.grad(&grads).unwrap())),
                ("A", vec_of(keep.3.grad(&grads).unwrap())),
                ("B", vec_of(keep.4.grad(&grads).unwrap())),
                ("C", vec_of(keep.5.grad(&grads).unwrap())),
                ("D", vec_of(keep.6.grad(&grads).unwrap())),
                ("z", vec_of(keep.7.grad(&grads).unwrap())),
            ];
            assert_grads(&format!("autodiff on {dev:?} ({b}, {l}, {e}, {n})"), got, &want, s);
        }
    }
}

/// The output (forward) and the gradients of Δ and z (backward) written in f16 for the tensor
/// cores are the f16 rounding of the f32 results; every other gradient is unchanged.
#[test]
fn f16_results_are_the_cast_f32_results() {
    use burn::tensor::DType;
    use common::assert_is_f16_of;
    use rankmamba::ops::selective_scan::HalfResults;
    let Some(dev) = wgpu() else { return };
    if !rankmamba::device::wgpu_has_shader_f16() || !rankmamba::device::wgpu_has_subgroups() {
        return;
    }
    for (b, l, e, n) in [(2, 7, 5, 16), (3, 130, 48, 16), (1, 33, 4, 4)] {
        let s = seed();
        let host = HostScan::random(b, l, e, n, true, s);
        let dout = HostScan::random(b, l, e, 1, false, s ^ 1).u;
        let every = backward_chunk_len(n);
        let run = |half: HalfResults| {
            let opts = ScanOptions { save_every: Some(every), poison: true, half, ..Default::default() };
            let fwd = forward(host.to_inputs(&dev), &opts);
            let dout_t = Tensor::<3>::from_data(TensorData::new(dout.clone(), [b, l, e]), &dev);
            (fwd.out, backward(host.to_inputs(&dev), fwd.saved_states, dout_t, &opts))
        };
        let (out32, g32) = run(HalfResults::default());
        let what = format!("({b}, {l}, {e}, {n}), seed {s}");
        // each alone (the planes the others take move) and all three
        for half in [
            HalfResults { out: true, ..Default::default() },
            HalfResults { delta_grad: true, ..Default::default() },
            HalfResults { z_grad: true, ..Default::default() },
            HalfResults { out: true, delta_grad: true, z_grad: true },
        ] {
            let (out, g) = run(half);
            let what = format!("{what}, {half:?}");
            let same_or_f16 = |name: &str, f16: bool, got: Tensor<3>, want: Tensor<3>| {
                if f16 {
                    assert_is_f16_of(&format!("{what}: {name}"), got, want);
                } else {
                    assert_eq!(got.dtype(), DType::F32, "{what}: {name}");
                    assert_eq!(vec_of(got), vec_of(want), "{what}: {name}");
                }
            };
            same_or_f16("out", half.out, out, out32.clone());
            same_or_f16("d(delta)", half.delta_grad, g.delta, g32.delta.clone());
            same_or_f16("dz", half.z_grad, g.z.unwrap(), g32.z.clone().unwrap());
            same_or_f16("du", false, g.u, g32.u.clone());
            same_or_f16("dB", false, g.b, g32.b.clone());
            assert_eq!(vec_of(g.a), vec_of(g32.a.clone()), "{what}: dA");
            assert_eq!(vec_of(g.delta_bias), vec_of(g32.delta_bias.clone()), "{what}: d(delta_bias)");
        }
    }
}
