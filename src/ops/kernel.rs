//! Plumbing shared by the hand-written WGSL kernels: reaching burn's wgpu runtime under a
//! `Tensor`, launch arguments, kernel ids.

use burn::backend::wgpu::{into_contiguous, CubeBackend, CubeTensor};
use burn::backend::{CubeDevice, DispatchDevice};
use burn::cubecl::client::Client;
use burn::cubecl::prelude::{ExecutionMode, KernelId};
use burn::cubecl::server::{KernelArguments, MetadataBindingInfo};
use burn::tensor::{DType, Device, Int, Shape, Tensor};

/// True when `device` is burn's wgpu runtime compiling WGSL (the only compiler that accepts
/// hand-written WGSL; burn's `vulkan`/`metal` features would switch it to SPIR-V/MSL).
pub fn is_wgsl_device(device: &Device) -> bool {
    match device.as_dispatch().clone().inner() {
        DispatchDevice::Cube(cd @ CubeDevice::Wgpu(_)) => cd.client().name().contains("wgsl"),
        _ => false,
    }
}

/// The cubecl client of a wgpu device (callers check [`is_wgsl_device`] first).
pub(crate) fn client_of(device: &Device) -> Client {
    match device.as_dispatch().clone().inner() {
        DispatchDevice::Cube(cd) => cd.client(),
        _ => unreachable!("WGSL kernels run on wgpu devices"),
    }
}

/// The largest storage binding the device takes (burn's wgpu runtime); 1 GiB elsewhere.
pub fn max_binding_bytes(device: &Device) -> usize {
    if is_wgsl_device(device) {
        return client_of(device).properties().memory.max_page_size as usize;
    }
    1 << 30
}

/// Unchecked: the shaders guard every index themselves, and checked mode makes naga add a
/// loop-bounding counter to every loop, which also stops the driver unrolling the state loops.
pub(crate) fn kernel_id<K: 'static>() -> KernelId {
    KernelId::new::<K>().mode(ExecutionMode::Unchecked)
}

/// Whether the scan's forward loads the next step's inputs a step ahead; `RANKMAMBA_NO_PREFETCH=1`,
/// a benchmark knob, has each step load its own (as before the prefetch). The same prefetch in the
/// backward's recompute and the causal conv's backward lost on the H200 (BENCHMARKS.md §5).
pub(crate) fn prefetch() -> bool {
    static KNOB: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KNOB.get_or_init(|| std::env::var("RANKMAMBA_NO_PREFETCH").as_deref() != Ok("1"))
}

/// Pack u32 parameters two per u64 info word (little-endian), padded to 16 bytes for a
/// `var<uniform>` struct.
pub(crate) fn info(words: &[u32]) -> MetadataBindingInfo {
    let mut v: Vec<u64> = words.chunks(2).map(|p| p[0] as u64 | (p.get(1).copied().unwrap_or(0) as u64) << 32).collect();
    while v.len() % 2 != 0 {
        v.push(0);
    }
    MetadataBindingInfo::custom(v)
}

/// Bindings in declaration order (`@binding(0)`, `@binding(1)`, ...), then the parameters as
/// the last, uniform binding.
pub(crate) fn arguments(buffers: &[&CubeTensor], params: &[u32]) -> KernelArguments {
    buffers.iter().fold(KernelArguments::new(), |args, t| args.with_buffer(t.handle.clone().binding())).with_info(info(params))
}

/// A fresh contiguous f32 tensor of `shape` on `like`'s device, its contents unset (the kernel
/// writes it).
pub(crate) fn empty_f32(like: &CubeTensor, shape: &[usize]) -> CubeTensor {
    empty(like, shape, DType::F32)
}

/// [`empty_f32`] in `dtype` (f32 or f16: the kernels that write f16 for the tensor cores).
pub(crate) fn empty(like: &CubeTensor, shape: &[usize], dtype: DType) -> CubeTensor {
    let n: usize = shape.iter().product();
    // (storage bindings are whole 4-byte words)
    let bytes = (n * dtype.size()).next_multiple_of(4).max(4);
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), Shape::from(shape.to_vec()), like.client.empty(bytes), dtype)
}

/// The WGSL element type of a kernel output written as `dtype` (f16 or f32), `lanes` wide.
pub(crate) fn out_lanes(dtype: DType, lanes: u32) -> &'static str {
    match (dtype == DType::F16, lanes == 4) {
        (true, true) => "vec4<f16>",
        (true, false) => "f16",
        (false, true) => "vec4<f32>",
        (false, false) => "f32",
    }
}

/// The WGSL type of `width` f32 lanes (a template value of the kernels that read vec4 columns
/// where the width allows).
pub(crate) fn f32_lanes(width: u32) -> &'static str {
    if width == 4 { "vec4<f32>" } else { "f32" }
}

/// The contiguous wgpu primitive of a plain (no autodiff, no fusion) float tensor.
pub(crate) fn cube<const D: usize>(t: Tensor<D>) -> CubeTensor {
    into_contiguous(raw(t))
}

/// The wgpu primitive of a plain float tensor, as it is.
pub(crate) fn raw<const D: usize>(t: Tensor<D>) -> CubeTensor {
    t.try_into_primitive::<CubeBackend>().expect("a float tensor of burn's wgpu backend (no autodiff, no fusion)")
}

/// The wgpu primitive under an int tensor (of an autodiff device or not), sharing its buffer.
pub(crate) fn int_raw<const D: usize>(t: &Tensor<D, Int>) -> CubeTensor {
    t.clone().inner().try_into_primitive::<CubeBackend>().expect("an int tensor of burn's wgpu backend")
}

/// A wgpu primitive back as a plain tensor.
pub(crate) fn plain<const D: usize>(t: CubeTensor) -> Tensor<D> {
    Tensor::<D>::from_primitive::<CubeBackend>(t)
}

/// Parses, validates and writes `wgsl` to SPIR-V with naga as wgpu does on Vulkan (naga's
/// SPIR-V writer has refused forms its validator accepts), panicking with `what` and naga's
/// report: the kernels' generated variants are checked here, not first found broken on a GPU.
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) fn wgsl_to_spirv(wgsl: &str, what: &str) {
    use naga::valid::{Capabilities, ValidationFlags, Validator};
    // (unpack2x16float, the packed-f16 loads, needs SHADER_FLOAT16_IN_FLOAT32 in naga 30)
    let caps = Capabilities::SHADER_FLOAT16 | Capabilities::SHADER_FLOAT16_IN_FLOAT32 | Capabilities::SUBGROUP | Capabilities::COOPERATIVE_MATRIX;
    let module = naga::front::wgsl::parse_str(wgsl).unwrap_or_else(|e| panic!("{what}: {}", e.emit_to_string(wgsl)));
    let info = Validator::new(ValidationFlags::all(), caps).validate(&module).unwrap_or_else(|e| panic!("{what}: {}", e.emit_to_string(wgsl)));
    let options = naga::back::spv::Options { lang_version: (1, 3), ..Default::default() };
    naga::back::spv::write_vec(&module, &info, &options, None).unwrap_or_else(|e| panic!("{what}: {e}"));
}
