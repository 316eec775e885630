// Where the shared test vectors are read from, and the one failure every test gives when they
// are missing. A module of esdk-test-vectors (`esdk_test_vectors::shared`), and `include!`d by
// path into the tests of esdk-core, esdk-std, esdk-kms and esdk-cli, so the location and the
// message live in one place. (No inner attributes or `//!` comments: `include!` refuses them.)

/// The environment variable that moves the test-vector directory (default: `../shared/test-vectors`
/// beside the repository root).
pub const VECTORS_ENV: &str = "ESDK_TEST_VECTORS";

/// The directory of the shared test vectors: `$ESDK_TEST_VECTORS` when set, otherwise
/// `../shared/test-vectors` relative to the repository root (every crate of the workspace sits one
/// level below the root).
pub fn vectors_dir() -> std::path::PathBuf {
    match std::env::var_os(VECTORS_ENV) {
        Some(dir) if !dir.is_empty() => std::path::PathBuf::from(dir),
        _ => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors"),
    }
}

/// `rel` under [`vectors_dir`], checked to exist. A missing file or directory is a test failure,
/// never a skip: this panics with [`missing_vectors_message`].
pub fn vector_path(rel: &str) -> std::path::PathBuf {
    let path = vectors_dir().join(rel);
    if !path.exists() {
        panic!("{}", missing_vectors_message(&path));
    }
    path
}

/// What is missing, where it comes from and how to get it.
pub fn missing_vectors_message(missing: &std::path::Path) -> String {
    let dir = vectors_dir();
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    format!(
        "shared test vectors missing: `{}` does not exist.\n\
         This test reads the official AWS Encryption SDK test vectors (Apache-2.0 data copied \
         from AWS's test-vector, SDK and specification repositories; provenance in \
         shared/test-vectors/README.md). They are not part of this repository: they live in the \
         project's `shared/` folder, which is expected at `../shared` beside the repository \
         checkout (CI lays a copy there). Looked in `{}`.\n\
         To run the tests: place (or symlink) that `shared/` folder next to the checkout, or set \
         {VECTORS_ENV}=/path/to/shared/test-vectors. Tests that need the vectors fail without \
         them; they are never skipped.",
        missing.display(),
        dir.display(),
    )
}
