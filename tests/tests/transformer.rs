//! Transformers in chain mode: a ViT's units change the rank (image → tokens), its unit ranges
//! compose, dropout in a frozen block is off, the `exact` cache trains it bit for bit as the
//! uncached run, `shift` is refused on tokens; a model on token ids (`Int`) freezes its
//! embedding, and a character-level language model trains on text with the `exact` cache bit
//! for bit as without it.

use burn::module::{Module, ParamId};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Int, Tensor};
use burn_freezeout::cache::{CacheConfig, CacheMode, PrefixCache};
use burn_freezeout::data::text::{Corpus, TextLoader, VOCAB};
use burn_freezeout::data::{DataSource, Loader};
use burn_freezeout::models::{CharGpt, Vit, VitBlock};
use burn_freezeout::task::LanguageModel;
use burn_freezeout::train::{self, RunLog, TrainConfig};
use burn_freezeout::{AdaptiveConfig, FreezeOut, FreezeOutForward, PolicyConfig, freezeout, trainable_params};
use freezeout_tests::{
    assert_exact_cache_is_exact, fast_schedule, host, logged, module_values, quadrant_data, random_split, snapshot,
};

fn images(n: usize, device: &Device) -> Tensor<4> {
    Tensor::random([n, 3, 32, 32], Distribution::Normal(0.0, 1.0), device)
}

#[test]
fn a_vit_maps_images_to_tokens_and_its_unit_ranges_compose() {
    let device = Device::flex().autodiff();
    device.seed(1);
    let model = Vit::new(2, 32, 0.0, 10, &device).freeze_units(1);
    let x = images(3, &device);
    let tokens = model.forward_unit_range(x.clone(), 0..1);
    assert_eq!((tokens.rank(), tokens.dims()), (3, vec![3, 64, 32]), "patches of 4 pixels: 64 tokens");
    let rest = model.forward_unit_range(tokens.clone(), 1..3);
    assert_eq!(host(rest), host(model.forward_units(x.clone())), "0..1 then 1..3 is the whole chain");
    let logits = FreezeOutForward::forward_from(&model, tokens, 1).unwrap();
    assert_eq!(host(logits), host(model.forward(x.clone())), "the forward from unit 1 on");
    // A range started with the wrong tensor names both types.
    let wrong = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.forward_unit_range(x, 1..3)));
    let message = wrong.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.starts_with("unit 1 takes a Tensor<3, Float>, and its input is UnitTensor(Tensor<4, Float>"),
        "{message}"
    );
}

/// Dropout (p = 0.5) is drawn anew at every forward of a trained block, and not at all in a
/// frozen one.
#[test]
fn dropout_in_a_frozen_block_is_off() {
    let device = Device::flex().autodiff();
    device.seed(2);
    let model = Vit::new(2, 32, 0.5, 10, &device).freeze_units(2);
    let x = images(2, &device);
    let frozen = || host(model.forward_unit_range(x.clone(), 0..2));
    assert!(frozen() == frozen(), "units 0..2 are frozen: no dropout");
    let trained = || host(model.forward_unit_range(x.clone(), 0..3));
    assert!(trained() != trained(), "unit 2 trains: its dropout draws");
    // The same holds for a block frozen on its own, outside the chain.
    let block = VitBlock::new(32, 0.5, &device);
    let tokens = Tensor::<3>::random([2, 64, 32], Distribution::Normal(0.0, 1.0), &device);
    let frozen_block = block.clone().freeze();
    assert!(host(frozen_block.forward(tokens.clone())) == host(frozen_block.forward(tokens.clone())));
    assert!(host(block.forward(tokens.clone())) != host(block.forward(tokens)));
}

/// Five epochs, every unit frozen by the end; with unaugmented images the cache computes what
/// the uncached run computes.
#[test]
fn exact_cache_trains_a_vit_bit_for_bit_as_the_uncached_run() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let model = Vit::new(2, 32, 0.0, 4, &device);
    let run = |cache: CacheConfig| {
        let mut data = quadrant_data(4, 1, 8, 32, 5);
        let mut log = RunLog::in_memory();
        let fresh = Vit::new(2, 32, 0.0, 4, &device).load_record(model.clone().into_record());
        let config = TrainConfig { epochs: 5, cache, ..fast_schedule() };
        let out = train::Fit::new(&config, &device).log(&mut log).run(fresh, &mut data).unwrap();
        (logged(&log, "iter", "loss"), module_values(&out.model), out.summary)
    };
    let (_, summary) = assert_exact_cache_is_exact(20, run);
    let last = summary.epochs.last().unwrap().cache.expect("a cached run records its cache per epoch");
    assert_eq!((last.boundary, last.entries, last.lookups, last.hits), (3, 32, 32, 32), "{last:?}");
    assert_eq!(last.bytes, 32 * 64 * 32 * 4, "one [64 tokens, 32] entry per sample");
}

