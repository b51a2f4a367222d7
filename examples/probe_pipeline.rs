//! What the Vulkan driver made of each WGSL kernel a run compiled: registers per invocation,
//! spilled (local) memory, workgroup memory, instruction counts, as the driver reports them
//! through `VK_KHR_pipeline_executable_properties` (Vulkan shows no performance counters; these
//! compile-time figures tell a kernel that spills or runs few subgroups per SM from one that
//! does not). The kernels are read from a cubecl compilation log (`CUBECL_DEBUG_LOG=FILE`, as
//! `scripts/bench-train-gpu.sh` writes for a profiled run: every kernel compiled, with its id and
//! WGSL source), translated to SPIR-V by naga as wgpu does on Vulkan for cubecl's unchecked
//! kernels (no bounds checks, no loop bounding, no zeroed workgroup memory), and compiled by the
//! driver into a pipeline of their own.
//!
//!     cargo run --release --example probe_pipeline -- LOG [--filter SUBSTRING]...
//!
//! The log's kernels are deduplicated by source; `--filter` keeps those whose name or id
//! contains one of the substrings.

use ash::vk;
use std::collections::BTreeMap;
use std::ffi::CStr;

/// One kernel of the log: its type name, its id's `info` tuple on one line, its WGSL.
struct LoggedKernel {
    name: String,
    info: String,
    wgsl: String,
}

/// The kernels of a cubecl compilation log, in the order first compiled, one per distinct source.
fn read_log(path: &str) -> Result<Vec<LoggedKernel>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out: Vec<LoggedKernel> = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("[START_KERNEL_COMPILATION]") {
        let block = &rest[start..];
        let line_of = |at: &str| text[..text.len() - at.len()].lines().count() + 1;
        let end = block.find("[END_KERNEL_COMPILATION]").ok_or_else(|| format!("{path}:{}: a kernel's entry has no [END_KERNEL_COMPILATION]", line_of(block)))?;
        let entry = &block[..end];
        rest = &block[end..];
        let src_at = entry.find("```wgsl\n").ok_or_else(|| format!("{path}:{}: a kernel's entry has no ```wgsl source", line_of(block)))?;
        let src = &entry[src_at + 8..];
        let wgsl = src[..src.rfind("```").ok_or_else(|| format!("{path}:{}: unterminated source", line_of(block)))?].to_string();
        let head = &entry[..src_at];
        // "name: burn_cubecl::template::base::SourceKernel<\n    rankmamba::ops::X::Kernel,\n>": the innermost type
        let name = head.lines().skip_while(|l| !l.starts_with("name:")).take_while(|l| !l.starts_with("id:")).collect::<String>();
        let name = name.trim_start_matches("name:").replace(' ', "");
        let name = name.rsplit("SourceKernel<").next().unwrap_or(&name).trim_end_matches(['>', ',']).to_string();
        let info = head.find("info:").map(|i| {
            let tail = &head[i + 5..];
            // the tuple up to its closing parenthesis at depth 0
            let mut depth = 0i32;
            let mut s = String::new();
            for c in tail.chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if !c.is_whitespace() {
                    s.push(c);
                }
                if depth == 0 && c == ')' {
                    break;
                }
            }
            s.replace(",)", ")")
        });
        if out.iter().all(|k| k.wgsl != wgsl) {
            out.push(LoggedKernel { name, info: info.unwrap_or_default(), wgsl });
        }
    }
    if out.is_empty() {
        return Err(format!("{path}: no kernel sources (was it written with CUBECL_DEBUG_LOG=FILE, the full compilation log?)"));
    }
    Ok(out)
}

