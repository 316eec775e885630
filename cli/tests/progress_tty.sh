#!/usr/bin/env bash
# The progress bar as a person sees it: runs `esdk` in a real terminal (tmux), captures the
# screen while it works and checks what it shows (file name, bar, bytes, rate, ETA; the total
# line with -j and several files), that it is gone afterwards, and that no bar (no escape
# sequences, no carriage returns) is written when stderr is not a terminal or with -q.
# Needs tmux. Prints "N passed, 0 failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
esdk="${ESDK_BIN:-$PWD/target/debug/esdk}"
[ -x "$esdk" ] || cargo build --locked -p esdk-cli >&2
work="$(mktemp -d "${TMPDIR:-/tmp}/esdk-progress.XXXXXX")"
sock="esdk-progress-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
passed=0
failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else echo "FAIL: $1" >&2; failed=$((failed + 1)); fi; }

"$esdk" keygen "$work/key" 2>/dev/null
# Sparse inputs: large enough to take seconds, no disk space; outputs to /dev/null.
truncate -s 256M "$work/big-one.bin"
truncate -s 256M "$work/big-two.bin"
keys=(-w provider=raw-aes key-namespace=tty key-name=k "key-file=$work/key")

# Runs a command in a 120x12 tmux terminal, snapshots the screen every 0.1 s until it exits.
snap() { # name command...
  local name="$1"; shift
  printf '%q ' "$@" >"$work/$name.cmd"
  tmux -L "$sock" new-session -d -x 120 -y 12 -s "$name" \
    "bash $work/$name.cmd; echo EXIT=\$? >$work/$name.rc; sleep 30"
  local i=0
  while [ ! -f "$work/$name.rc" ] && [ $i -lt 3000 ]; do
    tmux -L "$sock" capture-pane -p -t "$name" >"$work/$name.snap.$i" 2>/dev/null || true
    i=$((i + 1))
    sleep 0.1
  done
  sleep 0.3
  tmux -L "$sock" capture-pane -p -t "$name" >"$work/$name.final"
  tmux -L "$sock" kill-session -t "$name"
}

snap single "$esdk" -e -i "$work/big-one.bin" -o /dev/null -S "${keys[@]}"
check "single: exit 0" 'grep -q "EXIT=0" "$work/single.rc"'
# A mid-run screen: name, bar, bytes done of the total, rate, ETA, less than all done.
mid=$(grep -l -E 'big-one\.bin .*[=>].* [0-9.]+ [KMG]iB/256\.00 MiB [0-9.]+ [KMG]iB/s ETA [0-9]+s' "$work"/single.snap.* | head -1 || true)
check "single: a snapshot shows the bar with bytes, rate and ETA" '[ -n "$mid" ]'
[ -n "$mid" ] && { echo "mid-run screen:" >&2; grep -v '^$' "$mid" >&2; }
check "single: the bar is removed at the end" '! grep -q "ETA" "$work/single.final"'

mkdir -p "$work/out"
snap multi2 "$esdk" -e -j 2 -i "$work/big-*.bin" -o "$work/out" -S "${keys[@]}"
check "multi: exit 0" 'grep -q "EXIT=0" "$work/multi2.rc"'
midm=$(grep -l -E 'total .* [KMG]iB/512\.00 MiB .*0/2 files' "$work"/multi2.snap.* | head -1 || true)
check "multi: the total line (bytes of both files, files done)" '[ -n "$midm" ]'
both=$(grep -l 'big-one\.bin' $(grep -l 'big-two\.bin' "$work"/multi2.snap.* 2>/dev/null) 2>/dev/null | head -1 || true)
check "multi: one bar per file being processed" '[ -n "$both" ]'
[ -n "$midm" ] && { echo "mid-run screen (-j 2):" >&2; grep -v '^$' "$midm" >&2; }
rm -f "$work/out"/*

# -q in a terminal: no bar.
snap quiet "$esdk" -e -q -i "$work/big-one.bin" -o /dev/null -S "${keys[@]}"
check "quiet: no bar on any snapshot" '! grep -q -E "ETA|MiB" "$work"/quiet.snap.* "$work/quiet.final"'

# Piped stderr: nothing drawn.
"$esdk" -e -i "$work/big-one.bin" -o /dev/null -S "${keys[@]}" 2>"$work/piped.err"
check "piped: no bar, no escapes, no carriage returns" '! grep -q -P "\x1b|\r|ETA" "$work/piped.err"'

echo "progress-tty: $passed passed, $failed failed"
[ "$failed" = 0 ]
