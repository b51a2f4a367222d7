//! Tensor operations with a reference implementation in burn tensor ops. The fast WGSL kernels
//! (`shaders/`) plug in behind the same signatures.

pub mod attention;
pub mod causal_conv;
pub mod embedding;
pub mod kernel;
pub mod linear;
pub mod matmul;
pub mod norm;
pub mod selective_scan;
pub mod sum_rows;

use burn::backend::wgpu::SourceTemplate;
use burn::tensor::Tensor;

/// `RANKMAMBA_REFERENCE_OPS=1` runs burn's own ops on wgpu where rankmamba has kernels of its
/// own for training (the linear layers' backward, the causal conv, the norms, AdamW), to
/// benchmark both side by side in one run (BENCHMARKS.md §5). The scan and attention kernels
/// stay.
pub fn reference_ops() -> bool {
    static REFERENCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REFERENCE.get_or_init(|| std::env::var("RANKMAMBA_REFERENCE_OPS").is_ok_and(|v| v == "1"))
}

/// `x · wᵀ (+ b)` for `x` of shape (batch, len, in) and a PyTorch-layout weight (out, in).
pub fn linear3(x: Tensor<3>, weight: &Tensor<2>, bias: Option<&Tensor<1>>) -> Tensor<3> {
    linear3_with(x, weight, bias, false)
}

/// [`linear3`], in mixed precision when `mixed` (see [`linear::linear`]).
pub fn linear3_with(x: Tensor<3>, weight: &Tensor<2>, bias: Option<&Tensor<1>>, mixed: bool) -> Tensor<3> {
    let [b, l, i] = x.dims();
    let out = weight.dims()[0];
    linear::linear(x.reshape([b * l, i]), weight, bias, mixed).reshape([b, l, out])
}

/// How a kernel reads its f32-or-f16 inputs (the scan's u, Δ, z; attention's q, k, v).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    F32,
    /// `array<f16>`: needs the adapter's `shader-f16`.
    F16,
    /// f16 pairs in `array<u32>`, unpacked with `unpack2x16float`: any adapter.
    PackedF16,
}

impl InputFormat {
    /// For f16 data: native `f16` where the adapter has `shader-f16`, else packed u32.
    pub fn for_f16() -> Self {
        if crate::device::wgpu_has_shader_f16() { InputFormat::F16 } else { InputFormat::PackedF16 }
    }

    /// Template values for buffers read as `vec4<f32>` rows (`load_{name}` for each name).
    pub(crate) fn register_vec4(self, mut t: SourceTemplate, names: &[&str]) -> SourceTemplate {
        let (enable, ty) = match self {
            InputFormat::F32 => ("", "vec4<f32>"),
            InputFormat::F16 => ("enable f16;", "vec4<f16>"),
            InputFormat::PackedF16 => ("", "vec2<u32>"),
        };
        t = t.register("enable_f16", enable).register("in_ty", ty);
        for n in names {
            let load = match self {
                InputFormat::F32 => format!("{n}[i]"),
                InputFormat::F16 => format!("vec4<f32>({n}[i])"),
                InputFormat::PackedF16 => format!("vec4<f32>(unpack2x16float({n}[i].x), unpack2x16float({n}[i].y))"),
            };
            t = t.register(&format!("load_{n}"), load);
        }
        t
    }

    /// Template values for the scan's scalar loads of u, Δ and z.
    pub(crate) fn register(self, t: SourceTemplate) -> SourceTemplate {
        let (enable, ty) = match self {
            InputFormat::F32 => ("", "f32"),
            InputFormat::F16 => ("enable f16;", "f16"),
            InputFormat::PackedF16 => ("", "u32"),
        };
        let load = |buf: &str| match self {
            InputFormat::F32 => format!("{buf}[i]"),
            InputFormat::F16 => format!("f32({buf}[i])"),
            InputFormat::PackedF16 => format!("unpack2x16float({buf}[i >> 1u])[i & 1u]"),
        };
        t.register("enable_f16", enable)
            .register("in_ty", ty)
            .register("load_u", load("u"))
            .register("load_delta", load("delta"))
            .register("load_z", load("z"))
    }
}
