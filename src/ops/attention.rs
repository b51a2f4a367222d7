//! Scaled dot-product attention with padding and causal masks: fused WGSL kernels
//! (`shaders/attention.wgsl` forward, `shaders/attention_backward.wgsl` backward from the saved
//! log-sum-exp; flash-attention style, the score matrix never reaches device memory) on burn's
//! wgpu backend, registered with burn's autodiff; the reference in burn tensor ops elsewhere.

use crate::ops::kernel::{arguments, client_of, cube, is_wgsl_device, kernel_id, plain};
use crate::ops::InputFormat;
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::activation::softmax;
use burn::tensor::{DType, Shape, Tensor, TensorData};

const ATTENTION_WGSL: &str = include_str!("../../shaders/attention.wgsl");
const ATTENTION_BACKWARD_WGSL: &str = include_str!("../../shaders/attention_backward.wgsl");

/// Which keys each query may see.
#[derive(Debug, Clone, Default)]
pub struct AttentionMask {
    /// Real length of each sequence of the batch: keys at or past it are padding. `None`: all.
    pub key_lens: Option<Vec<usize>>,
    /// Keys after the query are hidden (decoders).
    pub causal: bool,
}

/// softmax(q·kᵀ·scale + mask)·v for q (batch, heads, len_q, head_dim), k, v (batch, heads,
/// len_k, head_dim), on the best path for the device.
pub fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: &AttentionMask, scale: f64) -> Tensor<4> {
    let device = q.device();
    let dh = q.dims()[3];
    use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
    use burn::backend::GradientCheckpointingStrategy as Strategy;
    if !is_wgsl_device(&device) || !kernel_head_dim(dh) {
        return attention_reference(q, k, v, mask, scale);
    }
    match device.gradient_checkpointing_strategy() {
        None => attention_wgpu(q, k, v, mask, scale).0,
        Some(Strategy::Balanced) => autodiff::attention_autodiff::<BalancedCheckpointing>(q, k, v, mask, scale),
        Some(_) => autodiff::attention_autodiff::<NoCheckpointing>(q, k, v, mask, scale),
    }
}

/// Head dims the kernel takes: multiples of 4 (vec4 rows) up to 128.
pub fn kernel_head_dim(dh: usize) -> bool {
    dh > 0 && dh <= 128 && dh % 4 == 0
}

/// The reference: the additive mask (0 or the f32 minimum, as transformers) materialised.
pub fn attention_reference(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: &AttentionMask, scale: f64) -> Tensor<4> {
    let [b, _, lq, _] = q.dims();
    let lk = k.dims()[2];
    let device = q.device();
    let lens = mask.key_lens.clone().unwrap_or_else(|| vec![lk; b]);
    let add: Vec<f32> = (0..b)
        .flat_map(|s| {
            let (n, causal) = (lens[s], mask.causal);
            (0..lq).flat_map(move |i| (0..lk).map(move |j| if j < n && (!causal || j <= i) { 0.0 } else { f32::MIN }))
        })
        .collect();
    let add = Tensor::<4>::from_data(TensorData::new(add, [b, 1, lq, lk]), &device);
    let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale) + add;
    softmax(scores, 3).matmul(v)
}

#[derive(Debug)]
struct BackwardKernel {
    workgroup: u32,
    dh: u32,
    t: u32,
    causal: bool,
    mode: u32,
}

impl KernelSource for BackwardKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(ATTENTION_BACKWARD_WGSL)
            .register("wg", self.workgroup.to_string())
            .register("dh", self.dh.to_string())
            .register("t", self.t.to_string())
            .register("causal", self.causal.to_string())
            .register("mode", self.mode.to_string())
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.workgroup, self.dh, self.t, self.causal, self.mode))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

#[derive(Debug)]
struct AttentionKernel {
    workgroup: u32,
    dh: u32,
    kt: u32,
    causal: bool,
    format: InputFormat,
}

