//! Second oracle with real trained weights: one scan direction of the first Mamba block of the
//! `typeseg` 0.2.7 package, computed by the package's own numpy `_selective_scan_seq`
//! (fixture from `scripts/gen_typeseg_fixture.py`). Our scan must reproduce it on every backend.

mod common;
use burn::tensor::{Tensor, TensorData};
use common::*;
use rankmamba::loader::TensorSet;
use rankmamba::ops::selective_scan::reference::relative_error;
use rankmamba::ops::selective_scan::{selective_scan, ScanInputs};

#[test]
fn first_block_scan_of_a_trained_model_matches_its_numpy_reference() {
    let path = fixtures().join("typeseg/block0_scan.safetensors");
    let mut set = TensorSet::default();
    set.add_bytes(&path, std::fs::read(&path).unwrap().into(), None).unwrap();
    let t = |k: &str| set.tensors.get(k).unwrap_or_else(|| panic!("{k}"));
    let (l, e) = (t("u").shape[0], t("u").shape[1]);
    let n = t("A").shape[1];
    let want: Vec<f64> = t("y").to_f32().iter().map(|x| *x as f64).collect();
    for device in devices() {
        let dev = device.device().unwrap();
        let t3 = |k: &str, w: usize| Tensor::<3>::from_data(TensorData::new(t(k).to_f32(), [1, l, w]), &dev);
        let t1 = |k: &str| Tensor::<1>::from_data(TensorData::new(t(k).to_f32(), [e]), &dev);
        let y = selective_scan(ScanInputs {
            u: t3("u", e),
            delta: t3("delta", e),
            delta_bias: Tensor::<1>::zeros([e], &dev),
            a: Tensor::<2>::from_data(TensorData::new(t("A").to_f32(), [e, n]), &dev),
            b: t3("B", n),
            c: t3("C", n),
            d: t1("D"),
            z: None,
        });
        let got = y.into_data().try_to_vec::<f32>().unwrap();
        let err = relative_error(&got, &want);
        assert!(err <= 1e-4, "{device}: relative error {err:e} against typeseg's numpy scan");
    }
}
