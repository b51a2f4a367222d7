//! The WGSL selective scan against a float64 oracle: fresh random inputs each run (the seed is
//! printed on failure), shapes that are not multiples of the workgroup size, single-pass and
//! chunked plans, outputs poisoned with NaN before the launch so unwritten elements fail.

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
    let (b, l, e, n) = shape;
    let s = seed();
    let host = HostScan::random(b, l, e, n, with_z, s);
    let want = host.forward_f64();
    let got = forward(host.to_inputs(device), &ScanOptions { chunk_len, poison: true });
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
