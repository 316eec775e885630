//! Official vectors through a user-supplied provider (`Backend::custom`): a counting wrapper
//! over RustCrypto decrypts every tenth shipped vector on all five decrypt paths, must-fail
//! vectors included, and its counters show that it did the work (raw RSA unwraps included).

#[path = "../../std-ext/tests/support/counting_provider.rs"]
mod counting_provider;

use counting_provider::{Counting, get};
use esdk_test_vectors::runner::{self, PathKind, RunConfig, Tally};
use esdk_test_vectors::sources;
use std::path::PathBuf;

/// The shared vectors' directory; a clear failure when it is missing (see `shared`).
fn vectors() -> PathBuf {
    esdk_test_vectors::shared::vector_path("")
}

#[test]
fn shipped_vector_subset_decrypts_through_a_custom_provider() {
    let p = Counting::default();
    let cfg = RunConfig {
        threads: 2,
        backend: esdk_std::Backend::custom(p.clone()),
        ..RunConfig::default()
    };
    let mut total = Tally::default();
    for input in sources::shipped_inputs(&vectors()) {
        let mut set = sources::load_vectors(&input).expect("load shipped vectors");
        set.vectors = set.vectors.into_iter().step_by(10).collect();
        let report = runner::run_set(&set, &cfg);
        let t = report.tally();
        assert_eq!(t.failed, 0, "{}", report.render(40));
        for path in PathKind::ALL {
            assert_eq!(report.path_counts(path).1, 0, "{}", report.render(40));
            assert_eq!(report.path_counts(path).0, t.passed, "{path:?}");
        }
        total.add(&t);
    }
    println!("{}", total.line());
    assert!(total.passed_must_succeed >= 130, "{}", total.line());
    assert!(total.passed_must_fail >= 3, "{}", total.line());
    // Every must-decrypt vector opened at least one frame on each of the five paths, and
    // every signed one was verified by the custom provider.
    assert!(get(&p.counts.open) >= 5 * total.passed_must_succeed);
    assert!(get(&p.counts.gmac) >= 5 * total.passed_must_succeed);
    assert!(get(&p.counts.ecdsa_verify) > 0);
    assert!(get(&p.counts.hkdf) > 0);
    // The raw RSA vectors' unwraps ran on the custom provider too (issue 13: RSA follows the
    // chosen backend), each key imported into it once.
    assert!(get(&p.counts.rsa_decrypt) > 0);
    assert!(get(&p.counts.rsa_keys) > 0);
}
