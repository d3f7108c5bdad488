//! The paper's models: unit indexing, parameter counts checked against independent numbers,
//! and every family trains on CPU with freezing happening.

use burn::tensor::Device;
use burn_freezeout::data::text::VOCAB;
use burn_freezeout::models::{Preset, WithModel};
use burn_freezeout::train::{self, TrainConfig};
use burn_freezeout::{FreezeOut, FreezeOutForward, Scaling, ScheduleConfig, trainable_params};
use freezeout_tests::quadrant_data;

/// Built-in facts about a model, gathered from the Burn module.
struct Facts;
impl WithModel for Facts {
    type Output = (usize, usize, Vec<String>, Vec<usize>);
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(self, m: M) -> Self::Output {
        let units = m.units();
        (
            trainable_params(&m),
            m.num_units(),
            units.iter().map(|u| u.name.clone()).collect(),
            units.iter().map(|u| u.num_params).collect(),
        )
    }
}

#[test]
fn parameter_counts_match_independent_values() {
    // Independently computed (closed-form layer sums, cross-checked against the published
    // 0.8M / 8.9M / 36.5M): CIFAR-10 heads.
    let expected = [
        ("densenet-bc-40-12", 176_122, 21),
        ("densenet-bc-76-12", 486_730, 39),
        ("densenet-bc-100-12", 769_162, 51),
        ("wrn-40-4", 8_949_210, 19),
        ("wrn-28-10", 36_479_194, 13),
        ("vgg16", 15_252_426, 13),
        // Per block 12·d² + 13·d; the patch embedding 3·d·4² + 64·d; the head 2·d + 10·d + 10.
        ("vit-6-128", 1_205_514, 7),
        ("vit-6-192", 2_693_002, 7),
    ];
    let device = Device::flex();
    for (name, params, units) in expected {
        let preset: Preset = name.parse().unwrap();
        let spec = preset.spec(10);
        assert_eq!((spec.params(), spec.units.len()), (params, units), "spec of {name}");
        let (burn_params, n, names, unit_params) = preset.build(10, 0.0, &device, Facts);
        assert_eq!((burn_params, n), (params, units), "Burn module of {name}");
        let spec_names: Vec<_> = spec.units.iter().map(|u| u.name.clone()).collect();
        assert_eq!(names, spec_names, "unit names of {name}");
        let spec_unit_params: Vec<_> = spec.units.iter().map(|u| u.params()).collect();
        assert_eq!(unit_params, spec_unit_params, "per-unit params of {name}");
    }
    // A ViT's forward MACs per image, from the closed form: per block and token 12·d² (four
    // projections, a 4·d feed-forward layer) + 2·t·d (attention's two products) + 2·d (two
    // LayerNorms); the patch embedding 3·d·4²·t + t·d; the head t·d + 10·d; t = 64 tokens.
    let (d, t) = (128u64, 64u64);
    let block = t * (12 * d * d + 2 * t * d + 2 * d);
    assert_eq!(
        "vit-6-128".parse::<Preset>().unwrap().spec(10).macs(),
        6 * block + 3 * d * 16 * t + t * d + t * d + 10 * d
    );
    assert_eq!(6 * block + 3 * d * 16 * t + t * d + t * d + 10 * d, 82_298_112);
    // The language model on bytes: embedding 256·d + 64·d, blocks as the ViT's, the head
    // 2·d + d·256 + 256.
    let gpt: Preset = "gpt-4-128".parse().unwrap();
    let spec = gpt.spec(VOCAB);
    assert_eq!((spec.params(), spec.units.len()), (867_328, 5), "spec of gpt-4-128");
    let built = gpt.build_text(VOCAB, 0.0, &device, |m| {
        (trainable_params(&m), m.units().iter().map(|u| u.num_params).collect::<Vec<_>>())
    });
    assert_eq!(built, (867_328, spec.units.iter().map(|u| u.params()).collect()), "Burn module of gpt-4-128");
    // CIFAR-100 changes only the classifier.
    assert_eq!("densenet-bc-100-12".parse::<Preset>().unwrap().spec(100).params(), 800_032);
}

#[test]
fn reference_unit_indexing() {
    let spec = "densenet-bc-76-12".parse::<Preset>().unwrap().spec(10);
    let names: Vec<_> = spec.units.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names[0], "stem");
    assert_eq!(&names[1..3], ["block1.0", "block1.1"]);
    assert_eq!(names[13], "trans1");
    assert_eq!(names[26], "trans2");
    assert_eq!(names[38], "block3.11");
    for bad in ["densenet-bc-77-12", "wrn-41-4", "resnet-50", "wrn-40", "vit-6-100", "vit-0-128"] {
        let err = bad.parse::<Preset>().unwrap_err().to_string();
        assert!(err.contains(bad) && err.contains("densenet-bc-L-k"), "{err}");
    }
}

struct TrainFew(usize);
impl WithModel for TrainFew {
    type Output = (usize, usize);
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(self, model: M) -> Self::Output {
        let device = Device::flex().autodiff();
        let n = model.num_units();
        let mut data = quadrant_data(3, 1, self.0, 32, 1);
        let config = TrainConfig {
            epochs: 2,
            schedule: ScheduleConfig { t0: 0.5, scaling: Scaling::Linear, scale_lr: true, base_lr: 0.05 },
            ..TrainConfig::default()
        };
        let out = train::Fit::new(&config, &device).run(model, &mut data).unwrap();
        assert!(out.summary.epochs.iter().all(|e| e.train_loss.is_finite()));
        (out.model.frozen_units(), n)
    }
}

#[test]
fn every_family_trains_on_cpu_with_freezing() {
    // Small members of each family (VGG-16 has one size), 6 iterations each.
    for (name, batch) in [("densenet-bc-22-4", 4), ("wrn-10-1", 4), ("vgg16", 4), ("vit-2-32", 4)] {
        let preset: Preset = name.parse().unwrap();
        let device = Device::flex().autodiff();
        device.seed(3);
        let (frozen, units) = preset.build(4, 0.0, &device, TrainFew(batch));
        // Linear t0 = 0.5 over 6 iterations: units with t_i·6 < 5 are frozen by the last one.
        assert!(frozen > 0 && frozen < units, "{name}: {frozen} of {units} frozen");
    }
}

/// Freezes a clone of each preset's model and reports how many units of the original are
/// frozen afterwards.
struct FreezeAClone;
impl WithModel for FreezeAClone {
    type Output = (usize, usize);
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(self, m: M) -> Self::Output {
        let clone = m.clone().freeze_units(2);
        (clone.frozen_units(), m.frozen_units())
    }
}

/// Freezing a copy of a freshly built model leaves the original trainable. Burn shares a
/// lazily initialised parameter's state between clones (`Param::set_require_grad` writes into
/// it), so a model whose parameters were still lazy would freeze every copy at once: `speed`'s
/// lanes (each a frozen clone of one model) rely on this.
#[test]
fn freezing_a_clone_leaves_the_original_trainable() {
    let device = Device::flex().autodiff();
    for name in ["densenet-bc-22-4", "wrn-10-1", "vgg16", "vit-2-32"] {
        let preset: Preset = name.parse().unwrap();
        assert_eq!(preset.build(10, 0.0, &device, FreezeAClone), (2, 0), "{name}");
    }
}
