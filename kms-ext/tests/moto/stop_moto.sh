#!/usr/bin/env bash
# Stops the moto server started by start_moto.sh (same ESDK_MOTO_PORT / ESDK_MOTO_DIR).
set -uo pipefail
port="${ESDK_MOTO_PORT:-5599}"
dir="${ESDK_MOTO_DIR:-${TMPDIR:-/tmp}/esdk-moto-$port}"
if [ -f "$dir/pid" ]; then
  pid="$(cat "$dir/pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$dir/pid"
  echo "stop_moto.sh: moto (pid $pid) stopped" >&2
fi
exit 0
