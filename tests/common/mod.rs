//! Shared helpers for the end-to-end tests: fixture paths, the reference scores written by
//! `scripts/gen_fixtures.py`, and the devices to run on.
#![allow(dead_code)]

use rankmamba::DeviceChoice;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const TOL: f32 = 1e-4;
pub const MODELS: &[&str] = &["tiny-hf", "tiny-original", "tiny-rankmamba"];

/// `tests/fixtures`, or `$RANKMAMBA_FIXTURES` (test binaries run on another machine).
pub fn fixtures() -> PathBuf {
    match std::env::var_os("RANKMAMBA_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
    }
}

pub fn expected() -> &'static Value {
    static E: OnceLock<Value> = OnceLock::new();
    E.get_or_init(|| {
        let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("tests/fixtures/expected.json (run scripts/gen_fixtures.py)");
        serde_json::from_str(&text).unwrap()
    })
}

/// CPU always; wgpu unless RANKMAMBA_SKIP_WGPU=1 (CI runs it on Mesa lavapipe).
pub fn devices() -> Vec<DeviceChoice> {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        vec![DeviceChoice::Cpu]
    } else {
        vec![DeviceChoice::Cpu, DeviceChoice::Wgpu]
    }
}

pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

/// Copy a fixture model into a fresh temp dir so a test can damage it.
pub fn scratch_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// A float tensor's values on the host.
pub fn host<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// ‖a − b‖ / ‖b‖.
pub fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>().sqrt();
    num / b.iter().map(|y| (*y as f64).powi(2)).sum::<f64>().sqrt().max(1e-30)
}

/// A kernel's outputs against its reference's, by name: each within `bound` relative error
/// (printed, so GPU runs show the numbers).
pub fn assert_all_close(what: &str, got: &[(&str, Vec<f32>)], want: &[(&str, Vec<f32>)], bound: f64) {
    for ((name, g), (_, w)) in got.iter().zip(want) {
        let e = rel_err(g, w);
        eprintln!("{what}: {name} relative error {e:e}");
        assert!(e <= bound, "{what}: {name} relative error {e:e} > {bound:e}");
    }
}

/// `got` is an f16 tensor holding exactly the f16 rounding of `want` (f32): what a kernel that
/// writes f16 for the tensor cores must give in place of the cast it saves.
pub fn assert_is_f16_of<const D: usize>(what: &str, got: burn::tensor::Tensor<D>, want: burn::tensor::Tensor<D>) {
    use burn::tensor::DType;
    assert_eq!(got.dtype(), DType::F16, "{what}: written as {:?}, not f16", got.dtype());
    let bits = |t: burn::tensor::Tensor<D>| t.into_data().try_to_vec::<half::f16>().unwrap().into_iter().map(|h| h.to_bits()).collect::<Vec<u16>>();
    let (g, w) = (bits(got), bits(want.cast(DType::F16)));
    assert_eq!(g.len(), w.len(), "{what}: length");
    let differ = g.iter().zip(&w).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{what}: {differ} of {} f16 values differ from the cast f32 result", w.len());
}

/// The wgpu autodiff device where the adapter has `shader-f16` (for the kernels that write f16
/// for the tensor cores); `None` under `RANKMAMBA_SKIP_WGPU=1` or without it.
pub fn wgpu_f16_autodiff() -> Option<burn::tensor::Device> {
    if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
        return None;
    }
    // (the adapter's features are known once the device exists)
    let dev = DeviceChoice::Wgpu.device().unwrap().autodiff();
    rankmamba::device::wgpu_has_shader_f16().then_some(dev)
}
