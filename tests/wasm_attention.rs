//! The WGSL attention in the browser: headless Chromium's WebGPU (SwiftShader), small shapes,
//! fresh random inputs, forward and gradients (the WGSL backward through autodiff) against the
//! f64 oracle. Run with `bash scripts/test-wasm.sh`.
#![cfg(target_family = "wasm")]

use burn::tensor::{Device, Tensor, TensorData};
use rankmamba::ops::attention::{attention, attention_f64, attention_grads_f64, AttentionMask};
use rankmamba::ops::selective_scan::reference::relative_error;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn rnd(n: usize, seed: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

async fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data_async().await.expect("readback").try_to_vec::<f32>().unwrap()
}

#[wasm_bindgen_test]
async fn attention_forward_and_gradients_match_f64_on_webgpu() {
    let dev: Device = Device::wgpu_options().init_async().await.expect("a WebGPU adapter");
    for (b, h, l, dh, causal) in [(2, 2, 9, 16, false), (2, 3, 13, 32, true)] {
        let mut seed = (js_sys::Date::now() * 1000.0) as u64 | 1;
        let s0 = seed;
        let n = b * h * l * dh;
        let (q, k, v, w) = (rnd(n, &mut seed), rnd(n, &mut seed), rnd(n, &mut seed), rnd(n, &mut seed));
        let lens = vec![l, 1 + l / 2];
        let scale = 1.0 / (dh as f64).sqrt();
        let mask = AttentionMask { key_lens: Some(lens.clone()), causal };
        let (want, _) = attention_f64(&q, &k, &v, b, h, l, dh, &lens, causal, scale);
        let want_g = attention_grads_f64(&q, &k, &v, &w, b, h, l, dh, &lens, causal, scale);
        let t = |x: &Vec<f32>, d: &Device| Tensor::<4>::from_data(TensorData::new(x.clone(), [b, h, l, dh]), d);
        let out = attention(t(&q, &dev), t(&k, &dev), t(&v, &dev), &mask, scale);
        let err = relative_error(&read(out).await, &want);
        assert!(err <= 1e-4, "forward ({b}, {h}, {l}, {dh}) causal {causal}: relative error {err:e} (seed {s0})");
        let ad = dev.clone().autodiff();
        let (qt, kt, vt) = (t(&q, &ad).require_grad(), t(&k, &ad).require_grad(), t(&v, &ad).require_grad());
        let grads = (attention(qt.clone(), kt.clone(), vt.clone(), &mask, scale) * t(&w, &ad)).sum().backward();
        for (name, g, wnt) in [("dq", qt.grad(&grads), &want_g[0]), ("dk", kt.grad(&grads), &want_g[1]), ("dv", vt.grad(&grads), &want_g[2])] {
            let err = relative_error(&read(g.unwrap()).await, wnt);
            assert!(err <= 1e-4, "{name} ({b}, {h}, {l}, {dh}) causal {causal}: relative error {err:e} (seed {s0})");
        }
        // f16 inputs from host bytes: packed u32 reads (SwiftShader has no shader-f16)
        let r16 = |x: &Vec<f32>| x.iter().map(|y| half::f16::from_f32(*y).to_f32()).collect::<Vec<f32>>();
        let (q16, k16, v16) = (r16(&q), r16(&k), r16(&v));
        let (want16, _) = attention_f64(&q16, &k16, &v16, b, h, l, dh, &lens, causal, scale);
        let t16 = |x: &Vec<f32>| {
            let halves: Vec<half::f16> = x.iter().map(|y| half::f16::from_f32(*y)).collect();
            Tensor::<4>::from_data(TensorData::new(halves, [b, h, l, dh]), (&dev, burn::tensor::DType::F16))
        };
        let out = attention(t16(&q16), t16(&k16), t16(&v16), &mask, scale);
        let err = relative_error(&read(out).await, &want16);
        assert!(err <= 1e-4, "packed f16 ({b}, {h}, {l}, {dh}): relative error {err:e} (seed {s0})");
    }
}
