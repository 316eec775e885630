#!/usr/bin/env bash
# Fuzz smoke run (called by .ci/run): builds every cargo-fuzz target and runs each one for a
# bounded time, starting from its committed corpus; fails on any crash, panic, leak, timeout or
# out-of-memory. New inputs go to a scratch directory, never into the committed corpus.
#
#   bash fuzz/smoke.sh            # 30 s per target
#   FUZZ_SMOKE_SECONDS=5 bash fuzz/smoke.sh
#
# Long campaigns: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")"

SECS="${FUZZ_SMOKE_SECONDS:-30}"
# Small enough that an allocation sized from an attacker-declared length is caught.
LIMITS=(-rss_limit_mb=512 -malloc_limit_mb=64 -timeout=10)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
# shellcheck source=toolchain.sh
source ./toolchain.sh

"${FUZZ[@]}" build
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in $("${FUZZ[@]}" list); do
  echo "=== fuzz smoke: $t (${SECS}s)"
  mkdir -p "$scratch/$t" "corpus/$t"
  if ! "${FUZZ[@]}" run "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$SECS" "${LIMITS[@]}" -print_final_stats=1 2>"$scratch/$t.log"; then
    tail -n 60 "$scratch/$t.log"
    failed+=("$t")
  else
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$scratch/$t.log" || true
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz smoke failed: ${failed[*]} (reproducers in fuzz/artifacts/<target>/)"
  exit 1
fi
echo "fuzz smoke: all targets ran ${SECS}s without a crash"
