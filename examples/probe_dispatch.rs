//! What one kernel launch costs on a wgpu adapter apart from its work, split into the host's
//! share (encoding, submitting) and the device's (the gap a dispatch and the barrier before it
//! leave): a Mamba-130m training step is ~2,400 launches, so a few µs each are a large part of a
//! 70 ms step. Each row launches a tiny kernel (`x[i] += 1` on 64 floats) `--launches` times:
//!
//! - raw wgpu, one compute pass, one bind group reused, every dispatch on the same buffer (the
//!   next dispatch waits on the previous one, as wgpu puts a barrier between them);
//! - the same with a bind group created per dispatch (as cubecl does for every launch);
//! - the same on 64 buffers in turn (no dependency between neighbours: what barriers cost);
//! - the same submitted every 32 dispatches (cubecl's default `CUBECL_WGPU_MAX_TASKS`);
//! - through burn (`x = x + 1`, an elementwise kernel launched by burn and cubecl): the whole
//!   stack a training step goes through.
//!
//! Times are wall clock, median of `--iters`: "encode" from the first command to the finished
//! command buffer, "submit" the `queue.submit` call, "wait" from there to the device's
//! completion (≈ the device's time when the host is faster than it).
//!
//!     cargo run --release --example probe_dispatch -- [--launches 2400] [--iters 5]

use burn::tensor::wgpu::wgpu;
use burn::tensor::Tensor;
use std::time::Instant;

// (len): 64 floats, one workgroup
const SHADER: &str = "
@group(0) @binding(0) var<storage, read_write> x: array<f32>; // (len)
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    if (g.x < arrayLength(&x)) { x[g.x] = x[g.x] + 1.0; }
}";

#[derive(Clone, Copy)]
enum Mode {
    Reused,
    BindGroupPerDispatch,
    IndependentBuffers,
    SubmitEvery32,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (launches, iters) = (arg("--launches", 2400).max(1), arg("--iters", 5).max(1));
    let (device, setup) = rankmamba::device::wgpu_setup().expect("a wgpu adapter");
    let info = setup.adapter.get_info();
    println!("adapter: {} ({:?}, driver {} {})", info.name, info.backend, info.driver, info.driver_info);
    println!("{launches} launches of a 64-float kernel per sample, median of {iters}; per launch:");
    let (dev, queue) = (&setup.device, &setup.queue);
    let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some("probe"), source: wgpu::ShaderSource::Wgsl(SHADER.into()) });
    let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("probe"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let layout = pipeline.get_bind_group_layout(0);
    let buffers: Vec<wgpu::Buffer> = (0..64)
        .map(|_| {
            dev.create_buffer(&wgpu::BufferDescriptor { label: None, size: 256, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false })
        })
        .collect();
    let bind = |b: &wgpu::Buffer| {
        dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: b.as_entire_binding() }],
        })
    };
    let groups: Vec<wgpu::BindGroup> = buffers.iter().map(bind).collect();
    let wait = || dev.poll(wgpu::PollType::Wait { submission_index: None, timeout: None }).expect("device poll");

    let sample = |mode: Mode| -> [f64; 3] {
        let mut submit_s = 0.0;
        let batch = match mode {
            Mode::SubmitEvery32 => 32,
            _ => launches,
        };
        let mut done = 0;
        let mut encode_s = 0.0;
        while done < launches {
            let te = Instant::now();
            let n = batch.min(launches - done);
            let mut encoder = dev.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                for i in 0..n {
                    match mode {
                        Mode::Reused | Mode::SubmitEvery32 => pass.set_bind_group(0, &groups[0], &[]),
                        Mode::BindGroupPerDispatch => pass.set_bind_group(0, &bind(&buffers[0]), &[]),
                        Mode::IndependentBuffers => pass.set_bind_group(0, &groups[(done + i) % groups.len()], &[]),
                    }
                    pass.dispatch_workgroups(1, 1, 1);
                }
            }
            let commands = encoder.finish();
            encode_s += te.elapsed().as_secs_f64();
            let ts = Instant::now();
            queue.submit([commands]);
            submit_s += ts.elapsed().as_secs_f64();
            done += n;
        }
        let tw = Instant::now();
        wait();
        [encode_s, submit_s, tw.elapsed().as_secs_f64()]
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let us = |s: f64| s / launches as f64 * 1e6;
    for (name, mode) in [
        ("raw wgpu, one bind group, same buffer", Mode::Reused),
        ("raw wgpu, a bind group per dispatch", Mode::BindGroupPerDispatch),
        ("raw wgpu, 64 buffers in turn", Mode::IndependentBuffers),
        ("raw wgpu, same buffer, submit every 32", Mode::SubmitEvery32),
    ] {
        sample(mode);
        let runs: Vec<[f64; 3]> = (0..iters).map(|_| sample(mode)).collect();
        let [e, s, w] = [0, 1, 2].map(|k| median(runs.iter().map(|r| r[k]).collect()));
        println!("{name}: encode {:.2} µs, submit {:.2} µs, wait {:.2} µs, total {:.2} µs", us(e), us(s), us(w), us(e + s + w));
    }

    // the whole stack: burn's elementwise add, launched by cubecl (its own passes, bind groups
    // and submits), then one read back
    let x = Tensor::<1>::zeros([64], &device);
    let run = |x: Tensor<1>| {
        let t = Instant::now();
        let mut y = x;
        for _ in 0..launches {
            y = y + 1.0;
        }
        let issue = t.elapsed().as_secs_f64();
        device.sync().expect("device sync");
        (y, issue, t.elapsed().as_secs_f64())
    };
    let (mut x, ..) = run(x);
    let mut issue = Vec::new();
    let mut total = Vec::new();
    for _ in 0..iters {
        let (y, i, t) = run(x);
        x = y;
        issue.push(i);
        total.push(t);
    }
    let expected = ((iters + 1) * launches) as f32;
    let got = x.slice([0..1]).into_data().try_to_vec::<f32>().expect("f32 data")[0];
    assert_eq!(got, expected, "the additions did not all run");
    println!("burn + cubecl, x = x + 1: issue {:.2} µs, until done {:.2} µs", us(median(issue)), us(median(total)));
}
