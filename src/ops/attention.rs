//! Scaled dot-product attention with padding and causal masks: a fused WGSL kernel
//! (`shaders/attention.wgsl`, flash-attention style: the score matrix never reaches device
//! memory) on burn's wgpu backend, and the reference in burn tensor ops elsewhere (and under
//! autodiff, where burn differentiates it).

use burn::backend::wgpu::{into_contiguous, CubeBackend, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::backend::DispatchDevice;
use burn::cubecl::prelude::{CubeCount, ExecutionMode, KernelId};
use burn::cubecl::server::{KernelArguments, MetadataBindingInfo};
use burn::tensor::activation::softmax;
use burn::tensor::{DType, Shape, Tensor, TensorData};

const ATTENTION_WGSL: &str = include_str!("../../shaders/attention.wgsl");

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
    if crate::ops::selective_scan::wgpu::is_wgsl_device(&device) && !device.is_autodiff() && kernel_head_dim(dh) {
        return attention_wgpu(q, k, v, mask, scale).0;
    }
    attention_reference(q, k, v, mask, scale)
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
struct AttentionKernel {
    workgroup: u32,
    dh: u32,
    kt: u32,
    causal: bool,
}

impl KernelSource for AttentionKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(ATTENTION_WGSL)
            .register("wg", self.workgroup.to_string())
            .register("dh", self.dh.to_string())
            .register("kt", self.kt.to_string())
            .register("causal", self.causal.to_string())
    }
    fn id(&self) -> KernelId {
        KernelId::new::<Self>().mode(ExecutionMode::Unchecked).info((self.workgroup, self.dh, self.kt, self.causal))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

fn cube<const D: usize>(t: Tensor<D>) -> CubeTensor {
    into_contiguous(t.try_into_primitive::<CubeBackend>().expect("a float tensor of burn's wgpu backend"))
}

/// Query rows per workgroup and key rows per tile, from the device limits and the head dim:
/// two (KT, DH) f32 tiles must fit half the workgroup memory.
pub fn attention_plan(dh: usize, max_units: u32, max_shared: usize) -> (u32, u32) {
    let wg = 64u32.min(max_units.max(1));
    let kt = (max_shared / 2 / (2 * dh.max(1) * 4)).clamp(1, 32) as u32;
    (wg, kt)
}

/// The WGSL forward: (out, log-sum-exp (batch, heads, len_q)). `head_dim` must pass
/// [`kernel_head_dim`].
pub fn attention_wgpu(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: &AttentionMask, scale: f64) -> (Tensor<4>, Tensor<3>) {
    let [b, h, lq, dh] = q.dims();
    let lk = k.dims()[2];
    let device = q.device();
    let lens: Vec<f32> = mask.key_lens.clone().unwrap_or_else(|| vec![lk; b]).iter().map(|&n| n.min(lk) as f32).collect();
    let lens = Tensor::<1>::from_data(TensorData::new(lens, [b]), &device);
    let client = match device.as_dispatch().clone().inner() {
        DispatchDevice::Cube(cd) => cd.client(),
        _ => unreachable!("attention_wgpu on a wgpu device"),
    };
    let props = client.properties();
    let (wg, kt) = attention_plan(dh, props.hardware.max_units_per_cube, props.hardware.max_shared_memory_size);
    let (q, k, v, lens) = (cube(q), cube(k), cube(v), cube(lens));
    let cube_dev = q.device.clone();
    let out = CubeTensor::new_contiguous(client.clone(), cube_dev.clone(), Shape::new([b, h, lq, dh]), client.empty((b * h * lq * dh).max(1) * 4), DType::F32);
    let lse = CubeTensor::new_contiguous(client.clone(), cube_dev, Shape::new([b, h, lq]), client.empty((b * h * lq).max(1) * 4), DType::F32);
    if b * h * lq > 0 {
        let words = [h as u32, lq as u32, lk as u32, (scale as f32).to_bits()];
        let info = MetadataBindingInfo::custom(vec![words[0] as u64 | (words[1] as u64) << 32, words[2] as u64 | (words[3] as u64) << 32]);
        let args = [&q, &k, &v, &lens, &out, &lse]
            .iter()
            .fold(KernelArguments::new(), |a, t| a.with_buffer(t.handle.clone().binding()))
            .with_info(info);
        let kernel = AttentionKernel { workgroup: wg, dh: dh as u32, kt, causal: mask.causal };
        let count = CubeCount::Static((lq as u32).div_ceil(wg), (b * h) as u32, 1);
        client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(wg))), count, args);
    }
    (Tensor::from_primitive::<CubeBackend>(out), Tensor::from_primitive::<CubeBackend>(lse))
}
