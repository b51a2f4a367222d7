//! Choosing where the model runs: burn's pure-Rust CPU backend (Flex) or its wgpu backend
//! (Vulkan natively, WebGPU in the browser).

use crate::error::{Error, Result};
#[cfg(not(target_family = "wasm"))]
use burn::tensor::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Cpu,
    Wgpu,
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "wgpu" | "gpu" | "vulkan" => Ok(DeviceChoice::Wgpu),
            other => Err(Error::Input(format!("unknown device `{other}` (expected `cpu` or `wgpu`)"))),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Wgpu => "wgpu",
        })
    }
}

impl DeviceChoice {
    /// The burn device. The wgpu runtime is initialised once per process and shared: a second
    /// init would fail, and sharing keeps one GPU context for every model.
    #[cfg(not(target_family = "wasm"))]
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            DeviceChoice::Wgpu => wgpu_setup().map(|(d, _)| d),
        }
    }
}

/// The process's wgpu device and its setup (adapter, device and queue handles, for limits,
/// features and raw wgpu work such as benchmarks).
#[cfg(not(target_family = "wasm"))]
pub fn wgpu_setup() -> Result<(Device, burn::tensor::wgpu::WgpuSetup)> {
    static WGPU: std::sync::OnceLock<std::result::Result<(Device, burn::tensor::wgpu::WgpuSetup), String>> =
        std::sync::OnceLock::new();
    WGPU.get_or_init(|| Device::wgpu_options().init_with_setup().map_err(|e| e.to_string())).clone().map_err(|e| {
        Error::Backend(format!(
            "no usable wgpu adapter ({e}); use --device cpu, or install a Vulkan driver (e.g. mesa-vulkan-drivers)"
        ))
    })
}

/// Streaming multiprocessors (NVIDIA) or compute units (AMD) of the wgpu adapter, read from
/// Vulkan (`VK_NV_shader_sm_builtins`, `VK_AMD_shader_core_properties`); `None` where the
/// adapter reports neither (other drivers, lavapipe, the browser). wgpu and cubecl do not report
/// it, and the tensor-core matmul sizes its K split in whole waves of workgroups by it.
/// `RANKMAMBA_COMPUTE_UNITS` overrides it (0: unknown).
pub fn wgpu_compute_units() -> Option<u32> {
    #[cfg(not(target_family = "wasm"))]
    {
        static UNITS: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
        *UNITS.get_or_init(|| match std::env::var("RANKMAMBA_COMPUTE_UNITS").ok().and_then(|v| v.parse::<u32>().ok()) {
            Some(units) => (units > 0).then_some(units),
            None => wgpu_setup().ok().and_then(|(_, s)| vulkan_compute_units(&s.adapter)),
        })
    }
    #[cfg(target_family = "wasm")]
    {
        None
    }
}

#[cfg(not(target_family = "wasm"))]
fn vulkan_compute_units(adapter: &burn::tensor::wgpu::wgpu::Adapter) -> Option<u32> {
    use ash::vk;
    use burn::tensor::wgpu::wgpu::hal;
    // SAFETY: reads properties of the adapter's physical device; nothing is created or destroyed,
    // and the guard is dropped before returning
    let hal_adapter = unsafe { adapter.as_hal::<hal::api::Vulkan>() }?;
    let shared = hal_adapter.shared_instance();
    if shared.instance_api_version() < vk::API_VERSION_1_1 {
        return None;
    }
    let (instance, device) = (shared.raw_instance(), hal_adapter.raw_physical_device());
    // SAFETY: `device` belongs to `instance`
    let extensions = unsafe { instance.enumerate_device_extension_properties(device) }.ok()?;
    let has = |name: &std::ffi::CStr| extensions.iter().any(|e| e.extension_name_as_c_str() == Ok(name));
    let units = if has(vk::NV_SHADER_SM_BUILTINS_NAME) {
        let mut sm = vk::PhysicalDeviceShaderSMBuiltinsPropertiesNV::default();
        let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut sm);
        // SAFETY: the chained struct's extension is supported (checked above)
        unsafe { instance.get_physical_device_properties2(device, &mut props) };
        sm.shader_sm_count
    } else if has(vk::AMD_SHADER_CORE_PROPERTIES_NAME) {
        let mut core = vk::PhysicalDeviceShaderCorePropertiesAMD::default();
        let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut core);
        // SAFETY: as above
        unsafe { instance.get_physical_device_properties2(device, &mut props) };
        core.shader_engine_count * core.shader_arrays_per_engine_count * core.compute_units_per_shader_array
    } else {
        0
    };
    (units > 0).then_some(units)
}

/// Whether the wgpu device runs subgroup operations (the WGSL scan backward needs them).
/// False if the wgpu runtime was not set up through [`wgpu_setup`] (or, in the browser, by
/// the package's loader).
pub fn wgpu_has_subgroups() -> bool {
    wgpu_has(|f| f.contains(burn::tensor::wgpu::wgpu::Features::SUBGROUP))
}

/// Whether WGSL may use `f16` storage (`shader-f16`); else f16 data is read as packed u32.
pub fn wgpu_has_shader_f16() -> bool {
    wgpu_has(|f| f.contains(burn::tensor::wgpu::wgpu::Features::SHADER_F16))
}

/// Whether WGSL may use wgpu's experimental cooperative matrices (tensor cores), as the
/// tensor-core matmul (`ops::matmul`) does.
pub fn wgpu_has_cooperative_matrix() -> bool {
    wgpu_has(|f| f.contains(burn::tensor::wgpu::wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX))
}

fn wgpu_has(check: impl Fn(burn::tensor::wgpu::wgpu::Features) -> bool) -> bool {
    #[cfg(not(target_family = "wasm"))]
    {
        wgpu_setup().map(|(_, s)| check(s.device.features())).unwrap_or(false)
    }
    #[cfg(target_family = "wasm")]
    {
        WASM_FEATURES.with(|f| f.get().map(check).unwrap_or(false))
    }
}

#[cfg(target_family = "wasm")]
thread_local! {
    static WASM_FEATURES: std::cell::Cell<Option<burn::tensor::wgpu::wgpu::Features>> = const { std::cell::Cell::new(None) };
}

/// Record the features of the page's WebGPU device (set where the browser build creates it).
#[cfg(target_family = "wasm")]
pub fn set_wasm_features(features: burn::tensor::wgpu::wgpu::Features) {
    WASM_FEATURES.with(|f| f.set(Some(features)));
}
