//! Time scoring 100 (query, document) pairs of ~200 tokens with a model directory, on the CPU
//! backend and on wgpu side by side in one run (the machines are noisy: compare the ratio).
//!
//!     cargo run --release --example bench_score -- [MODEL_DIR] [--runs N]
//!
//! Prints one markdown table row per device for BENCHMARKS.md.

use rankmamba::{DeviceChoice, Reranker, RerankerOptions};
use std::time::Instant;

fn main() -> rankmamba::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args.iter().find(|a| !a.starts_with("--") && a.parse::<usize>().is_err()).cloned().unwrap_or("tests/fixtures/tiny-hf".into());
    let runs = args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(3usize);
    let words = "state space models scan their input once and keep a fixed size hidden state while attention compares all pairs of tokens";
    let docs: Vec<String> = (0..100).map(|i| format!("Passage {i}: {}", words.repeat(8))).collect();
    let query = "how do selective state space models compare to attention?";

    let mut rows = Vec::new();
    for device in [DeviceChoice::Cpu, DeviceChoice::Wgpu] {
        let t0 = Instant::now();
        let ranker = match Reranker::load_with(&model, device, RerankerOptions { batch_size: 20, ..Default::default() }) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{device}: skipped ({e})");
                continue;
            }
        };
        let load = t0.elapsed().as_secs_f64();
        let tokens: usize = docs.iter().map(|d| ranker.encode(query, d).map(|v| v.len()).unwrap_or(0)).sum();
        let t1 = Instant::now();
        ranker.score(query, &docs)?; // cold: includes shader compilation on wgpu
        let cold = t1.elapsed().as_secs_f64();
        let mut warm = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            ranker.score(query, &docs)?;
            warm.push(t.elapsed().as_secs_f64());
        }
        warm.sort_by(f64::total_cmp);
        let median = warm[warm.len() / 2];
        rows.push((device, load, cold, median, tokens as f64 / docs.len() as f64));
    }
    println!("| device | load s | cold 100 pairs s | warm median s | docs/s | mean tokens/pair | vs cpu |");
    println!("|---|---|---|---|---|---|---|");
    let cpu = rows.iter().find(|r| r.0 == DeviceChoice::Cpu).map(|r| r.3);
    for (device, load, cold, median, mean_tokens) in &rows {
        let ratio = cpu.map(|c| format!("{:.2}×", c / median)).unwrap_or("-".into());
        println!("| {device} | {load:.3} | {cold:.3} | {median:.3} | {:.1} | {mean_tokens:.0} | {ratio} |", 100.0 / median);
    }
    Ok(())
}
