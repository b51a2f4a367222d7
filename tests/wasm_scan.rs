//! The WGSL selective scan in the browser: headless Chromium's WebGPU (SwiftShader), small
//! shapes, fresh random inputs, NaN-poisoned outputs; gradients through `selective_scan` under
//! autodiff there (the reference path: the WGSL backward needs subgroups, which the browser
//! build does not enable); f16 inputs read as packed u32. Run with `bash scripts/test-wasm.sh`.
#![cfg(target_family = "wasm")]

use burn::tensor::{Device, Tensor, TensorData};
use rankmamba::ops::selective_scan::reference::relative_error;
use rankmamba::ops::selective_scan::wgpu::{forward, is_wgsl_device, ScanOptions};
use rankmamba::ops::selective_scan::{selective_scan, HostScan, ScanInputs};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    static DEVICE: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
}

async fn device() -> Device {
    if let Some(d) = DEVICE.with(|d| d.borrow().clone()) {
        return d;
    }
    let d = Device::wgpu_options().init_async().await.expect("a WebGPU adapter (Chromium needs --enable-unsafe-webgpu)");
    DEVICE.with(|slot| *slot.borrow_mut() = Some(d.clone()));
    d
}

fn seed() -> u64 {
    (js_sys::Date::now() * 1000.0) as u64 ^ (js_sys::Math::random() * 1e15) as u64
}

async fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data_async().await.expect("readback").try_to_vec::<f32>().unwrap()
}

#[wasm_bindgen_test]
async fn forward_matches_f64_on_webgpu() {
    let dev = device().await;
    assert!(is_wgsl_device(&dev));
    for ((b, l, e, n), z, chunk) in [((1, 1, 5, 1), false, None), ((3, 7, 5, 16), true, None), ((2, 40, 48, 4), true, Some(7)), ((1, 130, 9, 16), false, Some(64))] {
        let s = seed();
        let host = HostScan::random(b, l, e, n, z, s);
        let out = forward(host.to_inputs(&dev), &ScanOptions { chunk_len: chunk, poison: true, ..Default::default() });
        let err = relative_error(&read(out.out).await, &host.forward_f64());
        assert!(err <= 1e-4, "({b}, {l}, {e}, {n}) z {z} chunk {chunk:?}: relative error {err:e} (seed {s})");
    }
}

/// f16 inputs: SwiftShader has no `shader-f16`, so the kernel reads them packed in u32 words.
#[wasm_bindgen_test]
async fn forward_reads_packed_f16_on_webgpu() {
    use burn::tensor::DType;
    let dev = device().await;
    let s = seed();
    let (b, l, e, n) = (3, 7, 5, 16); // an odd element count: bindings are padded to whole words
    let mut host = HostScan::random(b, l, e, n, true, s);
    for v in [&mut host.u, &mut host.delta, host.z.as_mut().unwrap()] {
        v.iter_mut().for_each(|x| *x = half::f16::from_f32(*x).to_f32());
    }
    // f16 tensors from host bytes: without shader-f16 no burn kernel may touch them
    let h16 = |v: &Vec<f32>| {
        let v16: Vec<half::f16> = v.iter().map(|x| half::f16::from_f32(*x)).collect();
        Tensor::<3>::from_data(TensorData::new(v16, [b, l, e]), (&dev, DType::F16))
    };
    let mut x = host.to_inputs(&dev);
    x.u = h16(&host.u);
    x.delta = h16(&host.delta);
    x.z = Some(h16(host.z.as_ref().unwrap()));
    assert_eq!(x.u.dtype(), DType::F16);
    let out = forward(x, &ScanOptions { poison: true, ..Default::default() });
    let err = relative_error(&read(out.out).await, &host.forward_f64());
    assert!(err <= 1e-4, "packed f16: relative error {err:e} (seed {s})");
}

#[wasm_bindgen_test]
async fn gradients_match_f64_on_webgpu() {
    let ad = device().await.autodiff();
    let (b, l, e, n) = (2, 9, 5, 3);
    let s = seed();
    let host = HostScan::random(b, l, e, n, true, s);
    let w = HostScan::random(b, l, e, 1, false, s ^ 1).u;
    let want = host.backward_f64(&w);
    let ScanInputs { u, delta, delta_bias, a, b: bm, c: cm, d, z } = host.to_inputs(&ad);
    let (u, a, z) = (u.require_grad(), a.require_grad(), z.unwrap().require_grad());
    let out = selective_scan(ScanInputs { u: u.clone(), delta, delta_bias, a: a.clone(), b: bm, c: cm, d, z: Some(z.clone()) });
    let grads = (out * Tensor::<3>::from_data(TensorData::new(w, [b, l, e]), &ad)).sum().backward();
    for (name, got, want) in [
        ("u", read(u.grad(&grads).unwrap()).await, &want.u),
        ("A", read(a.grad(&grads).unwrap()).await, &want.a),
        ("z", read(z.grad(&grads).unwrap()).await, want.z.as_ref().unwrap()),
    ] {
        let err = relative_error(&got, want);
        assert!(err <= 1e-4, "d{name}: relative error {err:e} (seed {s})");
    }
}

