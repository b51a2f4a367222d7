//! The other route to the tensor cores that the training-speed issue names, measured on the GPU
//! it would run on: burn's wgpu backend compiling SPIR-V (Vulkan cooperative matrices, its own
//! matmul), and whether rankmamba's hand-written WGSL kernels can run in the same process as the
//! SPIR-V matmuls. (burn's CUDA backend, the third, cannot be built here: cubecl-cuda 0.11.3
//! depends on cubecl-llvm, whose build script downloads LLVM from GitHub, which neither this
//! machine nor the GPU machines reach.)
//!
//! 1. burn's matmul (f16, bf16: the tensor cores' types) at the products of a Mamba-130m 64 × 512
//!    training step and 4096³, ms and TFLOP/s (median of `--iters` samples of 10 launches).
//! 2. A hand-written WGSL kernel launched through cubecl on the SPIR-V device: cubecl refuses
//!    precompiled text there (printed: the error it gives).
//! 3. The route around that refusal: the same WGSL kernel dispatched by raw wgpu on the wgpu
//!    device and queue the SPIR-V runtime itself uses (`init_with_setup`), reading and writing
//!    the buffers under burn tensors (`get_resource`), ordered against cubecl's work by flushing
//!    it first. Checked against burn's own arithmetic, and timed per launch beside a burn
//!    elementwise launch.
//!
//! Built only with `--features backend-probe` (burn's `vulkan` feature: with
//! `vulkan` on, burn compiles every Vulkan device to SPIR-V, which the rest of rankmamba must
//! not be built with):
//!
//!     cargo build --release --features backend-probe --example probe_backends
//!     probe_backends [--iters 10] [--no-matmul: parts 2 and 3 alone, e.g. on lavapipe]

use burn::backend::wgpu::{CubeBackend, CubeTensor, KernelSource, SourceKernel, SourceTemplate, WgpuBackend};
use burn::backend::wgpu::{AutoCompiler, CubeDim};
use burn::cubecl::prelude::{CubeCount, ExecutionMode, KernelId};
use burn::cubecl::server::{KernelArguments, MetadataBindingInfo};
use burn::cubecl::wgpu::WgpuServer;
use burn::tensor::wgpu::wgpu;
use burn::tensor::{DType, Device, Distribution, Shape, Tensor};
use std::time::Instant;

/// (name, m, k, n) of C = A · B
const PRODUCTS: [(&str, usize, usize, usize); 4] = [
    ("in_proj half x·wᵀ 32768x768·768x1536", 32768, 768, 1536),
    // (also the shape of its dx, dy·w)
    ("out_proj x·wᵀ 32768x1536·1536x768", 32768, 1536, 768),
    ("dW dyᵀ·x 1536x32768·32768x768", 1536, 32768, 768),
    ("square 4096", 4096, 4096, 4096),
];

/// y = 2·x + 1 over `n` floats: the kernel both launch paths run.
const SCALE_WGSL: &str = r#"
@group(0) @binding(0) var<storage, read_write> x: array<f32>;  // (n)
@group(0) @binding(1) var<storage, read_write> y: array<f32>;  // (n)
struct Params { n: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
@group(0) @binding(2) var<uniform> p: Params;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = g.y * nw.x * 256u + g.x;
    if (i < p.n) { y[i] = 2.0 * x[i] + 1.0; }
}
"#;

#[derive(Debug)]
struct ScaleKernel;

