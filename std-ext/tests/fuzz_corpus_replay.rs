//! Replays the committed inputs of the `raw_rsa_info` fuzz target (`fuzz/corpus/raw_rsa_info`
//! and `fuzz/regressions/raw_rsa_info`) through the target's own check, on the stable
//! toolchain. The other targets are replayed by `core/tests/fuzz_corpus_replay.rs`.

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

#[path = "../../fuzz/src/rsa.rs"]
#[allow(missing_docs, clippy::expect_used, clippy::panic)]
mod rsa;

use std::path::Path;

#[test]
fn raw_rsa_info() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let ran = common::replay::replay(&fuzz, "raw_rsa_info", rsa::raw_rsa_info);
    assert!(ran > 0, "no raw_rsa_info corpus");
}
