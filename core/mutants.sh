#!/usr/bin/env bash
# Mutation campaign over esdk-core's input paths (figures and survivors: core/MUTANTS.md).
#
#   core/mutants.sh                    every listed file (hours on 2 cores)
#   core/mutants.sh codec decrypt      only these files (names under core/src, no .rs)
#   core/mutants.sh --list             count the mutants per file, run nothing
#   MUTANTS_ARGS="--shard 3/40" core/mutants.sh    extra cargo-mutants arguments
#
# Each mutant is built and judged by the whole esdk-core test suite (`cargo test -p esdk-core`).
# The copy cargo-mutants tests in sits under a private TMPDIR that also holds a link to
# ../shared, so the tests that read the official vectors find them as they do in the tree.
# Results: target/mutants/<label>/mutants.out/{caught,missed,timeout,unviable}.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(decrypt header body codec encryption_context edk keys policy raw_aes)
list=0
files=()
for a in "$@"; do
    case "$a" in
        --list) list=1 ;;
        *) files+=("$a") ;;
    esac
done
[ ${#files[@]} -gt 0 ] || files=("${ALL[@]}")

command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked --version 27.1.0

if [ "$list" = 1 ]; then
    total=0
    for f in "${files[@]}"; do
        n=$(cargo mutants --list -p esdk-core -f "core/src/$f.rs" | wc -l)
        printf '%-22s %5d\n' "$f.rs" "$n"
        total=$((total + n))
    done
    printf '%-22s %5d\n' total "$total"
    exit 0
fi

[ -d ../shared ] || { echo "mutants.sh: ../shared (the official vectors) is missing" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$(cd ../shared && pwd)" "$tmp/shared"

label=$(IFS=-; echo "${files[*]}")
label=${label:0:60}${MUTANTS_ARGS:+-$(echo "$MUTANTS_ARGS" | tr -c 'a-zA-Z0-9' _)}
out=target/mutants/$label
mkdir -p "$out"
fargs=()
for f in "${files[@]}"; do fargs+=(-f "core/src/$f.rs"); done

# shellcheck disable=SC2086 # MUTANTS_ARGS is a list of arguments
TMPDIR=$tmp nice -n "${MUTANTS_NICE:-15}" cargo mutants -p esdk-core "${fargs[@]}" \
    --copy-target=false --timeout "${MUTANTS_TIMEOUT:-300}" --build-timeout 900 \
    --output "$out" ${MUTANTS_ARGS:-}