impl KernelSource for ScaleKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(SCALE_WGSL)
    }
    fn id(&self) -> KernelId {
        KernelId::new::<Self>().mode(ExecutionMode::Unchecked)
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

fn median(mut ts: Vec<f64>) -> f64 {
    ts.sort_by(f64::total_cmp);
    ts[ts.len() / 2]
}

/// Per-launch seconds of `launch` on `device`: ten launches per sample, then a sync and a read
/// of one value of the last result; median of `iters` samples (after two warm-up calls, which
/// also run burn's autotune).
fn time(device: &Device, iters: usize, launch: &dyn Fn() -> Tensor<2>) -> f64 {
    for _ in 0..2 {
        let _ = launch().slice([0..1, 0..1]).into_data();
    }
    median(
        (0..iters)
            .map(|_| {
                let t = Instant::now();
                let outs: Vec<Tensor<2>> = (0..10).map(|_| launch()).collect();
                device.sync().expect("sync");
                let _ = outs[9].clone().slice([0..1, 0..1]).into_data();
                t.elapsed().as_secs_f64() / 10.0
            })
            .collect(),
    )
}

/// burn's matmul on `device` at every product, in each dtype; a dtype the backend rejects is
/// reported, not fatal.
fn matmuls(label: &str, device: &Device, iters: usize) {
    for (name, m, k, n) in PRODUCTS {
        for dtype in [DType::F16, DType::BF16] {
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let a = Tensor::<2>::random([m, k], Distribution::Uniform(-1.0, 1.0), device).cast(dtype);
                let b = Tensor::<2>::random([k, n], Distribution::Uniform(-1.0, 1.0), device).cast(dtype);
                // checked against the f32 product of the same (rounded) operands on one row block
                let c = a.clone().matmul(b.clone()).slice([0..64, 0..n]).cast(DType::F32);
                let want = a.clone().slice([0..64, 0..k]).cast(DType::F32).matmul(b.clone().cast(DType::F32));
                let err: f32 = (c - want.clone()).abs().max().into_scalar();
                let scale: f32 = want.abs().max().into_scalar();
                (time(device, iters, &|| a.clone().matmul(b.clone())), err / scale)
            }));
            match run {
                Ok((t, rel)) => println!(
                    "{label} matmul {name} {dtype:?}: {:.3} ms, {:.1} TFLOP/s (max error / max |C| {rel:.1e})",
                    t * 1e3,
                    2.0 * (m * k * n) as f64 / t / 1e12
                ),
                Err(e) => println!("{label} matmul {name} {dtype:?}: failed: {}", panic_text(&e)),
            }
        }
    }
}

fn panic_text(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "(no message)".into())
}

fn cube(t: Tensor<1>) -> CubeTensor {
    t.try_into_primitive::<CubeBackend>().expect("a plain wgpu tensor")
}

/// A fresh f32 tensor of `len` floats on `like`'s device, its contents unset (a kernel writes it).
fn empty_f32(like: &CubeTensor, len: usize) -> CubeTensor {
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), Shape::from(vec![len]), like.client.empty(len * 4), DType::F32)
}

