//! Links the binary without the C runtime start files: `_start` is defined in src/main.rs and
//! there is no libc `main` to call. Set here rather than in `.cargo/config.toml` rustflags,
//! which would also apply to build scripts and proc macros on the host (they then crash without
//! a C runtime) and which cargo ignores when invoked from another directory.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    assert!(
        os == "linux" && arch == "x86_64",
        "this check targets x86_64 Linux (it makes raw syscalls)"
    );
    println!("cargo:rustc-link-arg-bins=-nostartfiles");
    println!("cargo:rerun-if-changed=build.rs");
}
