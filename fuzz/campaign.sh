#!/usr/bin/env bash
# Long fuzzing campaign: runs the given targets (default: all) one after another at the lowest
# CPU priority, growing fuzz/corpus/<target>. Each target stops after SECONDS of wall time, or
# earlier once its fuzzer has used FUZZ_CPU_SECONDS of CPU time (so that targets sharing a busy
# machine get equal CPU rather than equal wall time). Logs go to $FUZZ_LOG_DIR (default
# /tmp/esdk-fuzz-logs); each ends with libFuzzer's final stats and a `cpu_seconds=` line.
# Minimize afterwards with `cargo +nightly fuzz cmin -O <target>` (see README.md).
#
# FUZZ_NICE sets the niceness (default 19); FUZZ_ARGS adds libFuzzer flags after the defaults
# (a later flag wins, e.g. `-rss_limit_mb=1024 -seed=1000`).
#
#   bash fuzz/campaign.sh 1800                                  # every target, 30 min each
#   FUZZ_CPU_SECONDS=1800 bash fuzz/campaign.sh 14400 decrypt_chunked
set -euo pipefail
cd "$(dirname "$0")"
SECS="${1:-1800}"
shift || true
CPU_BUDGET="${FUZZ_CPU_SECONDS:-0}"
NICE="${FUZZ_NICE:-19}"
read -r -a EXTRA <<<"${FUZZ_ARGS:-}"
LOGS="${FUZZ_LOG_DIR:-/tmp/esdk-fuzz-logs}"
mkdir -p "$LOGS"
# shellcheck source=toolchain.sh
source ./toolchain.sh
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <("${FUZZ[@]}" list)
fi
"${FUZZ[@]}" build -O
TICKS="$(getconf CLK_TCK)"
cpu_of() { awk -v t="$TICKS" '{ printf "%d", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || true; }

for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="$LOGS/$t.$(date +%Y%m%d-%H%M%S).log"
  echo "=== $t: wall ${SECS}s, cpu ${CPU_BUDGET}s (0 = no cap), log $log"
  nice -n "$NICE" "target/$HOST/release/$t" -artifact_prefix="artifacts/$t/" \
    -max_total_time="$SECS" -rss_limit_mb=512 -malloc_limit_mb=64 -timeout=10 \
    -print_final_stats=1 ${EXTRA[@]+"${EXTRA[@]}"} "corpus/$t" >"$log" 2>&1 &
  pid=$!
  cpu=0
  while kill -0 "$pid" 2>/dev/null; do
    c="$(cpu_of "$pid")"
    if [ -n "$c" ]; then cpu="$c"; fi
    if [ "$CPU_BUDGET" -gt 0 ] && [ "$cpu" -ge "$CPU_BUDGET" ]; then
      kill -INT "$pid" 2>/dev/null || true
    fi
    sleep 5
  done
  rc=0
  wait "$pid" || rc=$?
  echo "cpu_seconds=$cpu exit=$rc" >>"$log"
  if grep -qE 'ERROR: libFuzzer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|panicked at' "$log"; then
    echo "!!! $t: finding, see $log and fuzz/artifacts/$t/"
  fi
  grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true
  echo "cpu_seconds=$cpu"
done