/// The (buffer, offset, size) under a burn tensor, from cubecl's memory manager.
fn resource(t: &CubeTensor) -> (wgpu::Buffer, u64, u64) {
    let r = t.client.get_resource::<WgpuServer<AutoCompiler>>(t.handle.clone()).expect("the tensor's wgpu resource");
    let r = r.resource();
    (r.buffer.clone(), r.offset, r.size)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iters = args.iter().position(|a| a == "--iters").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(10);

    // the SPIR-V device, with the wgpu handles it runs on
    let (device, setup) = Device::wgpu_options().graphics_api(WgpuBackend::Vulkan).init_with_setup().expect("a Vulkan adapter");
    let client = match device.as_dispatch().clone().inner() {
        burn::backend::DispatchDevice::Cube(cd) => cd.client(),
        _ => unreachable!("a wgpu device"),
    };
    println!("adapter: {}; cubecl runtime: {}", setup.adapter.get_info().name, client.name());
    if !args.iter().any(|a| a == "--no-matmul") {
        matmuls("burn wgpu (SPIR-V)", &device, iters);
    }

    let n = 1 << 24;
    let x = Tensor::<1>::random([n], Distribution::Uniform(-1.0, 1.0), &device);
    // 3. the same kernel by raw wgpu on the runtime's own device and queue
    let dev = &setup.device;
    let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some("scale"), source: wgpu::ShaderSource::Wgsl(SCALE_WGSL.into()) });
    let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("scale"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    // the kernel's parameters for `len` floats, and its workgroups
    let params_for = |len: usize| {
        let u = dev.create_buffer(&wgpu::BufferDescriptor { label: Some("params"), size: 16, usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST, mapped_at_creation: false });
        setup.queue.write_buffer(&u, 0, &[len as u32, 0, 0, 0].map(u32::to_le_bytes).concat());
        (u, (len as u32).div_ceil(256))
    };
    // one raw launch: resolve the two tensors' buffers, flush cubecl's pending work (so what
    // wrote x is on the queue first), encode and submit the dispatch
    let raw = |x: &CubeTensor, y: &CubeTensor, (uniform, groups): &(wgpu::Buffer, u32)| {
        let (xb, xo, xs) = resource(x);
        let (yb, yo, ys) = resource(y);
        x.client.flush().expect("flush");
        let bind = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer: &xb, offset: xo, size: std::num::NonZeroU64::new(xs) }) },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer: &yb, offset: yo, size: std::num::NonZeroU64::new(ys) }) },
                wgpu::BindGroupEntry { binding: 2, resource: uniform.as_entire_binding() },
            ],
        });
        let mut enc = dev.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups((*groups).min(65535), groups.div_ceil(65535), 1);
        }
        setup.queue.submit([enc.finish()]);
    };
    // x is produced by a burn op just before, so the order against cubecl's queue is tested
    let x2 = x.clone() * 3.0;
    let x2c = cube(x2.clone());
    let y2c = empty_f32(&x2c, n);
    let big = params_for(n);
    raw(&x2c, &y2c, &big);
    let y2 = Tensor::<1>::from_primitive::<CubeBackend>(y2c.clone());
    let err: f32 = (y2 - (x2 * 2.0 + 1.0)).abs().max().into_scalar();
    println!("raw wgpu dispatch on the SPIR-V runtime's device and queue, on burn tensors' buffers: max error against burn {err:e}");
    let per = |f: &dyn Fn()| {
        median(
            (0..iters)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..100 {
                        f();
                    }
                    device.sync().expect("sync");
                    t.elapsed().as_secs_f64() / 100.0
                })
                .collect(),
        )
    };
    let small = Tensor::<1>::random([1024], Distribution::Uniform(-1.0, 1.0), &device);
    let sc = cube(small.clone());
    let so = empty_f32(&sc, 1024);
    let small_params = params_for(1024);
    let t_raw = per(&|| raw(&sc, &so, &small_params));
    let t_burn = per(&|| {
        let _ = small.clone() * 2.0 + 1.0;
    });
    println!(
        "per launch on 1,024 floats (the host's cost): raw wgpu with the two resource look-ups and a flush {:.1} µs, burn's x·2 + 1 (two launches) {:.1} µs",
        t_raw * 1e6,
        t_burn * 1e6
    );
    let t_raw_big = per(&|| raw(&x2c, &y2c, &big));
    println!("per launch on 2^24 floats: raw wgpu {:.1} µs ({:.0} GB/s)", t_raw_big * 1e6, 8.0 * n as f64 / t_raw_big / 1e9);

    // 2. a precompiled WGSL kernel through cubecl on that device (last: the failed launch
    // poisons the memory it touched, which later reads would report)
    let xc = cube(x.clone());
    let yc = empty_f32(&xc, n);
    let params = MetadataBindingInfo::custom(vec![n as u64, 0]);
    let launch = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let args = KernelArguments::new().with_buffer(xc.handle.clone().binding()).with_buffer(yc.handle.clone().binding()).with_info(params);
        let kernel = SourceKernel::new(ScaleKernel, CubeDim::new_1d(256));
        // (launch errors surface at the next read of what the kernel writes)
        let groups = big.1;
        xc.client.launch(Box::new(kernel), CubeCount::Static(groups.min(65535), groups.div_ceil(65535), 1), args);
        let y = Tensor::<1>::from_primitive::<CubeBackend>(yc.clone());
        y.slice([0..4]).try_into_data().map_err(|e| format!("{e:?}"))
    }));
    match launch {
        Ok(Ok(d)) => println!("cubecl launch of precompiled WGSL on the SPIR-V device: ran ({d:?})"),
        Ok(Err(e)) => println!("cubecl launch of precompiled WGSL on the SPIR-V device: refused: {e}"),
        Err(e) => println!("cubecl launch of precompiled WGSL on the SPIR-V device: panicked: {}", panic_text(&e)),
    }
}