impl KernelSource for AttentionKernel {
    fn source(&self) -> SourceTemplate {
        self.format
            .register_vec4(SourceTemplate::new(ATTENTION_WGSL), &["q", "k", "v"])
            .register("wg", self.workgroup.to_string())
            .register("dh", self.dh.to_string())
            .register("kt", self.kt.to_string())
            .register("causal", self.causal.to_string())
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.workgroup, self.dh, self.kt, self.causal, self.format))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Query rows per workgroup and key rows per tile, from the device limits and the head dim:
/// two (KT, DH) f32 tiles must fit half the workgroup memory.
pub fn attention_plan(dh: usize, max_units: u32, max_shared: usize) -> (u32, u32) {
    let wg = 64u32.min(max_units.max(1));
    let kt = (max_shared / 2 / (2 * dh.max(1) * 4)).clamp(1, 32) as u32;
    (wg, kt)
}

fn lens_tensor(mask: &AttentionMask, b: usize, lk: usize, device: &burn::tensor::Device) -> Tensor<1> {
    let lens: Vec<f32> = mask.key_lens.clone().unwrap_or_else(|| vec![lk; b]).iter().map(|&n| n.min(lk) as f32).collect();
    Tensor::<1>::from_data(TensorData::new(lens, [b]), device)
}

fn params(h: usize, lq: usize, lk: usize, scale: f64) -> [u32; 4] {
    [h as u32, lq as u32, lk as u32, (scale as f32).to_bits()]
}

/// The WGSL backward: (dq, dk, dv) from the forward's inputs, output and log-sum-exp.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_wgpu(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    out: Tensor<4>,
    lse: Tensor<3>,
    dout: Tensor<4>,
    mask: &AttentionMask,
    scale: f64,
) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
    let [b, h, lq, dh] = q.dims();
    let lk = k.dims()[2];
    let device = q.device();
    let d = (dout.clone() * out).sum_dim(3).reshape([b, h, lq]); // D_i = Σ dout_i·out_i
    let stats = Tensor::cat(vec![lse.reshape([b * h * lq]), d.reshape([b * h * lq])], 0);
    let lens = lens_tensor(mask, b, lk, &device);
    let client = client_of(&device);
    let props = client.properties();
    let (wg, t) = attention_plan(dh, props.hardware.max_units_per_cube, props.hardware.max_shared_memory_size);
    let dq = Tensor::<4>::zeros([b, h, lq, dh], &device);
    let dk = Tensor::<4>::zeros([b, h, lk, dh], &device);
    let dv = Tensor::<4>::zeros([b, h, lk, dh], &device);
    let dummy = Tensor::<1>::zeros([4], &device);
    let (q, k, v, lens, dout, stats) = (cube(q), cube(k), cube(v), cube(lens), cube(dout), cube(stats));
    let (dq, dk, dv, dummy) = (cube(dq), cube(dk), cube(dv), cube(dummy));
    if b * h * lq * lk > 0 {
        for (mode, rows, g0, g1) in [(0u32, lq, &dq, &dummy), (1, lk, &dk, &dv)] {
            let args = arguments(&[&q, &k, &v, &lens, &dout, &stats, g0, g1], &params(h, lq, lk, scale));
            let kernel = BackwardKernel { workgroup: wg, dh: dh as u32, t, causal: mask.causal, mode };
            let count = CubeCount::Static((rows as u32).div_ceil(wg), (b * h) as u32, 1);
            client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(wg))), count, args);
        }
    }
    (plain(dq), plain(dk), plain(dv))
}

/// The WGSL forward: (out, log-sum-exp (batch, heads, len_q)), both f32. q, k, v are f32 or
/// all f16 (read natively with `shader-f16`, else packed). `head_dim` must pass
/// [`kernel_head_dim`].
pub fn attention_wgpu(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: &AttentionMask, scale: f64) -> (Tensor<4>, Tensor<3>) {
    let [b, h, lq, dh] = q.dims();
    let lk = k.dims()[2];
    let device = q.device();
    let lens = lens_tensor(mask, b, lk, &device);
    let client = client_of(&device);
    let props = client.properties();
    let (wg, kt) = attention_plan(dh, props.hardware.max_units_per_cube, props.hardware.max_shared_memory_size);
    let format = if q.dtype() == DType::F16 { InputFormat::for_f16() } else { InputFormat::F32 };
    let dtype = if format == InputFormat::F32 { DType::F32 } else { DType::F16 };
    let as_dtype = |t: Tensor<4>| if t.dtype() == dtype { t } else { t.cast(dtype) };
    let (q, k, v, lens) = (cube(as_dtype(q)), cube(as_dtype(k)), cube(as_dtype(v)), cube(lens));
    let cube_dev = q.device.clone();
    let out = CubeTensor::new_contiguous(client.clone(), cube_dev.clone(), Shape::new([b, h, lq, dh]), client.empty((b * h * lq * dh).max(1) * 4), DType::F32);
    let lse = CubeTensor::new_contiguous(client.clone(), cube_dev, Shape::new([b, h, lq]), client.empty((b * h * lq).max(1) * 4), DType::F32);
    if b * h * lq > 0 {
        let args = arguments(&[&q, &k, &v, &lens, &out, &lse], &params(h, lq, lk, scale));
        let kernel = AttentionKernel { workgroup: wg, dh: dh as u32, kt, causal: mask.causal, format };
        let count = CubeCount::Static((lq as u32).div_ceil(wg), (b * h) as u32, 1);
        client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(wg))), count, args);
    }
    (plain(out), plain(lse))
}

