//! `ops::embedding`: the lookup and its gradient with the host-grouped token segments (the WGSL
//! segment sum on wgpu) against an f64 sum of the upstream rows on the host, on wgpu (lavapipe,
//! the H200) and on the CPU backend (burn's select there).

mod common;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use common::{devices, host, rel_err};
use rankmamba::ops::embedding::{embedding, host_segments, segment_backward_runs, TokenSegments};

/// Ids with repeats (a few frequent ones, as text has), some rows never used, the last id of
/// the table; d a multiple of 4 (vec4 columns) or not.
fn check(dev: &burn::tensor::Device, vocab: usize, tokens: usize, d: usize) {
    let dev = dev.clone().autodiff();
    let mut state = 12345u64;
    let ids: Vec<i64> = (0..tokens)
        .map(|i| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let r = (state >> 33) as usize;
            if i == tokens - 1 { vocab as i64 - 1 } else if r % 3 == 0 { (r % 5) as i64 } else { (r % vocab) as i64 }
        })
        .collect();
    let weight = Tensor::<2>::random([vocab, d], Distribution::Uniform(-1.0, 1.0), &dev).require_grad();
    let up = Tensor::<2>::random([tokens, d], Distribution::Uniform(-1.0, 1.0), &dev);
    let id_tensor = Tensor::<1, Int>::from_data(TensorData::new(ids.clone(), [tokens]), &dev);
    let segments = TokenSegments::upload(&host_segments(&ids).unwrap(), &dev);
    // on wgpu the kernel, not burn's select, must be what is checked
    assert_eq!(segment_backward_runs(&dev, weight.dtype(), &segments), rankmamba::ops::kernel::is_wgsl_device(&dev));
    let out = embedding(weight.clone(), id_tensor, Some(&segments));
    // forward: the table's rows
    let (w, o) = (host(weight.clone().inner()), host(out.clone().inner()));
    for (t, &id) in ids.iter().enumerate() {
        assert_eq!(&o[t * d..(t + 1) * d], &w[id as usize * d..(id as usize + 1) * d], "row {t}");
    }
    let grads = (out * up.clone()).sum().backward();
    let got = host(weight.grad(&grads).unwrap());
    let u = host(up.inner());
    let mut want = vec![0f64; vocab * d];
    for (t, &id) in ids.iter().enumerate() {
        for j in 0..d {
            want[id as usize * d + j] += u[t * d + j] as f64;
        }
    }
    let want: Vec<f32> = want.into_iter().map(|x| x as f32).collect();
    assert!(rel_err(&got, &want) <= 1e-5, "vocab {vocab}, {tokens} tokens, d {d}: gradient off by {}", rel_err(&got, &want));
}

#[test]
fn the_embedding_gradient_equals_the_sum_of_each_ids_rows() {
    for choice in devices() {
        let dev = choice.device().unwrap();
        for &(vocab, tokens, d) in &[(7, 1, 4), (37, 300, 12), (50, 513, 6), (1000, 5000, 64)] {
            check(&dev, vocab, tokens, d);
        }
        if std::env::var("RANKMAMBA_TRAINING_SHAPES").as_deref() == Ok("1") {
            check(&dev, 50280, 32768, 768);
        }
    }
}
