//! Starting from trained weights (`burn_freezeout::weights`): PyTorch's weights of the tests'
//! `TinyNet` (written by `tests/fixtures/pytorch/make_tinynet.py`) give the logits PyTorch
//! computed; a fresh head keeps its own values while the units are read; Burn's own record and
//! a safetensors file round-trip; every mismatch is an error naming the first parameter (or
//! the file) and the fix.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use burn_freezeout::weights::{self, Head, WeightsError};
use burn_freezeout::{FreezeOut, FreezeOutForward};
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use freezeout_tests::TinyNet;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pytorch").join(name)
}

/// Every tensor of `model` by path, as `f32`s.
fn named<M: Module>(model: &M) -> BTreeMap<String, Vec<f32>> {
    model
        .collect(None, None, false)
        .into_iter()
        .map(|t| {
            let name = t.name.clone();
            let bytes = t.into_bytes().unwrap();
            (name, bytes.chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect())
        })
        .collect()
}

fn device() -> Device {
    Device::flex()
}

#[test]
fn pytorch_weights_give_the_logits_pytorch_computed() {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tinynet.json")).unwrap()).unwrap();
    let floats = |k: &str| json[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect::<Vec<_>>();
    let (model, loaded) =
        weights::load(TinyNet::new(2, 8, 4, &device()), &fixture("tinynet.pt"), Head::Trained).unwrap();
    // stem (2), 2 blocks (conv 1 + BatchNorm 4), head BatchNorm (4) and linear (2).
    assert_eq!((loaded.tensors, loaded.fresh.len()), (2 + 2 * 5 + 4 + 2, 0), "{loaded:?}");
    let x = Tensor::<4>::from_data(TensorData::new(floats("input"), [2, 3, 8, 8]), &device());
    let logits: Vec<f32> = model.valid().forward_freezeout(x).into_data().iter::<f32>().collect();
    let expected = floats("logits");
    assert_eq!(logits.len(), expected.len());
    for (a, b) in logits.iter().zip(&expected) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "Burn {logits:?}\nPyTorch {expected:?}");
    }
}

#[test]
fn a_fresh_head_keeps_its_own_values_and_the_units_are_read() {
    let built = TinyNet::new(2, 8, 3, &device());
    let before = named(&built);
    let (model, loaded) = weights::load(built, &fixture("tinynet.pt"), Head::Fresh).unwrap();
    let after = named(&model);
    let head = ["bn.gamma", "bn.beta", "bn.running_mean", "bn.running_var", "fc.weight", "fc.bias"];
    assert_eq!(loaded.fresh, head, "everything outside the units, in the model's order");
    assert_eq!(loaded.tensors, 2 + 2 * 5);
    for name in head {
        assert!(after[name] == before[name], "{name}: the head keeps the values it was built with");
    }
    let (trained, _) = weights::load(TinyNet::new(2, 8, 4, &device()), &fixture("tinynet.pt"), Head::Trained).unwrap();
    let trained = named(&trained);
    for name in after.keys().filter(|n| !head.contains(&n.as_str())) {
        assert!(after[name] == trained[name], "{name}: a unit's tensor is the file's");
        assert!(after[name] != before[name], "{name}: read, not kept");
    }
    assert_eq!(model.num_units(), 3);
}

#[test]
fn burns_own_record_and_safetensors_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let trained = TinyNet::new(2, 8, 4, &device());
    let bpk = tmp.path().join("tinynet.bpk");
    trained.clone().save_file(&bpk).unwrap();
    let (model, _) = weights::load(TinyNet::new(2, 8, 4, &device()), &bpk, Head::Trained).unwrap();
    assert!(named(&model) == named(&trained), "the record's values, bit for bit");
    // safetensors as PyTorch writes it (Hugging Face's files): Burn's names and layout converted.
    let st = tmp.path().join("tinynet.safetensors");
    let mut store = SafetensorsStore::from_file(&st).with_to_adapter(BurnToPyTorchAdapter);
    trained.save_into(&mut store).unwrap();
    let (model, _) = weights::load(TinyNet::new(2, 8, 4, &device()), &st, Head::Trained).unwrap();
    assert!(named(&model) == named(&trained), "the safetensors' values, bit for bit");
}

#[test]
fn every_mismatch_names_the_first_parameter_and_the_fix() {
    let pt = fixture("tinynet.pt");
    let err = |model: TinyNet, path: &Path, head| weights::load(model, path, head).map(|_| ()).unwrap_err();
    match err(TinyNet::new(2, 8, 3, &device()), &pt, Head::Trained) {
        e @ WeightsError::Shape { .. } => {
            let m = e.to_string();
            assert!(m.contains("`fc.weight` has shape [8, 4] there, [8, 3] in the model"), "{m}");
            assert!(m.contains("--new-head CLASSES"), "{m}");
        }
        e => panic!("{e}"),
    }
    let m = err(TinyNet::new(2, 16, 4, &device()), &pt, Head::Trained).to_string();
    assert!(m.contains("`stem.weight` has shape [8, 3, 3, 3] there, [16, 3, 3, 3] in the model"), "{m}");
    assert!(!m.contains("--new-head"), "a unit's shape is no head's: {m}");
    let m = err(TinyNet::new(3, 8, 4, &device()), &pt, Head::Fresh).to_string();
    assert!(m.contains("no tensor for the model's `blocks.2.conv.weight`"), "{m}");
    let m = err(TinyNet::new(1, 8, 4, &device()), &pt, Head::Trained).to_string();
    // (named as the file names it: PyTorch's `bias` is Burn's `beta`)
    assert!(m.contains("`blocks.1.bn.bias` matches no parameter of the model"), "{m}");

    let tmp = tempfile::tempdir().unwrap();
    let m = err(TinyNet::new(2, 8, 4, &device()), &tmp.path().join("none.pt"), Head::Trained).to_string();
    assert!(m.starts_with("--init ") && m.ends_with("none.pt: no such file or directory"), "{m}");
    let m = err(TinyNet::new(2, 8, 4, &device()), tmp.path(), Head::Trained).to_string();
    assert!(m.contains("a directory without a complete checkpoint; give a run directory"), "{m}");
    let onnx = tmp.path().join("model.onnx");
    std::fs::write(&onnx, b"not weights").unwrap();
    let m = err(TinyNet::new(2, 8, 4, &device()), &onnx, Head::Trained).to_string();
    assert!(m.contains("model.onnx: unknown weights format"), "{m}");
    let bad = tmp.path().join("bad.pt");
    std::fs::write(&bad, b"not a pickle").unwrap();
    let m = err(TinyNet::new(2, 8, 4, &device()), &bad, Head::Trained).to_string();
    assert!(m.contains("bad.pt: cannot read the weights: "), "{m}");
}
