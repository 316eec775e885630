#!/usr/bin/env bash
# Source-level coverage of the committed corpora: builds each target with
# `-C instrument-coverage` (`cargo fuzz coverage`), runs it over corpus/<target> and
# regressions/<target>, and prints line and region coverage of esdk-core and esdk-std sources
# (the fuzz harness, std and dependencies are left out). The merged profile stays in
# fuzz/coverage/<target>/coverage.profdata (git-ignored) for `llvm-cov show`.
#
#   bash fuzz/coverage.sh                         # every target
#   bash fuzz/coverage.sh decrypt_chunked
#   LLVM_BIN=/usr/lib/llvm-19/bin bash fuzz/coverage.sh
#
# Needs llvm-profdata and llvm-cov: rustup's llvm-tools component, or Debian's llvm-19 package
# (`apt-get install llvm-19`; LLVM 19's tools read the profiles of newer rustc releases).
# Summaries go to $FUZZ_COVERAGE_OUT (default fuzz/coverage/summary.txt) as well.
set -euo pipefail
cd "$(dirname "$0")"

# shellcheck source=toolchain.sh
source ./toolchain.sh

llvm_bin="${LLVM_BIN:-}"
if [ -z "$llvm_bin" ]; then
  for d in "$SYSROOT/lib/rustlib/$HOST/bin" $(ls -d /usr/lib/llvm-*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/llvm-profdata" ] && [ -x "$d/llvm-cov" ]; then
      llvm_bin="$d"
      break
    fi
  done
fi
if [ -z "$llvm_bin" ]; then
  echo "no llvm-profdata/llvm-cov found: rustup component add llvm-tools, or apt-get install llvm-19," >&2
  echo "or set LLVM_BIN to their directory" >&2
  exit 2
fi

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <("${FUZZ[@]}" list)
fi
out="${FUZZ_COVERAGE_OUT:-coverage/summary.txt}"
mkdir -p "$(dirname "$out")"
: >"$out"

# Only the library sources count; the harness (fuzz/), std and crates.io sources are ignored.
ignore='(/\.cargo/|/rustc/|/fuzz/|/library/)'

for t in "${targets[@]}"; do
  inputs=("corpus/$t")
  if [ -d "regressions/$t" ]; then inputs+=("regressions/$t"); fi
  "${FUZZ[@]}" coverage --llvm-path "$llvm_bin" "$t" "${inputs[@]}" >"coverage/$t.log" 2>&1 || {
    echo "coverage run of $t failed, see fuzz/coverage/$t.log" >&2
    exit 1
  }
  bin="target/$HOST/coverage/$HOST/release/$t"
  {
    echo "=== $t ($(find "${inputs[@]}" -type f | wc -l) inputs)"
    "$llvm_bin/llvm-cov" report "$bin" -instr-profile="coverage/$t/coverage.profdata" \
      --ignore-filename-regex="$ignore" | awk '
        /^Filename/ || /^TOTAL/ || /^-/ { print; next }
        # Files the target never entered are listed in the total but not line by line.
        { if ($4 != "0.00%") print }'
  } | tee -a "$out"
done
echo "summaries in $out"
