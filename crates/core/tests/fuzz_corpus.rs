//! Replays the fuzz corpus (crates/core/fuzz/corpus/<target>/*: seeds and every
//! input a fuzzer found) through the fuzz targets' own checks, so the normal
//! stable `cargo test` holds every past finding.

#[path = "../fuzz/src/lib.rs"]
mod fuzzcheck;

use std::path::{Path, PathBuf};

// decoder_memory and block_parse measure the heap the code under test holds.
#[global_allocator]
static ALLOC: fuzzcheck::CountingAlloc = fuzzcheck::CountingAlloc;

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `check` on every input, naming each one that fails.
fn replay(target: &str, check: fuzzcheck::Check, inputs: Vec<(String, Vec<u8>)>) {
    assert!(!inputs.is_empty(), "{target}: nothing to replay");
    let failed: Vec<String> = inputs
        .into_iter()
        .filter(|(_, bytes)| std::panic::catch_unwind(|| check(bytes)).is_err())
        .map(|(name, _)| name)
        .collect();
    assert!(failed.is_empty(), "{target} fails on {failed:?}");
}

fn replay_corpus(target: &str) {
    let check = fuzzcheck::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, check)| *check)
        .unwrap();
    let inputs = corpus_files(target)
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path.display().to_string(), bytes)
        })
        .collect();
    replay(target, check, inputs);
}

#[test]
fn decoder_split_corpus() {
    replay_corpus("decoder_split");
}

#[test]
fn decoder_memory_corpus() {
    replay_corpus("decoder_memory");
}

#[test]
fn frame_roundtrip_corpus() {
    replay_corpus("frame_roundtrip");
}

#[test]
fn block_parse_corpus() {
    replay_corpus("block_parse");
}

#[test]
fn block_mutation_corpus() {
    replay_corpus("block_mutation");
}

#[test]
fn the_corpus_has_one_directory_per_target() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut targets: Vec<&str> = fuzzcheck::TARGETS.iter().map(|(name, _)| *name).collect();
    targets.sort();
    assert_eq!(found, targets);
}

#[test]
fn the_seeds_are_in_the_corpus_and_pass() {
    for (target, check) in fuzzcheck::TARGETS {
        let files = corpus_files(target);
        let seeds = fuzzcheck::seeds(target);
        for (name, bytes) in &seeds {
            let file = files
                .iter()
                .find(|path| path.ends_with(format!("seed-{name}")))
                .unwrap_or_else(|| {
                    panic!("{target}: seed-{name} missing; run `cargo run --example make_seeds` in crates/core/fuzz")
                });
            assert_eq!(
                &std::fs::read(file).unwrap(),
                bytes,
                "{target}: seed-{name} is stale"
            );
        }
        let named = seeds.into_iter().map(|(n, b)| (n.to_owned(), b)).collect();
        replay(target, check, named);
    }
}
