//! Reference selective scan in burn tensor ops: exact on every backend, differentiable through
//! burn's autodiff, and the oracle for the WGSL kernels. Sequential over time and memory-lean:
//! only the (batch, d_inner, N) state is live, never the (batch, len, d_inner, N) tensor.

use super::ScanInputs;
use burn::tensor::activation::{silu, softplus};
use burn::tensor::Tensor;

/// Returns out (batch, len, d_inner); see [`ScanInputs`] for the math.
pub fn selective_scan_reference(x: ScanInputs) -> Tensor<3> {
    let ScanInputs { u, delta, delta_bias, a, b, c, d, z } = x;
    let [batch, len, d_inner] = u.dims();
    let n = a.dims()[1];
    let device = u.device();
    let delta = softplus(delta + delta_bias.unsqueeze::<3>(), 1.0);
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
    let y = y.add(u.mul(d));
    match z {
        Some(z) => y.mul(silu(z)),
        None => y,
    }
}

/// Host-side shapes and data of one scan, row-major f32, for the f64 oracle and for tests.
#[derive(Debug, Clone)]
pub struct HostScan {
    pub batch: usize,
    pub len: usize,
    pub d_inner: usize,
    pub n: usize,
    /// (batch, len, d_inner)
    pub u: Vec<f32>,
    /// (batch, len, d_inner), before bias and softplus
    pub delta: Vec<f32>,
    /// (d_inner)
    pub delta_bias: Vec<f32>,
    /// (d_inner, n), negative
    pub a: Vec<f32>,
    /// (batch, len, n)
    pub b: Vec<f32>,
    /// (batch, len, n)
    pub c: Vec<f32>,
    /// (d_inner)
    pub d: Vec<f32>,
    /// (batch, len, d_inner)
    pub z: Option<Vec<f32>>,
}

impl HostScan {
    /// Random inputs in the ranges a trained Mamba produces (Δ pre-activations around 0, A in
    /// [−4, −0.1]); `seed` makes a failure reproducible.
    pub fn random(batch: usize, len: usize, d_inner: usize, n: usize, with_z: bool, seed: u64) -> Self {
        let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
        let mut rnd = |k: usize, lo: f32, hi: f32| -> Vec<f32> {
            (0..k)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
                })
                .collect()
        };
        let (bl, ble) = (batch * len, batch * len * d_inner);
        HostScan {
            batch,
            len,
            d_inner,
            n,
            u: rnd(ble, -1.0, 1.0),
            delta: rnd(ble, -3.0, 1.0),
            delta_bias: rnd(d_inner, -1.0, 0.5),
            a: rnd(d_inner * n, -4.0, -0.1),
            b: rnd(bl * n, -1.0, 1.0),
            c: rnd(bl * n, -1.0, 1.0),
            d: rnd(d_inner, -1.0, 1.0),
            z: if with_z { Some(rnd(ble, -2.0, 2.0)) } else { None },
        }
    }

    /// Upload as burn tensors on `device`.
    pub fn to_inputs(&self, device: &burn::tensor::Device) -> ScanInputs {
        use burn::tensor::TensorData;
        let (bs, l, e, n) = (self.batch, self.len, self.d_inner, self.n);
        let t3 = |v: &Vec<f32>, s: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v.clone(), s), device);
        let t1 = |v: &Vec<f32>| Tensor::<1>::from_data(TensorData::new(v.clone(), [v.len()]), device);
        ScanInputs {
            u: t3(&self.u, [bs, l, e]),
            delta: t3(&self.delta, [bs, l, e]),
            delta_bias: t1(&self.delta_bias),
            a: Tensor::<2>::from_data(TensorData::new(self.a.clone(), [e, n]), device),
            b: t3(&self.b, [bs, l, n]),
            c: t3(&self.c, [bs, l, n]),
            d: t1(&self.d),
            z: self.z.as_ref().map(|z| t3(z, [bs, l, e])),
        }
    }

    /// The scan in f64 loops, the same math as [`ScanInputs`]: out (batch, len, d_inner).
    pub fn forward_f64(&self) -> Vec<f64> {
        let (bs, l, e, n) = (self.batch, self.len, self.d_inner, self.n);
        let mut y = vec![0f64; bs * l * e];
        let mut h = vec![0f64; n];
        for s in 0..bs {
            for ch in 0..e {
                h.iter_mut().for_each(|x| *x = 0.0);
                for t in 0..l {
                    let i = (s * l + t) * e + ch;
                    let ut = self.u[i] as f64;
                    let pre = self.delta[i] as f64 + self.delta_bias[ch] as f64;
                    let dt = if pre > 20.0 { pre } else { pre.exp().ln_1p() };
                    let mut acc = 0f64;
                    for k in 0..n {
                        let j = (s * l + t) * n + k;
                        h[k] = (dt * self.a[ch * n + k] as f64).exp() * h[k] + dt * self.b[j] as f64 * ut;
                        acc += self.c[j] as f64 * h[k];
                    }
                    let mut out = acc + self.d[ch] as f64 * ut;
                    if let Some(z) = &self.z {
                        let zt = z[i] as f64;
                        out *= zt / (1.0 + (-zt).exp());
                    }
                    y[i] = out;
                }
            }
        }
        y
    }
}

