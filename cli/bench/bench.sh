#!/usr/bin/env bash
# Benchmark: encrypt + decrypt one file with `esdk` and with aws-encryption-cli 4.3.0, same
# file, same raw AES-256 wrapping key (aws-encryption-cli through the interop plugin), default
# frame length (4096), for each suite of ESDK_BENCH_SUITES (default: the default suite
# AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 and the unsigned
# AES_256_GCM_HKDF_SHA512_COMMIT_KEY). Reports wall time, CPU time (user + sys), MiB/s and peak
# RSS of each run and the ratios. Outputs are checked against the input. Output files are
# not fsynced by either tool (esdk's --fsync is off by default, as aws-encryption-cli never
# syncs), so the figures measure the tools, not the disk.
#   bash cli/bench/bench.sh [SIZE_MIB]     (default 1024 = 1 GiB)
# Variables: ESDK_AWSCLI_VENV (default target/awscli-venv), ESDK_BIN (default: release build),
# ESDK_BENCH_SUITES, ESDK_BENCH_SKIP_AWSCLI=1 (esdk only).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
size_mib="${1:-1024}"
venv="${ESDK_AWSCLI_VENV:-$root/target/awscli-venv}"
work="$(mktemp -d "${TMPDIR:-/tmp}/esdk-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if ! "$venv/bin/aws-encryption-cli" --version 2>/dev/null | grep -q "aws-encryption-sdk-cli/4.3.0"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'aws-encryption-sdk-cli==4.3.0'
fi
cp -r "$root/../shared/interop/aws-cli-rawkey-plugin" "$work/plugin"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$work/plugin"
if [ -z "${ESDK_BIN:-}" ]; then
  cargo build --locked --release -p esdk-cli >&2
  ESDK_BIN="$root/target/release/esdk"
fi

mkdir -p "$work/keys"
head -c 32 /dev/urandom >"$work/keys/bench"
export ESDK_INTEROP_KEY_DIR="$work/keys" ESDK_INTEROP_KEY_NAMESPACE=bench
head -c $((size_mib << 20)) /dev/urandom >"$work/plain"

# measure LABEL CMD... : wall seconds, CPU seconds and peak RSS (KiB) of one run.
measure() {
  local label="$1"; shift
  python3 - "$label" "$@" <<'PY'
import resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
t = time.monotonic()
subprocess.run(cmd, check=True)
wall = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%s %.3f %.3f %d" % (label, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss))
PY
}

esdk_key=(-w provider=raw-aes key-namespace=bench key-name=bench "key-file=$work/keys/bench")
py_key=(-w provider=raw-aes-dir key=bench)
suites="${ESDK_BENCH_SUITES:-AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 AES_256_GCM_HKDF_SHA512_COMMIT_KEY}"
for suite in $suites; do
  {
    measure esdk-encrypt "$ESDK_BIN" -e -i "$work/plain" -o "$work/e.enc" -S -q --algorithm "$suite" "${esdk_key[@]}"
    measure esdk-decrypt "$ESDK_BIN" -d -i "$work/e.enc" -o "$work/e.dec" -S -q "${esdk_key[@]}"
    cmp "$work/plain" "$work/e.dec" && rm "$work/e.dec" "$work/e.enc"
    if [ "${ESDK_BENCH_SKIP_AWSCLI:-0}" != 1 ]; then
      measure awscli-encrypt "$venv/bin/aws-encryption-cli" -e -i "$work/plain" -o "$work/p.enc" -S -q --algorithm "$suite" "${py_key[@]}"
      measure awscli-decrypt "$venv/bin/aws-encryption-cli" -d -i "$work/p.enc" -o "$work/p.dec" -S -q "${py_key[@]}"
      cmp "$work/plain" "$work/p.dec" && rm "$work/p.dec" "$work/p.enc"
    fi
  } >"$work/results"
  python3 - "$work/results" "$size_mib" "$suite" <<'PY'
import sys
r = {}
for line in open(sys.argv[1]):
    label, wall, cpu, rss = line.split()
    r[label] = (float(wall), float(cpu), int(rss))
size = int(sys.argv[2])
print("file: %d MiB, suite %s, frame 4096" % (size, sys.argv[3]))
print("%-16s %9s %9s %10s %12s" % ("run", "wall s", "cpu s", "MiB/s", "peak RSS MiB"))
for k, (w, c, m) in r.items():
    print("%-16s %9.3f %9.3f %10.1f %12.1f" % (k, w, c, size / w if w else 0, m / 1024))
for op in ("encrypt", "decrypt"):
    if "awscli-" + op not in r:
        continue
    e, p = r["esdk-" + op], r["awscli-" + op]
    print("%s: esdk is %.1fx faster (wall), %.1fx less CPU; peak RSS %.1f MiB vs %.1f MiB" % (op, p[0] / e[0], p[1] / e[1], e[2] / 1024, p[2] / 1024))
PY
done
