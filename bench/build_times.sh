#!/usr/bin/env bash
# Clean build time of each feature set, each in a fresh CARGO_TARGET_DIR under target/, then a
# Markdown table (the README's Measured section shows it).
#
#   bash bench/build_times.sh                  # release builds (what users ship)
#   BUILD_PROFILE=dev bash bench/build_times.sh
#
# Dependencies come from the local registry cache (`cargo fetch` first, not timed), so the
# figures are compile time only. Load average is printed with the table: on a shared machine
# the figures are upper bounds.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=${BUILD_PROFILE:-release}
BASE=$ROOT/target/build-times
mkdir -p "$BASE"
cd "$ROOT"
cargo fetch --locked >/dev/null

# label | cargo arguments
SETS=(
    "esdk-std (default: aws-lc)|-p esdk-std"
    "esdk-std --no-default-features --features rustcrypto|-p esdk-std --no-default-features --features rustcrypto"
    "esdk-core (default: rustcrypto)|-p esdk-core"
    "esdk-core --no-default-features|-p esdk-core --no-default-features"
)

rows=()
for set in "${SETS[@]}"; do
    label=${set%%|*}
    args=${set#*|}
    dir=$BASE/$(echo "$label" | tr -c 'a-zA-Z0-9\n' '_')
    rm -rf "$dir"
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    CARGO_TARGET_DIR=$dir cargo build --locked --profile "$PROFILE" $args >"$dir.log" 2>&1 || {
        echo "build failed: $label (see $dir.log)" >&2
        exit 1
    }
    end=$(date +%s%N)
    secs=$(((end - start) / 1000000000))
    crates=$(grep -c '^ *Compiling ' "$dir.log" || true)
    rows+=("| \`$label\` | $PROFILE | $crates | $secs |")
    rm -rf "$dir"
done

echo
echo "Clean builds on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end:"
echo
echo "| feature set | profile | crates compiled | seconds |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