/// The f64 oracle: (out, lse) for row-major (batch, heads, len, head_dim) inputs of equal
/// query and key length, `lens` real keys per sequence.
#[allow(clippy::too_many_arguments)]
pub fn attention_f64(q: &[f32], k: &[f32], v: &[f32], b: usize, h: usize, l: usize, dh: usize, lens: &[usize], causal: bool, scale: f64) -> (Vec<f64>, Vec<f64>) {
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

/// The f64 oracle of the backward: (dq, dk, dv) of Σ out ⊙ w.
#[allow(clippy::too_many_arguments)]
pub fn attention_grads_f64(q: &[f32], k: &[f32], v: &[f32], w: &[f32], b: usize, h: usize, l: usize, dh: usize, lens: &[usize], causal: bool, scale: f64) -> [Vec<f64>; 3] {
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

mod autodiff {
    //! The fused attention under burn's autodiff: forward keeps (q, k, v, out, lse), the
    //! registered backward runs `attention_backward.wgsl`.
    use super::{attention_backward_wgpu, attention_wgpu, AttentionMask};
    use crate::ops::kernel::{plain, raw};
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::wgpu::{CubeBackend, CubeTensor};
    use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor};
    use burn::tensor::Tensor;

    #[derive(Debug, Clone)]
    struct Saved {
        q: CubeTensor,
        k: CubeTensor,
        v: CubeTensor,
        out: CubeTensor,
        lse: CubeTensor,
        mask: AttentionMask,
        scale: f64,
    }

    #[derive(Debug)]
    struct AttentionBackward;


    impl Backward<CubeBackend, 3> for AttentionBackward {
        type State = Saved;
        fn backward(self, ops: Ops<Saved, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let dout = plain::<4>(grads.consume::<CubeBackend>(&ops.node));
            let s = ops.state;
            let (dq, dk, dv) = attention_backward_wgpu(plain(s.q), plain(s.k), plain(s.v), plain(s.out), plain(s.lse), dout, &s.mask, s.scale);
            for (parent, g) in ops.parents.into_iter().zip([raw(dq), raw(dk), raw(dv)]) {
                if let Some(node) = parent {
                    grads.register::<CubeBackend>(node.id, g);
                }
            }
        }
    }

    pub fn attention_autodiff<C: CheckpointStrategy>(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: &AttentionMask, scale: f64) -> Tensor<4>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<CubeBackend, C>>,
    {
        type Ad<C> = Autodiff<CubeBackend, C>;
        let q = q.try_into_primitive::<Ad<C>>().expect("q on the autodiff device");
        let k = k.try_into_primitive::<Ad<C>>().expect("k on the autodiff device");
        let v = v.try_into_primitive::<Ad<C>>().expect("v on the autodiff device");
        let guards = [q.node(), k.node(), v.node()];
        let (q, k, v) = (q.into_primitive(), k.into_primitive(), v.into_primitive());
        let (out, lse) = attention_wgpu(plain(q.clone()), plain(k.clone()), plain(v.clone()), mask, scale);
        let out = raw(out);
        let res = match AttentionBackward.prepare::<C>(guards).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let saved = Saved { q, k, v, out: out.clone(), lse: raw(lse), mask: mask.clone(), scale };
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        Tensor::<4>::from_primitive::<Ad<C>>(res)
    }
}
