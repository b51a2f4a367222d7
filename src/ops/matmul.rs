//! A tensor-core matmul in hand-written WGSL (`shaders/matmul_coop.wgsl`): f16 inputs, f32
//! accumulation, on wgpu's experimental cooperative matrices. burn's own WGSL matmul cannot reach
//! the tensor cores; this kernel runs on the same wgpu device as the scan and attention kernels.
//! `train --precision mixed` runs the linear layers through it where their sizes fit
//! (`ops::linear`, BENCHMARKS.md §5).

use crate::error::{Error, Result};
use crate::ops::kernel::{arguments, client_of, cube, empty_f32, is_wgsl_device, kernel_id, plain};
use burn::backend::wgpu::{CubeDim, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::{DType, Device, Tensor};

const MATMUL_COOP_WGSL: &str = include_str!("../../shaders/matmul_coop.wgsl");

/// Rows and columns of C one workgroup computes (four subgroups of 4 × 4 tiles of 16 × 16), and
/// the K slice staged in workgroup memory per step.
pub(crate) const BLOCK_M: usize = 128;
pub(crate) const BLOCK_N: usize = 128;
pub(crate) const STEP_K: usize = 64;

/// Whether `device` runs the kernel: WGSL on wgpu with cooperative matrices, f16 storage and
/// subgroups.
pub fn coop_matmul_available(device: &Device) -> bool {
    is_wgsl_device(device) && crate::device::wgpu_has_shader_f16() && crate::device::wgpu_has_cooperative_matrix() && crate::device::wgpu_has_subgroups()
}

#[derive(Debug)]
struct CoopKernel {
    subgroup: u32,
}

impl KernelSource for CoopKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(MATMUL_COOP_WGSL).register("sg", self.subgroup.to_string())
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info(self.subgroup)
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `a · b` for `a` (m, k) and `b` (k, n), both cast to f16, accumulated in f32; m and n
/// multiples of 128, k of 64.
pub fn matmul_coop(a: Tensor<2>, b: Tensor<2>) -> Result<Tensor<2>> {
    let device = a.device();
    if !coop_matmul_available(&device) {
        return Err(Error::Backend("this adapter has no cooperative matrices with f16 (wgpu EXPERIMENTAL_COOPERATIVE_MATRIX)".into()));
    }
    let ([m, k], [k2, n]) = (a.dims(), b.dims());
    if k != k2 || m % BLOCK_M != 0 || n % BLOCK_N != 0 || k % STEP_K != 0 {
        return Err(Error::Input(format!("matmul_coop: ({m}, {k}) · ({k2}, {n}) needs equal inner sizes, m % {BLOCK_M}, n % {BLOCK_N}, k % {STEP_K} = 0")));
    }
    let client = client_of(&device);
    // four subgroups per workgroup; the shader needs every subgroup full, so the adapter's one
    // subgroup size (NVIDIA: 32)
    let props = client.properties();
    let (sg, sg_min) = (props.hardware.plane_size_max.max(1), props.hardware.plane_size_min.max(1));
    if sg != sg_min {
        return Err(Error::Backend(format!("matmul_coop: subgroup size varies on this adapter ({sg_min}..{sg})")));
    }
    let f16 = |t: Tensor<2>| if t.dtype() == DType::F16 { t } else { t.cast(DType::F16) };
    let (a, b) = (cube(f16(a)), cube(f16(b)));
    let out = empty_f32(&a, &[m, n]);
    let args = arguments(&[&a, &b, &out], &[m as u32, n as u32, k as u32, 0]);
    let count = CubeCount::Static((n / BLOCK_N) as u32, (m / BLOCK_M) as u32, 1);
    client.launch(Box::new(SourceKernel::new(CoopKernel { subgroup: sg }, CubeDim::new_1d(4 * sg))), count, args);
    Ok(plain(out))
}
