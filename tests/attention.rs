//! The WGSL attention kernel against a float64 oracle: fresh random inputs each run (seed
//! printed on failure), lengths and head dims that are not multiples of the tiles, padding and
//! causal masks.

use burn::tensor::{Tensor, TensorData};
use rankmamba::ops::attention::{attention_f64, attention_grads_f64, attention_reference, attention_wgpu, AttentionMask};
use rankmamba::ops::selective_scan::reference::relative_error;
use rankmamba::DeviceChoice;

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

#[test]
fn forward_matches_f64_with_masks() {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return;
    }
    let dev = DeviceChoice::Wgpu.device().unwrap();
    let cpu = DeviceChoice::Cpu.device().unwrap();
    // lengths {1, 3, 77, 512, 1030}, heads {1, 12}, head dims {16, 32, 64} and the limits 4, 128
    let shapes = [(1, 1, 1, 16), (2, 12, 3, 32), (3, 1, 77, 64), (1, 12, 512, 64), (2, 1, 1030, 32), (2, 3, 77, 128), (1, 2, 9, 4)];
    for (b, h, l, dh) in shapes {
        for causal in [false, true] {
            let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
            let s0 = seed;
            let (q, k, v) = (rnd(b * h * l * dh, &mut seed), rnd(b * h * l * dh, &mut seed), rnd(b * h * l * dh, &mut seed));
            // padding: a random real length per sequence (at least one key)
            let lens: Vec<usize> = (0..b).map(|s| if s == 0 { l } else { 1 + (rnd(1, &mut seed)[0].abs() * (l as f32 - 1.0)) as usize }).collect();
            let scale = 1.0 / (dh as f64).sqrt();
            let (want, want_lse) = attention_f64(&q, &k, &v, b, h, l, dh, &lens, causal, scale);
            let t = |x: &Vec<f32>, d: &burn::tensor::Device| Tensor::<4>::from_data(TensorData::new(x.clone(), [b, h, l, dh]), d);
            let mask = AttentionMask { key_lens: Some(lens.clone()), causal };
            let (out, lse) = attention_wgpu(t(&q, &dev), t(&k, &dev), t(&v, &dev), &mask, scale);
            let what = format!("(batch {b}, heads {h}, len {l}, head dim {dh}), causal {causal}, lens {lens:?} (seed {s0})");
            let err = relative_error(&out.into_data().try_to_vec::<f32>().unwrap(), &want);
            assert!(err <= 1e-4, "{what}: out relative error {err:e}");
            let err = relative_error(&lse.into_data().try_to_vec::<f32>().unwrap(), &want_lse);
            assert!(err <= 1e-4, "{what}: lse relative error {err:e}");
            if l <= 77 {
                let r = attention_reference(t(&q, &cpu), t(&k, &cpu), t(&v, &cpu), &mask, scale);
                let err = relative_error(&r.into_data().try_to_vec::<f32>().unwrap(), &want);
                assert!(err <= 1e-4, "{what}: reference relative error {err:e}");
            }
        }
    }
}

#[test]
fn gradients_match_f64_through_autodiff() {
    let mut devices = vec![DeviceChoice::Cpu.device().unwrap()];
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() != Ok("1") {
        devices.push(DeviceChoice::Wgpu.device().unwrap());
    }
    for dev in devices {
        let ad = dev.clone().autodiff();
        for (b, h, l, dh) in [(1, 1, 1, 16), (2, 12, 3, 32), (3, 1, 77, 64), (2, 2, 130, 16), (1, 2, 512, 64), (2, 1, 1030, 16)] {
            for causal in [false, true] {
                let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
                let s0 = seed;
                let n = b * h * l * dh;
                let (q, k, v, w) = (rnd(n, &mut seed), rnd(n, &mut seed), rnd(n, &mut seed), rnd(n, &mut seed));
                let lens: Vec<usize> = (0..b).map(|s| if s == 0 { l } else { 1 + (rnd(1, &mut seed)[0].abs() * (l as f32 - 1.0)) as usize }).collect();
                let scale = 1.0 / (dh as f64).sqrt();
                let want = attention_grads_f64(&q, &k, &v, &w, b, h, l, dh, &lens, causal, scale);
                let t = |x: &Vec<f32>| Tensor::<4>::from_data(TensorData::new(x.clone(), [b, h, l, dh]), &ad);
                let (qt, kt, vt) = (t(&q).require_grad(), t(&k).require_grad(), t(&v).require_grad());
                let mask = AttentionMask { key_lens: Some(lens.clone()), causal };
                let out = rankmamba::ops::attention::attention(qt.clone(), kt.clone(), vt.clone(), &mask, scale);
                let grads = (out * t(&w)).sum().backward();
                for (name, g, wnt) in [("dq", qt.grad(&grads), &want[0]), ("dk", kt.grad(&grads), &want[1]), ("dv", vt.grad(&grads), &want[2])] {
                    let got = g.unwrap().into_data().try_to_vec::<f32>().unwrap();
                    // a single key makes dq and dk exactly zero: compare those absolutely
                    let norm = wnt.iter().map(|x| x * x).sum::<f64>().sqrt();
                    let err = if norm < 1e-6 {
                        got.iter().map(|x| (*x as f64).abs()).fold(0.0, f64::max)
                    } else {
                        relative_error(&got, wnt)
                    };
                    assert!(err <= 1e-4, "{dev:?} ({b}, {h}, {l}, {dh}) causal {causal} lens {lens:?}: {name} relative error {err:e} (seed {s0})");
                }
            }
        }
    }
}

/// q, k, v stored as f16 (read natively with shader-f16 here; packed u32 in the browser test):
/// against f64 on the same f16-rounded values, f32 accumulation.
#[test]
fn forward_reads_f16_inputs() {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return;
    }
    let dev = DeviceChoice::Wgpu.device().unwrap();
    for (b, h, l, dh, causal) in [(2, 3, 77, 64, false), (1, 2, 130, 32, true)] {
        let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
        let s0 = seed;
        let n = b * h * l * dh;
        let r16 = |v: Vec<f32>| v.into_iter().map(|x| half::f16::from_f32(x).to_f32()).collect::<Vec<f32>>();
        let (q, k, v) = (r16(rnd(n, &mut seed)), r16(rnd(n, &mut seed)), r16(rnd(n, &mut seed)));
        let lens = vec![l; b];
        let scale = 1.0 / (dh as f64).sqrt();
        let (want, _) = attention_f64(&q, &k, &v, b, h, l, dh, &lens, causal, scale);
        let t = |x: &Vec<f32>| {
            let h16: Vec<half::f16> = x.iter().map(|y| half::f16::from_f32(*y)).collect();
            Tensor::<4>::from_data(TensorData::new(h16, [b, h, l, dh]), (&dev, burn::tensor::DType::F16))
        };
        let mask = AttentionMask { key_lens: Some(lens), causal };
        let (out, _) = attention_wgpu(t(&q), t(&k), t(&v), &mask, scale);
        let err = relative_error(&out.into_data().try_to_vec::<f32>().unwrap(), &want);
        assert!(err <= 1e-4, "f16 ({b}, {h}, {l}, {dh}) causal {causal}: relative error {err:e} (seed {s0})");
    }
}
