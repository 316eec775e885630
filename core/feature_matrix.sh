#!/usr/bin/env bash
# The esdk-core feature combinations that make sense for a device or a reduced build
# (README "Device builds"): each one is clippy-clean on its own, and the ones with the RustCrypto
# provider pass core/tests/feature_gates.rs (built suites work both ways, every left-out suite
# is refused as Unsupported::SuiteNotBuilt). The default features are tested by the main test step.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK_ONLY=(
    ""                  # no provider, no allocation: the bare engine
    "alloc"
)
TESTED=(
    "rustcrypto"                                        # decrypt-only 0x0478 (the device build)
    "rustcrypto,ecdsa-p384"                             # decrypt-only 0x0478 + 0x0578
    "rustcrypto,encrypt,alloc,getrandom"                # both ways, 0x0478 only
    "rustcrypto,non-committing,ecdsa-p256"              # decrypt legacy + P-256, no P-384
    "rustcrypto,encrypt,non-committing,ecdsa-p384,small-code"  # no P-256, compact SHA-2
)
t0=$SECONDS
for f in "${CHECK_ONLY[@]}" "${TESTED[@]}"; do
    echo "--- esdk-core --no-default-features --features '$f': clippy"
    cargo clippy --quiet --locked -p esdk-core --no-default-features --features "$f" -- -D warnings
done
for f in "${TESTED[@]}"; do
    echo "--- esdk-core --no-default-features --features '$f': tests/feature_gates.rs"
    cargo test --quiet --locked -p esdk-core --no-default-features --features "$f" --test feature_gates
done
echo "feature matrix: $(( ${#CHECK_ONLY[@]} + ${#TESTED[@]} )) combinations in $((SECONDS - t0)) s"
