//! The WGSL attention kernel against a float64 oracle: fresh random inputs each run (seed
//! printed on failure), lengths and head dims that are not multiples of the tiles, padding and
//! causal masks.

use burn::tensor::{Tensor, TensorData};
use rankmamba::ops::attention::{attention_reference, attention_wgpu, AttentionMask};
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

/// out and lse in f64 loops.
fn oracle(q: &[f32], k: &[f32], v: &[f32], b: usize, h: usize, l: usize, dh: usize, lens: &[usize], causal: bool, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0f64; b * h * l * dh];
    let mut lse = vec![0f64; b * h * l];
    for s in 0..b {
        for hh in 0..h {
            let base = (s * h + hh) * l;
            for i in 0..l {
                let keys: Vec<usize> = (0..lens[s]).filter(|&j| !causal || j <= i).collect();
                let sc: Vec<f64> = keys
                    .iter()
                    .map(|&j| (0..dh).map(|d| q[(base + i) * dh + d] as f64 * k[(base + j) * dh + d] as f64).sum::<f64>() * scale)
                    .collect();
                let m = sc.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = sc.iter().map(|x| (x - m).exp()).sum();
                for (x, &j) in sc.iter().zip(&keys) {
                    let p = (x - m).exp() / z;
                    for d in 0..dh {
                        out[(base + i) * dh + d] += p * v[(base + j) * dh + d] as f64;
                    }
                }
                lse[base + i] = m + z.ln();
            }
        }
    }
    (out, lse)
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
            let (want, want_lse) = oracle(&q, &k, &v, b, h, l, dh, &lens, causal, scale);
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

/// Gradients of Σ out ⊙ w in f64: (dq, dk, dv).
#[allow(clippy::too_many_arguments)]
fn oracle_grads(q: &[f32], k: &[f32], v: &[f32], w: &[f32], b: usize, h: usize, l: usize, dh: usize, lens: &[usize], causal: bool, scale: f64) -> [Vec<f64>; 3] {
    let (mut dq, mut dk, mut dv) = (vec![0f64; q.len()], vec![0f64; k.len()], vec![0f64; v.len()]);
    for s in 0..b {
        for hh in 0..h {
            let base = (s * h + hh) * l;
            let at = |x: &[f32], r: usize, d: usize| x[(base + r) * dh + d] as f64;
            for i in 0..l {
                let keys: Vec<usize> = (0..lens[s]).filter(|&j| !causal || j <= i).collect();
                let sc: Vec<f64> = keys.iter().map(|&j| (0..dh).map(|d| at(q, i, d) * at(k, j, d)).sum::<f64>() * scale).collect();
                let m = sc.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = sc.iter().map(|x| (x - m).exp()).sum();
                let p: Vec<f64> = sc.iter().map(|x| (x - m).exp() / z).collect();
                let dp: Vec<f64> = keys.iter().map(|&j| (0..dh).map(|d| at(w, i, d) * at(v, j, d)).sum()).collect();
                let dsum: f64 = p.iter().zip(&dp).map(|(a, b)| a * b).sum();
                for (n, &j) in keys.iter().enumerate() {
                    let ds = p[n] * (dp[n] - dsum);
                    for d in 0..dh {
                        dq[(base + i) * dh + d] += ds * at(k, j, d) * scale;
                        dk[(base + j) * dh + d] += ds * at(q, i, d) * scale;
                        dv[(base + j) * dh + d] += p[n] * at(w, i, d);
                    }
                }
            }
        }
    }
    [dq, dk, dv]
}

#[test]
fn gradients_match_f64_through_autodiff() {
    let mut devices = vec![DeviceChoice::Cpu.device().unwrap()];
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() != Ok("1") {
        devices.push(DeviceChoice::Wgpu.device().unwrap());
    }
    for dev in devices {
        let ad = dev.clone().autodiff();
        for (b, h, l, dh) in [(1, 1, 1, 16), (2, 12, 3, 32), (3, 1, 77, 64), (2, 2, 130, 16)] {
            for causal in [false, true] {
                let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
                let s0 = seed;
                let n = b * h * l * dh;
                let (q, k, v, w) = (rnd(n, &mut seed), rnd(n, &mut seed), rnd(n, &mut seed), rnd(n, &mut seed));
                let lens: Vec<usize> = (0..b).map(|s| if s == 0 { l } else { 1 + (rnd(1, &mut seed)[0].abs() * (l as f32 - 1.0)) as usize }).collect();
                let scale = 1.0 / (dh as f64).sqrt();
                let want = oracle_grads(&q, &k, &v, &w, b, h, l, dh, &lens, causal, scale);
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
