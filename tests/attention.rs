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
