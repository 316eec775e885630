#!/usr/bin/env bash
# Mutation campaign over esdk-core's input paths (figures and survivors: core/MUTANTS.md).
#
#   core/mutants.sh                    every listed file (hours on 2 cores)
#   core/mutants.sh codec decrypt      only these files (names under core/src, no .rs)
#   core/mutants.sh --list             count the mutants per file, run nothing
#   MUTANTS_ARGS="--shard 3/40" core/mutants.sh    extra cargo-mutants arguments
#   core/mutants.sh --summary target/mutants/<label>/mutants.out/outcomes.json
#                                      per-file table of a (possibly stopped) run
#   core/mutants.sh --ci               the CI sample (.ci/run): every mutant of core/src/policy.rs
#                                      (MUTANTS_CI_FILE to change), built in place in the tree's own
#                                      target dir; fails on a missed mutant. Equivalent mutants
#                                      are excluded by .cargo/mutants.toml (listed in MUTANTS.md).
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
        --summary | --ci) break ;;
        *) files+=("$a") ;;
    esac
done
[ ${#files[@]} -gt 0 ] || files=("${ALL[@]}")

# Per-file counts from cargo-mutants' outcomes.json (also for a run that was stopped part-way:
# the file is rewritten after every mutant).
summary() {
    python3 - "$1" <<'PY'
import collections, json, sys
d = json.load(open(sys.argv[1]))
rows = collections.defaultdict(collections.Counter)
for o in d["outcomes"]:
    sc = o["scenario"]
    if not isinstance(sc, dict):
        continue
    name = sc["Mutant"]["name"]
    rows[name.split(":")[0]][o["summary"]] += 1
kinds = ["CaughtMutant", "MissedMutant", "Timeout", "Unviable"]
print(f"{'file':32} {'tested':>6} {'caught':>6} {'missed':>6} {'timeout':>7} {'unviable':>8}  caught/viable")
tot = collections.Counter()
for f in sorted(rows):
    c = rows[f]
    tot.update(c)
    viable = c["CaughtMutant"] + c["MissedMutant"] + c["Timeout"]
    score = f"{100 * (c['CaughtMutant'] + c['Timeout']) / viable:.1f} %" if viable else "-"
    print(f"{f:32} {sum(c.values()):6} " + " ".join(f"{c[k]:>{w}}" for k, w in zip(kinds, [6, 6, 7, 8])) + f"  {score}")
viable = tot["CaughtMutant"] + tot["MissedMutant"] + tot["Timeout"]
if viable:
    print(f"{'total':32} {sum(tot.values()):6} " + " ".join(f"{tot[k]:>{w}}" for k, w in zip(kinds, [6, 6, 7, 8]))
          + f"  {100 * (tot['CaughtMutant'] + tot['Timeout']) / viable:.1f} %")
PY
}

if [ "${1:-}" = "--summary" ]; then
    summary "${2:?usage: mutants.sh --summary target/mutants/<label>/mutants.out/outcomes.json}"
    exit 0
fi

MUTANTS_VERSION=27.1.0
if [ "$(cargo mutants --version 2>/dev/null)" != "cargo-mutants $MUTANTS_VERSION" ]; then
    # A debug build: cargo-mutants only drives cargo, and its debug build compiles in much less
    # time than the release one (figures in MUTANTS.md).
    cargo install --debug --locked --version "$MUTANTS_VERSION" cargo-mutants
fi

if [ "${1:-}" = "--ci" ]; then
    # In place: no copy of the tree and no cold build, the mutants are built in target/ next to
    # what the test step built (run it last: the tree's esdk-core is rebuilt afterwards). The
    # source file is restored after each mutant.
    f=${MUTANTS_CI_FILE:-policy}
    out=target/mutants/ci
    rm -rf "$out"
    mkdir -p "$out"
    t0=$SECONDS
    set +e
    cargo mutants -p esdk-core -f "core/src/$f.rs" --in-place \
        --timeout "${MUTANTS_TIMEOUT:-180}" --build-timeout 600 --output "$out"
    status=$?
    set -e
    summary "$out/mutants.out/outcomes.json"
    echo "mutants sample of core/src/$f.rs: $((SECONDS - t0)) s, cargo-mutants status $status"
    case $status in
        # 3: some mutant made the suite hang past the timeout, so it did not pass: caught.
        0 | 3) exit 0 ;;
        2)
            echo "MISSED mutants (kill each with a test, or list it as equivalent in"
            echo ".cargo/mutants.toml and core/MUTANTS.md):"
            cat "$out/mutants.out/missed.txt"
            exit 1
            ;;
        *) exit 1 ;;
    esac
fi

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
set +e
TMPDIR=$tmp nice -n "${MUTANTS_NICE:-15}" cargo mutants -p esdk-core "${fargs[@]}" \
    --copy-target=false --timeout "${MUTANTS_TIMEOUT:-300}" --build-timeout 900 \
    --output "$out" ${MUTANTS_ARGS:-}
status=$?
summary "$out/mutants.out/outcomes.json"
exit $status
