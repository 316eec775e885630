//! Replays every committed fuzz input through the check its fuzz target runs, on the stable
//! toolchain, so that a regression shows without a fuzzer.
//!
//! Inputs: the minimized corpora `fuzz/corpus/<target>/*` and the crash reproducers
//! `fuzz/regressions/<target>/*`. The checks are the fuzz crate's own (`fuzz/src/common`,
//! included below), so replay and fuzzing cannot drift apart. The `raw_rsa_info` target needs
//! `esdk-std` and is replayed by `std-ext/tests/fuzz_corpus_replay.rs`.

#[path = "../../fuzz/src/common/mod.rs"]
#[allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use common::checks::TARGETS;
use std::path::{Path, PathBuf};

/// Targets whose inputs another crate replays.
const ELSEWHERE: &[&str] = &["raw_rsa_info"];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs `target`'s check on each of its corpus and regression files; returns how many ran.
fn replay(target: &str) -> usize {
    let check = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
        .expect("known target");
    common::replay::replay(&fuzz_dir(), target, check)
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let n = replay(stringify!($name));
            assert!(n > 0, "no corpus for {}", stringify!($name));
        }
    )*};
}

replay_tests!(
    header_roundtrip,
    decrypt_rustcrypto,
    decrypt_fuzz_provider,
    decrypt_chunked,
    encrypt_roundtrip,
    context_edk_parse,
    header_work,
);

/// Every corpus directory has a check here or is replayed elsewhere, and every target here
/// has a test above.
#[test]
fn corpus_directories_match_targets() {
    let rd = std::fs::read_dir(fuzz_dir().join("corpus")).expect("fuzz/corpus exists");
    for e in rd {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name) || ELSEWHERE.contains(&name.as_str()),
            "corpus directory {name} has no replay check"
        );
    }
    assert_eq!(TARGETS.len(), 7, "add a replay test for each new target");
}
