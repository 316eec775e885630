//! The no_std check's deterministic 0x0478 message (frame length 64, one raw AES EDK) and the
//! materials that open it, shared by the tests that drive the decryptor over it by hand.

use esdk_core::DecryptionMaterialsRef;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::decrypt::MaterialsRequest;

/// The message (`core/no-std-check/src/fixture_0478_f64.bin`).
pub const FIXTURE_0478: &[u8] = include_bytes!("../../no-std-check/src/fixture_0478_f64.bin");
/// The raw AES wrapping key of its one EDK (namespace `no-std-check`, name
/// `fixed-wrapping-key`).
pub const WRAPPING_KEY: [u8; 32] = [0x2b; 32];

/// Answers the fixture's materials request: unwraps its EDK with [`WRAPPING_KEY`] and provides
/// the data key. Panics (a test failure) if the EDK is not the fixture's.
pub fn provide_fixture_materials(req: MaterialsRequest<'_, RustCrypto>) {
    let suite = req.suite();
    let ec = req.encryption_context_unverified();
    let edk = req.encrypted_data_keys().into_iter().next().unwrap();
    let dk = esdk_core::raw_aes::unwrap(
        &RustCrypto,
        "no-std-check",
        b"fixed-wrapping-key",
        &WRAPPING_KEY,
        &ec,
        &edk,
    )
    .unwrap()
    .unwrap();
    req.provide(&DecryptionMaterialsRef::new(suite, &dk))
        .unwrap();
}
