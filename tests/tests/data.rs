//! CIFAR readers and the input pipeline: the real CIFAR-10 archive, CIFAR-100 and corrupt files
//! written by the tests, augmentation semantics, determinism, and a CPU training run on a subset
//! of the real data.

use burn_freezeout::data::{self, CifarKind, Loader, Split, cifar::IMAGE_BYTES};
use burn_freezeout::data::{DataSource, HostBatch};
use std::fs;
use std::io::Write;
use std::path::Path;

/// Writes the files of a valid, class-balanced dataset into `dir` (pixels from the index).
fn write_dataset(dir: &Path, kind: CifarKind) {
    fs::create_dir_all(dir).unwrap();
    let files: &[(&str, usize)] = match kind {
        CifarKind::Cifar10 => &[
            ("data_batch_1.bin", 10_000),
            ("data_batch_2.bin", 10_000),
            ("data_batch_3.bin", 10_000),
            ("data_batch_4.bin", 10_000),
            ("data_batch_5.bin", 10_000),
            ("test_batch.bin", 10_000),
        ],
        CifarKind::Cifar100 => &[("train.bin", 50_000), ("test.bin", 10_000)],
    };
    for &(name, records) in files {
        let mut bytes = Vec::with_capacity(records * kind.record_bytes());
        for r in 0..records {
            let fine = (r % kind.classes()) as u8;
            if kind == CifarKind::Cifar100 {
                bytes.push(fine / 5);
            }
            bytes.push(fine);
            bytes.extend((0..IMAGE_BYTES).map(|p| ((p + r) % 256) as u8));
        }
        fs::write(dir.join(name), bytes).unwrap();
    }
}

