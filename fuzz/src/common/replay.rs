//! Replay of committed fuzz inputs without a fuzzer, for the stable-toolchain tests of the main
//! workspace (`core/tests/fuzz_corpus_replay.rs`, `std-ext/tests/fuzz_corpus_replay.rs`).

use std::path::{Path, PathBuf};

/// Runs `check` on every file of `fuzz/corpus/<target>` and `fuzz/regressions/<target>`
/// (sorted, so failures are reported in a stable order) and panics, naming every failing
/// input, if any check panicked. Returns how many inputs ran.
pub fn replay(fuzz_dir: &Path, target: &str, check: super::checks::Check) -> usize {
    let mut ran = 0;
    let mut failed = Vec::new();
    for sub in ["corpus", "regressions"] {
        for path in files(&fuzz_dir.join(sub).join(target)) {
            let data = std::fs::read(&path).expect("readable corpus file");
            let res = std::panic::catch_unwind(|| check(&data));
            if res.is_err() {
                failed.push(path.display().to_string());
            }
            ran += 1;
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs: {failed:#?}");
    ran
}

/// The regular files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}