/// The SPIR-V wgpu would hand the driver for a cubecl kernel, and its bindings (group, binding,
/// uniform or storage).
fn to_spirv(wgsl: &str, lang_version: (u8, u8)) -> Result<(Vec<u32>, String, Vec<(u32, u32, vk::DescriptorType)>), String> {
    use naga::valid::{Capabilities, ValidationFlags, Validator};
    let module = naga::front::wgsl::parse_str(wgsl).map_err(|e| e.emit_to_string(wgsl))?;
    let info = Validator::new(ValidationFlags::all(), Capabilities::all()).validate(&module).map_err(|e| e.emit_to_string(wgsl))?;
    let entry = module.entry_points.first().ok_or("no entry point")?.name.clone();
    let options = naga::back::spv::Options {
        lang_version,
        flags: naga::back::spv::WriterFlags::empty(),
        bounds_check_policies: naga::proc::BoundsCheckPolicies::default(),
        zero_initialize_workgroup_memory: naga::back::spv::ZeroInitializeWorkgroupMemoryMode::None,
        force_loop_bounding: false,
        ..Default::default()
    };
    let pipeline = naga::back::spv::PipelineOptions { shader_stage: naga::ShaderStage::Compute, entry_point: entry.clone() };
    let words = naga::back::spv::write_vec(&module, &info, &options, Some(&pipeline)).map_err(|e| e.to_string())?;
    let mut bindings = Vec::new();
    for (_, var) in module.global_variables.iter() {
        if let Some(rb) = &var.binding {
            let ty = match var.space {
                naga::AddressSpace::Uniform => vk::DescriptorType::UNIFORM_BUFFER,
                _ => vk::DescriptorType::STORAGE_BUFFER,
            };
            bindings.push((rb.group, rb.binding, ty));
        }
    }
    Ok((words, entry, bindings))
}

/// A Vulkan device with every feature its adapter offers and pipeline-executable statistics on.
struct Gpu {
    _entry: ash::Entry,
    instance: ash::Instance,
    device: ash::Device,
    exec: ash::khr::pipeline_executable_properties::Device,
    name: String,
}

