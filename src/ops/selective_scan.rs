//! Selective scan (Mamba-1, §6.1 of the spec), reference implementation in burn tensor ops.
//!
//! h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·B_t·u_t   (ZOH for A, Euler for B; h_{−1} = 0, f32)
//! y_t = C_t·h_t + D ⊙ u_t
//!
//! Sequential over time and memory-lean: only the (batch, d_inner, N) state is live, never the
//! (batch, len, d_inner, N) tensor. Slow, but exact on every backend; it is the oracle for the
//! WGSL kernels.

use burn::tensor::Tensor;

/// Inputs of one scan. Shapes: `u`, `delta` (batch, len, d_inner) with Δ already
/// softplus'd; `a` (d_inner, N), strictly negative; `b`, `c` (batch, len, N), shared by all
/// channels; `d` (d_inner).
pub struct ScanInputs {
    pub u: Tensor<3>,
    pub delta: Tensor<3>,
    pub a: Tensor<2>,
    pub b: Tensor<3>,
    pub c: Tensor<3>,
    pub d: Tensor<1>,
}

/// Returns y (batch, len, d_inner).
pub fn selective_scan_reference(x: ScanInputs) -> Tensor<3> {
    let ScanInputs { u, delta, a, b, c, d } = x;
    let [batch, len, d_inner] = u.dims();
    let n = a.dims()[1];
    let device = u.device();
    let a: Tensor<3> = a.unsqueeze_dim(0); // (1, E, N)
    let delta_u = delta.clone().mul(u.clone()); // (B, L, E)
    let mut h = Tensor::<3>::zeros([batch, d_inner, n], &device);
    let mut ys = Vec::with_capacity(len);
    for t in 0..len {
        let dt = delta.clone().narrow(1, t, 1).swap_dims(1, 2); // (B, E, 1)
        let decay = dt.mul(a.clone()).exp(); // (B, E, N)
        let bt = b.clone().narrow(1, t, 1); // (B, 1, N)
        let dut = delta_u.clone().narrow(1, t, 1).swap_dims(1, 2); // (B, E, 1)
        h = decay.mul(h).add(dut.mul(bt));
        let ct = c.clone().narrow(1, t, 1).swap_dims(1, 2); // (B, N, 1)
        ys.push(h.clone().matmul(ct)); // (B, E, 1)
    }
    let y = Tensor::cat(ys, 2).swap_dims(1, 2); // (B, L, E)
    let d: Tensor<3> = d.unsqueeze();
    y.add(u.mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// Plain f64 scan, the same math written with loops.
    fn scan_f64(u: &[f32], dl: &[f32], a: &[f32], b: &[f32], c: &[f32], d: &[f32], bs: usize, l: usize, e: usize, n: usize) -> Vec<f64> {
        let mut y = vec![0f64; bs * l * e];
        for s in 0..bs {
            for ch in 0..e {
                let mut h = vec![0f64; n];
                for t in 0..l {
                    let i = (s * l + t) * e + ch;
                    let (ut, dt) = (u[i] as f64, dl[i] as f64);
                    let mut acc = 0f64;
                    for k in 0..n {
                        let bt = b[(s * l + t) * n + k] as f64;
                        let ct = c[(s * l + t) * n + k] as f64;
                        h[k] = (dt * a[ch * n + k] as f64).exp() * h[k] + dt * bt * ut;
                        acc += ct * h[k];
                    }
                    y[i] = acc + d[ch] as f64 * ut;
                }
            }
        }
        y
    }

    #[test]
    fn matches_f64_loops() {
        let (bs, l, e, n) = (3, 7, 5, 4);
        let mut seed = 0x2545F491u64;
        let mut rnd = |k: usize, lo: f32, hi: f32| -> Vec<f32> {
            (0..k)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    lo + (hi - lo) * ((seed >> 40) as f32 / (1u64 << 24) as f32)
                })
                .collect()
        };
        let u = rnd(bs * l * e, -1.0, 1.0);
        let dl = rnd(bs * l * e, 0.01, 1.0);
        let a = rnd(e * n, -3.0, -0.1);
        let b = rnd(bs * l * n, -1.0, 1.0);
        let c = rnd(bs * l * n, -1.0, 1.0);
        let d = rnd(e, -1.0, 1.0);
        let dev = Device::flex();
        let t3 = |v: &Vec<f32>, s: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v.clone(), s), &dev);
        let y = selective_scan_reference(ScanInputs {
            u: t3(&u, [bs, l, e]),
            delta: t3(&dl, [bs, l, e]),
            a: Tensor::<2>::from_data(TensorData::new(a.clone(), [e, n]), &dev),
            b: t3(&b, [bs, l, n]),
            c: t3(&c, [bs, l, n]),
            d: Tensor::<1>::from_data(TensorData::new(d.clone(), [e]), &dev),
        });
        let got = y.into_data().try_to_vec::<f32>().unwrap();
        let want = scan_f64(&u, &dl, &a, &b, &c, &d, bs, l, e, n);
        let num: f64 = got.iter().zip(&want).map(|(g, w)| (*g as f64 - w).powi(2)).sum::<f64>().sqrt();
        let den: f64 = want.iter().map(|w| w * w).sum::<f64>().sqrt();
        assert!(num / den < 1e-5, "relative error {}", num / den);
    }
}
