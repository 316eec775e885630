#!/usr/bin/env bash
# Interoperability between this repository's Rust ESDK and the AWS Encryption SDK for Python.
#
#   interop/run_interop.sh
#
# 1. Rust -> Python: `esdk-test-vectors encrypt` runs the framework's canonical encrypt manifest
#    (0003-awses-message-encryption.v2.json, keys 0002-keys.v3.json; the raw-key scenarios, the
#    KMS ones are skipped) and writes an awses-decrypt v2 manifest; the Python ESDK decrypts every
#    vector (one-shot and streaming API).
# 2. Rust -> Python, must-fail: `esdk-test-vectors decrypt-generate --tampered-only` writes the
#    tampered vectors of framework 0006 (every truncation and single-bit flip of a signed message,
#    half-signing, changed EDK provider info, a signed message for the unsigned-only API); the
#    Python ESDK must reject them all. (None of them appends bytes after a complete message: the
#    Python ESDK accepts trailing data, so such vectors are not given to it.)
# 3. Python -> Rust: the Python ESDK encrypts a seeded random set (all 11 suites, frame lengths
#    that are multiples of 128 as the Python encryptor requires, several encryption contexts,
#    one or two raw AES/RSA keys) and our binary decrypts every vector through all five decrypt
#    paths (one-shot, std::io reader, tokio reader, core 1-byte, core random chunks).
#
# Prints the counts of each direction and exits non-zero on any failure.
#
# Environment: PYTHON (default python3), INTEROP_SEED (default 20241129), INTEROP_COUNT
# (default 200), INTEROP_WORK (output directory; default a fresh temporary directory),
# ESDK_VECTORS (default <repo>/../shared/test-vectors), ESDK_CARGO_FEATURES (extra cargo flags for
# the build, e.g. "--no-default-features --features rustcrypto" for the RustCrypto backend).
# Needs: `pip install -r interop/python/requirements.txt` (aws-encryption-sdk 4.0.7).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VECTORS=${ESDK_VECTORS:-$ROOT/../shared/test-vectors}
PY=${PYTHON:-python3}
SEED=${INTEROP_SEED:-20241129}
COUNT=${INTEROP_COUNT:-200}
WORK=${INTEROP_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/esdk-interop.XXXXXX")}
PYTOOL=$ROOT/interop/python/esdk_vectors.py
CANON=$VECTORS/generation/framework-canonical

if ! "$PY" -c 'import aws_encryption_sdk' 2>/dev/null; then
    echo "error: the AWS Encryption SDK for Python is not installed:" >&2
    echo "       $PY -m pip install -r $ROOT/interop/python/requirements.txt" >&2
    exit 2
fi
for f in "$CANON/0003-awses-message-encryption.v2.json" "$CANON/0002-keys.v3.json" \
         "$CANON/0006-awses-message-decryption-generation.v2.json"; do
    [ -f "$f" ] || { echo "error: missing $f (set ESDK_VECTORS)" >&2; exit 2; }
done

echo "building esdk-test-vectors ..."
# shellcheck disable=SC2086 # word splitting of the flags is intended
(cd "$ROOT" && cargo build --quiet -p esdk-test-vectors ${ESDK_CARGO_FEATURES:-})
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$TARGET_DIR/debug/esdk-test-vectors
mkdir -p "$WORK"
echo "work directory: $WORK (seed $SEED)"

status=0
# The last line of both tools is exactly "N passed, M failed[, K skipped]".
summary() { tail -n 1 "$1"; }

run() { # name, log file, command...
    local name=$1 log=$2
    shift 2
    echo
    echo "=== $name"
    if "$@" >"$log" 2>&1; then :; else status=1; fi
    grep -E '^(FAIL|   FAIL|SKIP|   SKIPPED|manifest |== |   [a-z0-9]+ +[0-9]+ passed)' "$log" | head -n 40 || true
    echo "--> $(summary "$log")"
}

run "Rust encrypts framework 0003 (raw keys)" "$WORK/1-rust-encrypt.log" \
    "$BIN" encrypt --manifest "$CANON/0003-awses-message-encryption.v2.json" \
    --keys "$CANON/0002-keys.v3.json" --out "$WORK/rust-0003" --seed "$SEED" --no-verify
run "Python decrypts the Rust 0003 vectors" "$WORK/1-python-decrypt.log" \
    "$PY" "$PYTOOL" decrypt --manifest "$WORK/rust-0003/manifest.json"

run "Rust writes the tampered framework 0006 vectors" "$WORK/2-rust-tamper.log" \
    "$BIN" decrypt-generate --manifest "$CANON/0006-awses-message-decryption-generation.v2.json" \
    --keys "$CANON/0002-keys.v3.json" --out "$WORK/rust-0006" --seed "$SEED" --tampered-only --no-verify
run "Python decrypts the Rust 0006 vectors (must-fail ones must fail)" "$WORK/2-python-decrypt.log" \
    "$PY" "$PYTOOL" decrypt --manifest "$WORK/rust-0006/manifest.json"

run "Python encrypts $COUNT random scenarios" "$WORK/3-python-encrypt.log" \
    "$PY" "$PYTOOL" encrypt --keys "$CANON/0002-keys.v3.json" --out "$WORK/python-random" \
    --seed "$SEED" --count "$COUNT" --force
run "Rust decrypts the Python vectors (all five paths)" "$WORK/3-rust-decrypt.log" \
    "$BIN" decrypt --manifest "$WORK/python-random/manifest.json"

echo
echo "=== interop summary"
printf '%-48s %s\n' \
    "Rust -> Python (framework 0003, must decrypt):" "$(summary "$WORK/1-python-decrypt.log")" \
    "Rust -> Python (framework 0006 tampered):" "$(summary "$WORK/2-python-decrypt.log")" \
    "Python -> Rust ($COUNT random, 5 paths each):" "$(summary "$WORK/3-rust-decrypt.log")"
# Both tools exit non-zero on failures; also insist that something passed and nothing failed.
for log in 1-python-decrypt 2-python-decrypt 3-rust-decrypt; do
    line=$(summary "$WORK/$log.log")
    if ! [[ $line =~ ^[1-9][0-9]*\ passed,\ 0\ failed ]]; then
        echo "FAILED: $log: $line"
        status=1
    fi
done
if [ "$status" -eq 0 ]; then echo "interop: OK"; else echo "interop: FAILED (logs in $WORK)"; fi
exit "$status"
