//! `loss.backward()` through the whole Mamba model: on wgpu the WGSL scan's backward is used;
//! its parameter gradients equal those of burn's autodiff over the reference on the CPU.

mod common;
use burn::tensor::{Int, Tensor, TensorData};
use common::*;
use rankmamba::loader::{read_json, TensorSet};
use rankmamba::models::mamba::{MambaConfig, MambaReranker};

fn grads_on(device: burn::tensor::Device) -> Vec<(String, Vec<f32>)> {
    let dir = fixtures().join("tiny-hf");
    let cfg_path = dir.join("config.json");
    let cfg = MambaConfig::from_json(&cfg_path, &read_json(&cfg_path).unwrap()).unwrap();
    let set = TensorSet::from_dir(&dir).unwrap();
    let (model, _) = MambaReranker::from_tensors(cfg, &cfg_path, &set, &device).unwrap();
    let seqs: Vec<Vec<i64>> = vec![(0..40).map(|i| (i * 37 % 50000) as i64).collect(), (0..40).map(|i| (i * 91 % 50000 + 7) as i64).collect()];
    let ids = Tensor::<2, Int>::from_data(TensorData::new(seqs.concat(), [2, 40]), &device);
    let scores = model.forward(ids, &[39, 25]);
    let w = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, -0.5], [2]), &device);
    let grads = (scores * w).sum().backward();
    let l0 = &model.layers[0].mixer;
    let l1 = &model.layers[1].mixer;
    let g = |name: &str, t: Tensor<2>| (name.to_string(), t.grad(&grads).expect(name).into_data().try_to_vec::<f32>().unwrap());
    let g1 = |name: &str, t: Tensor<1>| (name.to_string(), t.grad(&grads).expect(name).into_data().try_to_vec::<f32>().unwrap());
    vec![
        g("layers.0.A_log", l0.a_log.val()),
        g("layers.1.A_log", l1.a_log.val()),
        g("layers.0.in_proj", l0.in_proj.val()),
        g("layers.1.x_proj", l1.x_proj.val()),
        g("layers.0.dt_proj", l0.dt_proj.val()),
        g1("layers.1.D", l1.d.val()),
        g1("layers.0.dt_bias", l0.dt_bias.val()),
        g("embeddings", model.embeddings.val()),
    ]
}

#[test]
fn model_gradients_on_wgpu_match_cpu() {
    let cpu = grads_on(rankmamba::DeviceChoice::Cpu.device().unwrap().autodiff());
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return;
    }
    let gpu = grads_on(rankmamba::DeviceChoice::Wgpu.device().unwrap().autodiff());
    for ((name, c), (_, g)) in cpu.iter().zip(&gpu) {
        let num: f64 = c.iter().zip(g).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt();
        let den: f64 = c.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        assert!(den > 0.0, "{name}: zero gradient");
        assert!(num / den <= 1e-4, "{name}: wgpu vs cpu gradient relative error {:e}", num / den);
    }
}
