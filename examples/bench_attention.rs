//! Benchmark of the fused WGSL attention on any wgpu adapter (Vulkan natively).
//!
//!     cargo run --release --example bench_attention -- [--iters N] [--batch 64] [--len 512] [--heads 12] [--head-dim 64]
//!
//! Times the forward and forward + backward (padding mask, no causal), median per call, and
//! prints FLOP/s (4·B·H·L²·dh forward, 2.5× that for forward + backward as FlashAttention counts).

use burn::tensor::{Distribution, Tensor};
use rankmamba::ops::attention::{attention_backward_wgpu, attention_wgpu, AttentionMask};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str, d: usize| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (iters, b, l, h, dh) = (arg("--iters", 20), arg("--batch", 64), arg("--len", 512), arg("--heads", 12), arg("--head-dim", 64));
    let (device, setup) = rankmamba::device::wgpu_setup().expect("a wgpu adapter");
    println!("adapter: {}", setup.adapter.get_info().name);
    let r = |s: [usize; 4]| Tensor::<4>::random(s, Distribution::Uniform(-1.0, 1.0), &device);
    let (q, k, v, dout) = (r([b, h, l, dh]), r([b, h, l, dh]), r([b, h, l, dh]), r([b, h, l, dh]));
    let mask = AttentionMask { key_lens: Some(vec![l; b]), causal: false };
    let scale = 1.0 / (dh as f64).sqrt();
    let time = |f: &dyn Fn()| {
        f();
        device.sync().unwrap();
        let mut s: Vec<f64> = (0..iters)
            .map(|_| {
                let t = Instant::now();
                f();
                device.sync().unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    let fwd = time(&|| {
        let _ = attention_wgpu(q.clone(), k.clone(), v.clone(), &mask, scale);
    });
    let both = time(&|| {
        let (out, lse) = attention_wgpu(q.clone(), k.clone(), v.clone(), &mask, scale);
        let _ = attention_backward_wgpu(q.clone(), k.clone(), v.clone(), out, lse, dout.clone(), &mask, scale);
    });
    let flops = 4.0 * (b * h * l * l * dh) as f64;
    println!("| pass | batch | heads | L | head dim | ms | TFLOP/s |");
    println!("|---|---|---|---|---|---|---|");
    println!("| forward | {b} | {h} | {l} | {dh} | {:.3} | {:.2} |", fwd * 1e3, flops / fwd / 1e12);
    println!("| forward + backward | {b} | {h} | {l} | {dh} | {:.3} | {:.2} |", both * 1e3, 3.5 * flops / both / 1e12);
}