impl Gpu {
    fn new() -> Result<Gpu, String> {
        // SAFETY: loads the system's Vulkan loader; every handle made here is destroyed in Drop
        unsafe {
            let entry = ash::Entry::load().map_err(|e| format!("the Vulkan loader: {e}"))?;
            let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_3);
            let instance = entry.create_instance(&vk::InstanceCreateInfo::default().application_info(&app), None).map_err(|e| format!("vkCreateInstance: {e}"))?;
            let devices = instance.enumerate_physical_devices().map_err(|e| format!("vkEnumeratePhysicalDevices: {e}"))?;
            // a discrete GPU where there is one (the H200, not a software rasterizer)
            let pd = *devices
                .iter()
                .max_by_key(|&&d| instance.get_physical_device_properties(d).device_type == vk::PhysicalDeviceType::DISCRETE_GPU)
                .ok_or("no Vulkan device")?;
            let props = instance.get_physical_device_properties(pd);
            let name = props.device_name_as_c_str().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let api = props.api_version.min(vk::API_VERSION_1_3);
            let exts = instance.enumerate_device_extension_properties(pd).map_err(|e| e.to_string())?;
            let has = |n: &CStr| exts.iter().any(|e| e.extension_name_as_c_str() == Ok(n));
            if !has(ash::khr::pipeline_executable_properties::NAME) {
                return Err(format!("{name}: the driver does not offer VK_KHR_pipeline_executable_properties"));
            }
            if api < vk::API_VERSION_1_3 {
                return Err(format!("{name}: Vulkan 1.3 needed, the device has {}.{}", vk::api_version_major(api), vk::api_version_minor(api)));
            }
            let mut names = vec![ash::khr::pipeline_executable_properties::NAME.as_ptr()];
            let coop = has(ash::khr::cooperative_matrix::NAME);
            if coop {
                names.push(ash::khr::cooperative_matrix::NAME.as_ptr());
            }
            let family = instance
                .get_physical_device_queue_family_properties(pd)
                .iter()
                .position(|q| q.queue_flags.contains(vk::QueueFlags::COMPUTE))
                .ok_or("no compute queue")? as u32;
            // what the adapter offers, all enabled: the kernels use f16, 16-bit storage,
            // subgroups, the memory model and cooperative matrices where present
            let mut f11 = vk::PhysicalDeviceVulkan11Features::default();
            let mut f12 = vk::PhysicalDeviceVulkan12Features::default();
            let mut f13 = vk::PhysicalDeviceVulkan13Features::default();
            let mut fexec = vk::PhysicalDevicePipelineExecutablePropertiesFeaturesKHR::default();
            let mut fcoop = vk::PhysicalDeviceCooperativeMatrixFeaturesKHR::default();
            let mut features = vk::PhysicalDeviceFeatures2::default().push_next(&mut f11).push_next(&mut f12).push_next(&mut f13).push_next(&mut fexec);
            if coop {
                features = features.push_next(&mut fcoop);
            }
            instance.get_physical_device_features2(pd, &mut features);
            let priorities = [1.0f32];
            let queues = [vk::DeviceQueueCreateInfo::default().queue_family_index(family).queue_priorities(&priorities)];
            let info = vk::DeviceCreateInfo::default().queue_create_infos(&queues).enabled_extension_names(&names).push_next(&mut features);
            let device = instance.create_device(pd, &info, None).map_err(|e| format!("vkCreateDevice: {e}"))?;
            let exec = ash::khr::pipeline_executable_properties::Device::new(&instance, &device);
            Ok(Gpu { _entry: entry, instance, device, exec, name })
        }
    }

    /// The driver's statistics of each executable of a compute pipeline made from `spirv`.
    fn statistics(&self, spirv: &[u32], entry: &str, bindings: &[(u32, u32, vk::DescriptorType)]) -> Result<Vec<(String, String)>, String> {
        let d = &self.device;
        // SAFETY: every object is created from `d` and destroyed before returning
        unsafe {
            let module = d.create_shader_module(&vk::ShaderModuleCreateInfo::default().code(spirv), None).map_err(|e| format!("vkCreateShaderModule: {e}"))?;
            let mut groups: BTreeMap<u32, Vec<vk::DescriptorSetLayoutBinding>> = BTreeMap::new();
            for &(g, b, ty) in bindings {
                groups.entry(g).or_default().push(vk::DescriptorSetLayoutBinding::default().binding(b).descriptor_type(ty).descriptor_count(1).stage_flags(vk::ShaderStageFlags::COMPUTE));
            }
            let sets = groups.keys().last().map_or(0, |g| g + 1);
            let mut layouts = Vec::new();
            for g in 0..sets {
                let b = groups.get(&g).map(Vec::as_slice).unwrap_or(&[]);
                layouts.push(d.create_descriptor_set_layout(&vk::DescriptorSetLayoutCreateInfo::default().bindings(b), None).map_err(|e| e.to_string())?);
            }
            let layout = d.create_pipeline_layout(&vk::PipelineLayoutCreateInfo::default().set_layouts(&layouts), None).map_err(|e| e.to_string())?;
            let entry_c = std::ffi::CString::new(entry).map_err(|e| e.to_string())?;
            let stage = vk::PipelineShaderStageCreateInfo::default().stage(vk::ShaderStageFlags::COMPUTE).module(module).name(&entry_c);
            let info = vk::ComputePipelineCreateInfo::default().flags(vk::PipelineCreateFlags::CAPTURE_STATISTICS_KHR).stage(stage).layout(layout);
            let made = d.create_compute_pipelines(vk::PipelineCache::null(), &[info], None);
            let result = match made {
                Ok(p) => {
                    let pipeline = p[0];
                    let r = self.read_statistics(pipeline);
                    d.destroy_pipeline(pipeline, None);
                    r
                }
                Err((_, e)) => Err(format!("vkCreateComputePipelines: {e}")),
            };
            d.destroy_pipeline_layout(layout, None);
            for l in layouts {
                d.destroy_descriptor_set_layout(l, None);
            }
            d.destroy_shader_module(module, None);
            result
        }
    }

    unsafe fn read_statistics(&self, pipeline: vk::Pipeline) -> Result<Vec<(String, String)>, String> {
        let execs = self.exec.get_pipeline_executable_properties(&vk::PipelineInfoKHR::default().pipeline(pipeline)).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for (i, ex) in execs.iter().enumerate() {
            let exe = ex.name_as_c_str().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let info = vk::PipelineExecutableInfoKHR::default().pipeline(pipeline).executable_index(i as u32);
            for s in self.exec.get_pipeline_executable_statistics(&info).map_err(|e| e.to_string())? {
                let name = s.name_as_c_str().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let value = match s.format {
                    vk::PipelineExecutableStatisticFormatKHR::BOOL32 => (s.value.b32 != 0).to_string(),
                    vk::PipelineExecutableStatisticFormatKHR::INT64 => s.value.i64.to_string(),
                    vk::PipelineExecutableStatisticFormatKHR::UINT64 => s.value.u64.to_string(),
                    vk::PipelineExecutableStatisticFormatKHR::FLOAT64 => format!("{:.3}", s.value.f64),
                    _ => "?".into(),
                };
                let key = if execs.len() > 1 { format!("{exe}: {name}") } else { name };
                out.push((key, value));
            }
            // the subgroup size the driver compiled for, where it says
            if ex.subgroup_size > 0 {
                out.push(("subgroup size".into(), ex.subgroup_size.to_string()));
            }
        }
        Ok(out)
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        // SAFETY: nothing made from the device outlives it (pipelines are destroyed per kernel)
        unsafe {
            self.device.destroy_device(None);
            self.instance.destroy_instance(None);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut filters = Vec::new();
    let mut log = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--filter" => filters.push(it.next().cloned().unwrap_or_else(|| fail("--filter needs a substring"))),
            "-h" | "--help" => {
                println!("probe_pipeline LOG [--filter SUBSTRING]...: the Vulkan driver's compile statistics of every WGSL kernel in a cubecl compilation log (CUBECL_DEBUG_LOG=FILE)");
                return;
            }
            _ if log.is_none() => log = Some(a.clone()),
            _ => fail(&format!("unexpected argument {a:?}")),
        }
    }
    let log = log.unwrap_or_else(|| fail("usage: probe_pipeline LOG [--filter SUBSTRING]..."));
    let kernels = read_log(&log).unwrap_or_else(|e| fail(&e));
    let kernels: Vec<&LoggedKernel> = kernels.iter().filter(|k| filters.is_empty() || filters.iter().any(|f| k.name.contains(f.as_str()) || k.info.contains(f.as_str()))).collect();
    // SPIR-V first (the version wgpu writes for a Vulkan 1.3 device): a kernel naga refuses is
    // reported before a device is needed
    let spirv: Vec<_> = kernels.iter().map(|k| to_spirv(&k.wgsl, (1, 6))).collect();
    eprintln!("{} kernels from {log}, {} translated to SPIR-V", kernels.len(), spirv.iter().filter(|s| s.is_ok()).count());
    let gpu = Gpu::new().unwrap_or_else(|e| fail(&e));
    println!("{}", gpu.name);
    for (k, s) in kernels.iter().zip(spirv) {
        let short = k.name.rsplit("::").next().unwrap_or(&k.name);
        match s.and_then(|(words, entry, bindings)| gpu.statistics(&words, &entry, &bindings)) {
            Ok(s) => println!("{short} {}: {}", k.info, s.iter().map(|(n, v)| format!("{n} = {v}")).collect::<Vec<_>>().join("; ")),
            Err(e) => println!("{short} {}: failed: {e}", k.info),
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("probe_pipeline: {msg}");
    std::process::exit(2)
}