#[test]
fn shift_is_refused_where_the_boundary_holds_tokens() {
    let device = Device::flex().autodiff();
    let model = Vit::new(2, 32, 0.0, 10, &device).freeze_units(1);
    let mut loader = Loader::new(random_split(8, 1), random_split(4, 2), 8, 3);
    let samples = loader.samples();
    let batch = loader.train_epoch(0).next().unwrap();
    let mut cache = PrefixCache::new(CacheConfig::new(CacheMode::Shift)).unwrap();
    let e = cache.input(&model, &batch, samples.as_deref(), 0, &device).unwrap_err().to_string();
    assert!(e.starts_with("--cache shift: the input of unit 1 has shape [64, 32] per sample"), "{e}");
}

/// A language-model-shaped model: token ids (`Int`) → embeddings → a block, then the head.
#[freezeout(head = logits, input = Tensor<2, Int>, output = 3)]
#[derive(Module, Debug)]
struct TokenNet {
    #[freezeout(unit, output = 3)]
    embed: Embedding,
    #[freezeout(unit)]
    blocks: Vec<VitBlock>,
    norm: LayerNorm,
    out: Linear,
}

impl TokenNet {
    fn new(device: &Device) -> Self {
        Self {
            embed: EmbeddingConfig::new(16, 32).init(device),
            blocks: (0..2).map(|_| VitBlock::new(32, 0.0, device)).collect(),
            norm: LayerNormConfig::new(32).init(device),
            out: LinearConfig::new(32, 16).init(device),
        }
    }
    fn logits(&self, x: Tensor<3>) -> Tensor<3> {
        self.out.forward(self.norm.forward(x))
    }
}

/// The embedding takes the model's `Int` input; frozen, it gets no gradient and its output
/// enters the next unit untracked.
#[test]
fn a_model_on_token_ids_freezes_its_embedding() {
    let device = Device::flex().autodiff();
    device.seed(4);
    let model = TokenNet::new(&device);
    let tokens = Tensor::<2, Int>::from_data([[1, 2, 3, 4], [5, 6, 7, 8]], &device);
    assert_eq!(model.forward(tokens.clone()).dims(), [2, 4, 16]);
    let frozen = model.clone().freeze_units(1);
    let before = snapshot(&frozen);
    let mut grads = frozen.forward(tokens.clone()).sum().backward();
    let units = frozen.units();
    let mut with_grad = |ids: &[ParamId]| GradientsParams::from_params(&mut grads, &frozen, ids).len();
    assert_eq!(with_grad(&units[0].param_ids), 0, "no gradient for the embedding");
    assert_eq!(with_grad(&units[1].param_ids), units[1].param_ids.len(), "the first block trains");
    assert_eq!(snapshot(&frozen)[&units[0].param_ids[0]], before[&units[0].param_ids[0]]);
    let embedded = frozen.forward_unit_range(tokens, 0..1);
    assert_eq!((embedded.rank(), embedded.kind(), embedded.is_autodiff()), (3, "Float", true));
    assert_eq!(trainable_params(&model.embed), 16 * 32);
}

