#!/usr/bin/env bash
# Benchmark: encrypt + decrypt one file with `esdk` and with aws-encryption-cli 4.3.0, same
# file, same raw AES-256 wrapping key (aws-encryption-cli through the interop plugin), for each
# suite of ESDK_BENCH_SUITES (default: the default suite
# AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 and the unsigned
# AES_256_GCM_HKDF_SHA512_COMMIT_KEY) and each frame length of ESDK_BENCH_FRAMES (default
# "4096 65536 1048576": aws-encryption-cli's default 4096, then two extra rows). Each cell runs
# ESDK_BENCH_REPS times (default 3) with the tools interleaved and `sync` (untimed) before
# every run; it reports best and median wall time, median CPU time (user + sys), MiB/s and
# peak RSS, the ratios, and for signed suites the SHA-384 ceiling measured in the same run
# (cli/bench/bench.py). Outputs are checked against the input and live in the same directory
# (filesystem) as the input: ESDK_BENCH_DIR (default: a new directory under TMPDIR or /tmp).
# Output files are not fsynced by either tool (esdk's --fsync is off by default, as
# aws-encryption-cli never syncs).
#   bash cli/bench/bench.sh [SIZE_MIB]     (default 1024 = 1 GiB)
# Variables: ESDK_AWSCLI_VENV (default target/awscli-venv), ESDK_BIN (default: release build),
# ESDK_BENCH_SUITES, ESDK_BENCH_FRAMES, ESDK_BENCH_REPS, ESDK_BENCH_THREADS (esdk --threads),
# ESDK_BENCH_SKIP_AWSCLI=1 (esdk only), ESDK_BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
size_mib="${1:-1024}"
venv="${ESDK_AWSCLI_VENV:-$root/target/awscli-venv}"
work="$(mktemp -d "${ESDK_BENCH_DIR:-${TMPDIR:-/tmp}}/esdk-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [ "${ESDK_BENCH_SKIP_AWSCLI:-0}" != 1 ] && ! "$venv/bin/aws-encryption-cli" --version 2>/dev/null | grep -q "aws-encryption-sdk-cli/4.3.0"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'aws-encryption-sdk-cli==4.3.0'
fi
if [ "${ESDK_BENCH_SKIP_AWSCLI:-0}" != 1 ]; then
  cp -r "$root/../shared/interop/aws-cli-rawkey-plugin" "$work/plugin"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$work/plugin"
fi
if [ -z "${ESDK_BIN:-}" ]; then
  cargo build --locked --release -p esdk-cli >&2
  ESDK_BIN="$root/target/release/esdk"
fi
cargo build --locked --release -p esdk-cli --example sha384_speed >&2

mkdir -p "$work/keys"
head -c 32 /dev/urandom >"$work/keys/bench"
export ESDK_INTEROP_KEY_DIR="$work/keys" ESDK_INTEROP_KEY_NAMESPACE=bench
head -c $((size_mib << 20)) /dev/urandom >"$work/plain"

python3 "$root/cli/bench/bench.py" "$work" "$size_mib" "$ESDK_BIN" "$venv/bin/aws-encryption-cli" \
  "$root/target/release/examples/sha384_speed"