fn expect_err(path: &Path, kind: CifarKind) -> String {
    match data::load(path, kind) {
        Ok(_) => panic!("{} loaded, expected an error", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn real_cifar10_archive_has_50000_and_10000_balanced_images() {
    let Some(archive) = freezeout_tests::cifar10("real_cifar10_archive_has_50000_and_10000_balanced_images") else {
        return;
    };
    let cifar = data::load(&archive, CifarKind::Cifar10).unwrap();
    assert_eq!((cifar.train.len(), cifar.test.len()), (50_000, 10_000));
    assert_eq!(cifar.train.class_counts(10), vec![5_000; 10]);
    assert_eq!(cifar.test.class_counts(10), vec![1_000; 10]);
    assert_eq!(cifar.train.images.len(), 50_000 * IMAGE_BYTES);
    // Real pictures: the mean pixel is mid-grey-ish, not a constant.
    let norm = data::Normalization::of(&cifar.test);
    for c in 0..3 {
        assert!((0.4..0.55).contains(&norm.mean[c]) && (0.2..0.3).contains(&norm.std[c]), "{norm:?}");
    }
}

#[test]
fn cifar100_directory_and_its_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cifar-100-binary");
    write_dataset(&dir, CifarKind::Cifar100);
    // The directory itself, or the folder holding it.
    for path in [dir.clone(), tmp.path().to_path_buf()] {
        let c = data::load(&path, CifarKind::Cifar100).unwrap();
        assert_eq!((c.train.len(), c.test.len()), (50_000, 10_000));
        assert_eq!(c.train.class_counts(100), vec![500; 100]);
        assert_eq!(c.test.class_counts(100), vec![100; 100]);
    }
    let train = dir.join("train.bin");
    let good = fs::read(&train).unwrap();

    // Bad fine label.
    let mut bytes = good.clone();
    bytes[3074 * 7 + 1] = 100;
    fs::write(&train, &bytes).unwrap();
    let e = expect_err(&dir, CifarKind::Cifar100);
    assert!(e.contains("train.bin") && e.contains("record 7") && e.contains("fine label 100"), "{e}");

    // Bad coarse label.
    let mut bytes = good.clone();
    bytes[0] = 20;
    fs::write(&train, &bytes).unwrap();
    let e = expect_err(&dir, CifarKind::Cifar100);
    assert!(e.contains("coarse label 20") && e.contains("0..20"), "{e}");

    // Unbalanced: one image relabelled.
    let mut bytes = good.clone();
    bytes[1] = 1;
    fs::write(&train, &bytes).unwrap();
    let e = expect_err(&dir, CifarKind::Cifar100);
    assert!(e.contains("train split has 499 images of class 0, expected 500"), "{e}");

    // Truncated and oversized.
    fs::write(&train, &good[..good.len() - 10]).unwrap();
    let e = expect_err(&dir, CifarKind::Cifar100);
    assert!(
        e.contains("train.bin") && e.contains("expected exactly 153700000 bytes") && e.contains("found 153699990"),
        "{e}"
    );
    let mut bytes = good.clone();
    bytes.push(0);
    fs::write(&train, &bytes).unwrap();
    assert!(expect_err(&dir, CifarKind::Cifar100).contains("found 153700001"));

    // Missing file.
    fs::remove_file(&train).unwrap();
    let e = expect_err(&dir, CifarKind::Cifar100);
    assert!(e.contains("train.bin: missing"), "{e}");

    // Nothing there at all: says where to put the archive.
    let e = expect_err(&tmp.path().join("nowhere"), CifarKind::Cifar100);
    assert!(e.contains("cifar-100-binary.tar.gz") && e.contains("--data"), "{e}");
}

#[test]
fn cifar10_archive_is_extracted_once_next_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_dataset(&src.join("cifar-10-batches-bin"), CifarKind::Cifar10);
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(fs::File::create(&archive).unwrap(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all("cifar-10-batches-bin", src.join("cifar-10-batches-bin")).unwrap();
        tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    fs::remove_dir_all(&src).unwrap();
    let c = data::load(&archive, CifarKind::Cifar10).unwrap();
    assert_eq!(c.train.class_counts(10), vec![5_000; 10]);
    let cache = tmp.path().join("cifar-10-binary.extracted/cifar-10-batches-bin");
    assert!(cache.join("test_batch.bin").is_file(), "extracted into the cache");
    // No half-extracted leftovers.
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".extracting"))
        .collect();
    assert!(leftovers.is_empty());
    // The folder holding the archive works too, and reads the cache (the archive can go).
    fs::remove_file(&archive).unwrap();
    let c = data::load(tmp.path(), CifarKind::Cifar10).unwrap();
    assert_eq!(c.test.len(), 10_000);

    // A file that is not an archive.
    let junk = tmp.path().join("junk.tar.gz");
    fs::write(&junk, b"not gzip").unwrap();
    let e = expect_err(&junk, CifarKind::Cifar10);
    assert!(e.contains("junk.tar.gz") && e.contains("not a readable .tar.gz"), "{e}");
}

fn one_image_split() -> Split {
    let images: Vec<u8> = (0..IMAGE_BYTES).map(|p| (p * 7 % 251) as u8).collect();
    Split { images, labels: vec![3] }
}

/// The candidate output of crop offset (dx, dy) and flip, normalised, for the image of
/// `one_image_split`.
fn transformed(src: &[u8], dx: usize, dy: usize, flip: bool, norm: &data::Normalization) -> Vec<f32> {
    let mut out = Vec::with_capacity(IMAGE_BYTES);
    for c in 0..3 {
        for y in 0..32 {
            for x in 0..32 {
                let xs = if flip { 31 - x } else { x };
                let (sy, sx) = (y as isize + dy as isize - 4, xs as isize + dx as isize - 4);
                let v = if (0..32).contains(&sy) && (0..32).contains(&sx) {
                    src[c * 1024 + sy as usize * 32 + sx as usize] as f32
                } else {
                    0.0
                };
                out.push((v / 255.0 - norm.mean[c]) / norm.std[c]);
            }
        }
    }
    out
}

#[test]
fn augmentation_is_a_padded_crop_plus_flip_and_deterministic() {
    let split = one_image_split();
    let src = split.images.clone();
    let loader = Loader::new(split.clone(), split.clone(), 1, 42);
    let norm = loader.normalization();
    let plain = loader.clone().without_augmentation();
    let b = plain.train_batch(0, 0, &[0]);
    assert!(close(&b.images, &transformed(&src, 4, 4, false, &norm)), "centre crop, no flip");
    let (mut flips, mut offsets) = (0, std::collections::HashSet::new());
    for epoch in 0..300 {
        let b = loader.train_batch(epoch, 0, &[0]);
        let hit = (0..=8)
            .flat_map(|dx| (0..=8).flat_map(move |dy| [(dx, dy, false), (dx, dy, true)]))
            .find(|&(dx, dy, f)| close(&b.images, &transformed(&src, dx, dy, f, &norm)));
        let (dx, dy, f) = hit.expect("every output is a crop of the zero-padded image, maybe flipped");
        flips += f as usize;
        offsets.insert((dx, dy));
        assert_eq!(b.labels, vec![3]);
    }
    assert!((100..200).contains(&flips), "{flips} flips in 300");
    assert!(offsets.len() > 60, "only {} of 81 offsets seen", offsets.len());
    // Same seed, same batch; another seed, another one.
    assert_eq!(loader.train_batch(5, 0, &[0]), loader.train_batch(5, 0, &[0]));
    let other = Loader::new(split.clone(), split, 1, 43);
    assert!((0..20).any(|e| other.train_batch(e, 0, &[0]) != loader.train_batch(e, 0, &[0])));
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
}

#[test]
fn epochs_are_seeded_permutations_and_batches_cover_the_split() {
    let n = 103;
    let split = Split {
        images: (0..n * IMAGE_BYTES).map(|i| (i / IMAGE_BYTES) as u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    };
    let mut loader = Loader::new(split.clone(), split, 10, 1);
    assert_eq!(loader.train_batches_per_epoch(), 11); // the last batch is partial, as the reference
    let mut o0 = loader.order(0);
    assert_ne!(o0, loader.order(1));
    assert_eq!(o0, loader.order(0));
    o0.sort();
    assert_eq!(o0, (0..n as u32).collect::<Vec<_>>());
    let batches: Vec<HostBatch> = loader.train_epoch(0).collect();
    assert_eq!(batches.iter().map(|b| b.len()).sum::<usize>(), n);
    assert_eq!(batches.last().unwrap().len(), 3);
    let eval: Vec<HostBatch> = loader.eval_batches().collect();
    assert_eq!(eval.iter().map(|b| b.len()).sum::<usize>(), n);
}

#[test]
fn a_small_model_learns_a_subset_of_real_cifar10_on_cpu() {
    let Some(archive) = freezeout_tests::cifar10("a_small_model_learns_a_subset_of_real_cifar10_on_cpu") else {
        return;
    };
    use burn::tensor::Device;
    use burn_freezeout::ScheduleConfig;
    use burn_freezeout::train::{self, TrainConfig};
    let data::Cifar { mut train, mut test, .. } = data::load(&archive, CifarKind::Cifar10).unwrap();
    train.truncate(5000);
    test.truncate(1000);
    let mut loader = Loader::new(train, test, 50, 0);
    let device = Device::flex().autodiff();
    device.seed(0);
    let model = burn_freezeout::models::WideResNet::new(10, 1, 0.0, 10, &device);
    let config = TrainConfig {
        epochs: 3,
        schedule: ScheduleConfig { base_lr: 0.1, ..ScheduleConfig::default() },
        ..TrainConfig::default()
    };
    let out = train::Fit::new(&config, &device).run(model, &mut loader).unwrap();
    let e = &out.summary.epochs;
    let test_error = out.summary.test_error.unwrap();
    eprintln!(
        "WRN-10-1 on real CIFAR-10 (5000 train / 1000 test, 3 epochs): train loss {:.3} -> {:.3}, \
         test error {test_error:.3} (chance 0.9), {:.1} s of steps",
        e[0].train_loss, e[2].train_loss, out.summary.step_seconds
    );
    assert!(test_error < 0.7, "test error {test_error}");
    assert!(e[2].train_loss < e[0].train_loss);
}

/// A small `.tar.gz` holding `members` (path, bytes).
fn write_tar_gz(path: &Path, members: &[(&str, &[u8])]) {
    let gz = flate2::write::GzEncoder::new(fs::File::create(path).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, *bytes).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

#[test]
fn the_other_dataset_is_recognised_and_the_message_names_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder (named neither 10 nor 100) holding CIFAR-100's directory, asked for as CIFAR-10.
    let holder = tmp.path().join("downloads");
    fs::create_dir_all(holder.join("cifar-100-binary")).unwrap();
    fs::write(holder.join("cifar-100-binary/train.bin"), b"x").unwrap();
    assert_eq!(data::cifar::identify(&holder), vec![CifarKind::Cifar100]);
    for path in [holder.clone(), holder.join("cifar-100-binary")] {
        let e = expect_err(&path, CifarKind::Cifar10);
        assert!(e.contains("this is CIFAR-100 data") && e.contains("--dataset cifar100"), "{e}");
    }
    // And the reverse.
    let ten = tmp.path().join("other");
    fs::create_dir_all(ten.join("cifar-10-batches-bin")).unwrap();
    fs::write(ten.join("cifar-10-batches-bin/data_batch_1.bin"), b"x").unwrap();
    let e = expect_err(&ten, CifarKind::Cifar100);
    assert!(e.contains("this is CIFAR-10 data") && e.contains("--dataset cifar10"), "{e}");

    // A readable CIFAR-100 archive given as CIFAR-10 is never called unreadable.
    let archive = tmp.path().join("mystery.tar.gz");
    write_tar_gz(&archive, &[("cifar-100-binary/train.bin", b"x"), ("cifar-100-binary/test.bin", b"y")]);
    assert_eq!(data::cifar::identify(&archive), vec![CifarKind::Cifar100]);
    let e = expect_err(&archive, CifarKind::Cifar10);
    assert!(
        e.contains("this is CIFAR-100 data") && e.contains("--dataset cifar100") && !e.contains("not a readable"),
        "{e}"
    );
    // Nothing was extracted for the wrong dataset.
    assert!(!tmp.path().join("mystery.extracted").exists());

    // A readable archive of something else says what it holds.
    let other = tmp.path().join("photos.tar.gz");
    write_tar_gz(&other, &[("holiday/beach.jpg", b"jpeg")]);
    assert!(data::cifar::identify(&other).is_empty());
    let e = expect_err(&other, CifarKind::Cifar10);
    assert!(
        e.contains("a readable .tar.gz archive, but not the official cifar-10-binary.tar.gz")
            && e.contains("holiday/beach.jpg"),
        "{e}"
    );
    // Bytes that are no archive at all are called that.
    let junk = tmp.path().join("junk.tar.gz");
    fs::write(&junk, b"not gzip").unwrap();
    assert!(expect_err(&junk, CifarKind::Cifar10).contains("not a readable .tar.gz archive"));

    // The real archive is recognised from its first members.
    if let Some(real) =
        freezeout_tests::cifar10("the_other_dataset_is_recognised_and_the_message_names_the_flag (its last check)")
    {
        assert_eq!(data::cifar::identify(&real), vec![CifarKind::Cifar10]);
    }
}