/// A pseudo-English text of `n` characters, the same for the same seed.
fn text(n: usize, seed: u64) -> String {
    use rand::{Rng, SeedableRng};
    const WORDS: [&str; 12] =
        ["the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "dog ", "ran ", "far. ", "so ", "it "];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = String::new();
    while out.len() < n {
        out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    out.truncate(n);
    out
}

/// A character-level language model (embedding unit on `Int` ids, causal blocks) trains with
/// FreezeOut on text windows; the `exact` cache gives the uncached run's losses and final
/// parameters bit for bit, and by the last epoch every window's frozen prefix comes from it.
#[test]
fn a_char_model_trains_on_text_and_the_exact_cache_is_bit_for_bit() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let corpus = Corpus::new(text(3000, 1));
    let fresh = || CharGpt::new(VOCAB, 16, 2, 32, 0.0, &device);
    let model = fresh();
    let run = |cache: CacheConfig| {
        let mut data = TextLoader::new(&corpus, 16, 32, 7).unwrap();
        assert_eq!((data.train_len(), data.train_batches_per_epoch()), (168, 6));
        let mut log = RunLog::in_memory();
        let config = TrainConfig { epochs: 5, cache, ..fast_schedule() };
        let out = train::Fit::new(&config, &device)
            .task(&LanguageModel)
            .log(&mut log)
            .run(fresh().load_record(model.clone().into_record()), &mut data)
            .unwrap();
        (logged(&log, "iter", "loss"), module_values(&out.model), out.summary)
    };
    let (plain, summary) = assert_exact_cache_is_exact(30, run);
    let last = summary.epochs.last().unwrap().cache.expect("a cached run records its cache per epoch");
    assert_eq!((last.boundary, last.entries, last.lookups, last.hits), (3, 168, 168, 168), "{last:?}");
    assert_eq!(last.bytes, 168 * 16 * 32 * 4, "one [16 positions, 32] entry per window");
    // It learned: the held-out loss per character fell well below the uniform guess.
    let distinct = corpus.tokens.iter().collect::<std::collections::HashSet<_>>().len();
    let uniform = (distinct as f64).ln(); // the text's characters, equally likely
    let held_out = plain.epochs.last().unwrap().test_error.expect("evaluated");
    assert!(held_out < 0.8 * uniform, "{held_out} nats against {uniform}");
}

/// The drift policy on a language model: its probe is a held-out batch of token ids (an `Int`
/// input), run unit by unit; with a threshold every unit meets, all three units leave together
/// once the policy may let them (half the run, two windows of patience), and the run goes on.
#[test]
fn the_drift_policy_freezes_a_char_model_on_its_token_probe() {
    let device = Device::flex().autodiff();
    device.seed(6);
    let corpus = Corpus::new(text(3000, 1));
    let mut data = TextLoader::new(&corpus, 16, 32, 7).unwrap();
    let drift = AdaptiveConfig {
        threshold: 1e9,
        window: 0.1,
        sample_every: 1,
        min_fraction: 0.5,
        ramp: 0.1,
        ..AdaptiveConfig::drift()
    };
    let config = TrainConfig { epochs: 5, policy: PolicyConfig::Adaptive(drift), ..fast_schedule() };
    let mut log = RunLog::in_memory();
    let out = train::Fit::new(&config, &device)
        .task(&LanguageModel)
        .log(&mut log)
        .run(CharGpt::new(VOCAB, 16, 2, 32, 0.0, &device), &mut data)
        .unwrap();
    let frozen: Vec<u64> = logged(&log, "freeze", "frozen").iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(frozen.last(), Some(&3), "every unit frozen by the end: {frozen:?}");
    let first = logged(&log, "freeze", "iter")[0].as_u64().unwrap();
    assert!((15..30).contains(&first), "not before half the run (15 of 30 iterations): {first}");
    assert_eq!(out.summary.total_iterations, 30);
    assert!(out.summary.test_error.is_some_and(f64::is_finite));
}

/// Windows of two lengths (a variable sequence length): the cache's entries would differ in
/// shape, and the run is refused naming the boundary and both shapes.
#[test]
fn the_cache_refuses_token_windows_whose_length_varies() {
    use burn_freezeout::data::InMemory;
    use burn_freezeout::data::text::TokenBatch;
    let device = Device::flex().autodiff();
    let batch = |context: usize, first_id: u64| TokenBatch {
        tokens: (0..4 * context as i64).map(|t| t % 7).collect(),
        targets: (1..=4 * context as i64).map(|t| t % 7).collect(),
        context,
        ids: (first_id..first_id + 4).collect(),
    };
    let mut data = InMemory { train: vec![batch(16, 0), batch(12, 4)], eval: vec![batch(16, 8)] };
    let config = TrainConfig { epochs: 3, cache: CacheConfig::new(CacheMode::Exact), ..fast_schedule() };
    let model = CharGpt::new(VOCAB, 16, 2, 32, 0.0, &device);
    let Err(e) = train::Fit::new(&config, &device).task(&LanguageModel).run(model, &mut data) else {
        panic!("windows of two lengths must be refused");
    };
    let e = e.to_string();
    assert!(e.starts_with("--cache: the input of unit ") && e.contains("[16, 32]") && e.contains("[12, 32]"), "{e}");
}