/// Gradients of a [`HostScan`] in f64, in the shapes of its fields.
#[derive(Debug, Clone)]
pub struct HostGrads {
    pub u: Vec<f64>,
    pub delta: Vec<f64>,
    pub delta_bias: Vec<f64>,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub c: Vec<f64>,
    pub d: Vec<f64>,
    pub z: Option<Vec<f64>>,
}

impl HostScan {
    /// Backward of [`HostScan::forward_f64`] for the output gradient `dout` (batch, len,
    /// d_inner), by the formulas of spec §6.4 with the full state history kept (small shapes).
    pub fn backward_f64(&self, dout: &[f32]) -> HostGrads {
        let (bs, l, e, n) = (self.batch, self.len, self.d_inner, self.n);
        let mut g = HostGrads {
            u: vec![0.0; bs * l * e],
            delta: vec![0.0; bs * l * e],
            delta_bias: vec![0.0; e],
            a: vec![0.0; e * n],
            b: vec![0.0; bs * l * n],
            c: vec![0.0; bs * l * n],
            d: vec![0.0; e],
            z: self.z.as_ref().map(|_| vec![0.0; bs * l * e]),
        };
        let mut hs = vec![0f64; (l + 1) * n]; // hs[t+1] = h_t, hs[0] = 0
        let mut dts = vec![0f64; l];
        for s in 0..bs {
            for ch in 0..e {
                let a = |k: usize| self.a[ch * n + k] as f64;
                for t in 0..l {
                    let i = (s * l + t) * e + ch;
                    let pre = self.delta[i] as f64 + self.delta_bias[ch] as f64;
                    let dt = if pre > 20.0 { pre } else { pre.exp().ln_1p() };
                    dts[t] = dt;
                    for k in 0..n {
                        let j = (s * l + t) * n + k;
                        hs[(t + 1) * n + k] = (dt * a(k)).exp() * hs[t * n + k] + dt * self.b[j] as f64 * self.u[i] as f64;
                    }
                }
                let mut ga = vec![0f64; n];
                for t in (0..l).rev() {
                    let i = (s * l + t) * e + ch;
                    let (ut, dt) = (self.u[i] as f64, dts[t]);
                    let pre = self.delta[i] as f64 + self.delta_bias[ch] as f64;
                    let mut y = self.d[ch] as f64 * ut;
                    for k in 0..n {
                        y += self.c[(s * l + t) * n + k] as f64 * hs[(t + 1) * n + k];
                    }
                    let go = dout[i] as f64;
                    let dy = match &self.z {
                        Some(z) => {
                            let zt = z[i] as f64;
                            let sz = 1.0 / (1.0 + (-zt).exp());
                            g.z.as_mut().unwrap()[i] = go * y * sz * (1.0 + zt * (1.0 - sz));
                            go * zt * sz
                        }
                        None => go,
                    };
                    let mut du = self.d[ch] as f64 * dy;
                    let mut ddt = 0.0;
                    for k in 0..n {
                        let j = (s * l + t) * n + k;
                        let at = (dt * a(k)).exp();
                        let hp = hs[t * n + k];
                        let gk = self.c[j] as f64 * dy + ga[k];
                        du += gk * dt * self.b[j] as f64;
                        ddt += gk * (self.b[j] as f64 * ut + a(k) * at * hp);
                        g.a[ch * n + k] += gk * dt * at * hp;
                        g.b[j] += gk * dt * ut;
                        g.c[j] += dy * hs[(t + 1) * n + k];
                        ga[k] = at * gk;
                    }
                    let sig = if pre > 20.0 { 1.0 } else { 1.0 / (1.0 + (-pre).exp()) };
                    g.u[i] = du;
                    g.delta[i] = ddt * sig;
                    g.delta_bias[ch] += ddt * sig;
                    g.d[ch] += dy * ut;
                }
            }
        }
        g
    }
}

/// ‖got − want‖ / ‖want‖.
pub fn relative_error(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let num: f64 = got.iter().zip(want).map(|(g, w)| (*g as f64 - w).powi(2)).sum::<f64>().sqrt();
    let den: f64 = want.iter().map(|w| w * w).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    if got.iter().any(|g| !g.is_finite()) {
        return f64::INFINITY;
    }
    num / den
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn matches_f64_loops() {
        for (bs, l, e, n, z) in [(3, 7, 5, 4, false), (2, 13, 6, 3, true), (1, 1, 1, 1, true)] {
            let host = HostScan::random(bs, l, e, n, z, 7 + l as u64);
            let got = selective_scan_reference(host.to_inputs(&Device::flex())).into_data().try_to_vec::<f32>().unwrap();
            let err = relative_error(&got, &host.forward_f64());
            assert!(err < 1e-5, "({bs}, {l}, {e}, {n}, z {z}): relative error {err}");
        }
    }
}
