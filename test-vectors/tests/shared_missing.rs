//! Without the shared test vectors, every test that reads them fails with one message saying
//! what is missing, where it comes from and how to get it (never a skip, never a bare I/O
//! error). Its own test binary: it moves the vector directory through the environment.
// `std::env::set_var` is `unsafe` in edition 2024; this binary has a single test (one thread).
#![allow(unsafe_code)]

use esdk_test_vectors::shared::{VECTORS_ENV, vector_path, vectors_dir};

#[test]
fn missing_vectors_fail_with_where_they_come_from_and_how_to_get_them() {
    // The default location is `../shared/test-vectors` beside the repository.
    assert!(vectors_dir().ends_with("shared/test-vectors"));
    let nowhere = std::env::temp_dir().join(format!("esdk-no-vectors-{}", std::process::id()));
    // SAFETY: this binary has a single test, so no other thread reads the environment.
    unsafe { std::env::set_var(VECTORS_ENV, &nowhere) };
    let panic = std::panic::catch_unwind(|| vector_path("generation/java-keys.json"))
        .expect_err("a missing vector directory must fail");
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    for needle in [
        "shared test vectors missing",
        "generation/java-keys.json",
        "../shared",
        "shared/test-vectors/README.md",
        VECTORS_ENV,
        "never skipped",
    ] {
        assert!(text.contains(needle), "{needle:?} not in: {text}");
    }
    assert!(text.contains(&*nowhere.to_string_lossy()), "{text}");
    // Pointing the variable at the real vectors works.
    let real = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors");
    // SAFETY: as above.
    unsafe { std::env::set_var(VECTORS_ENV, &real) };
    assert!(vector_path("README.md").is_file());
}
