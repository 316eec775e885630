#!/usr/bin/env bash
# Starts the moto KMS test server on 127.0.0.1 (fixed port) in the background and waits until it
# answers. Prints the environment the tests need, as `export` lines:
#
#   eval "$(bash kms-ext/tests/moto/start_moto.sh)"
#   cargo test -p esdk-kms
#   bash kms-ext/tests/moto/stop_moto.sh
#
# Or run one command with the server up and the environment set: with_moto.sh CMD...
#
# Variables: ESDK_MOTO_PORT (default 5599), ESDK_MOTO_DIR (pid and log files, default
# ${TMPDIR:-/tmp}/esdk-moto-$ESDK_MOTO_PORT), PYTHON (default python3).
# Installs moto[server] 5.2.1 from PyPI if moto's server is not importable.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${ESDK_MOTO_PORT:-5599}"
dir="${ESDK_MOTO_DIR:-${TMPDIR:-/tmp}/esdk-moto-$port}"
py="${PYTHON:-python3}"
mkdir -p "$dir"

if ! "$py" -c 'import moto.server, flask, flask_cors' >/dev/null 2>&1; then
  echo "start_moto.sh: installing moto[server]==5.2.1" >&2
  "$py" -m pip install --quiet 'moto[server]==5.2.1' flask flask-cors >&2
fi

if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
  echo "start_moto.sh: moto already running (pid $(cat "$dir/pid"))" >&2
else
  "$py" "$here/moto_server.py" --host 127.0.0.1 --port "$port" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
fi

url="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
  if "$py" - "$url" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1).read()
PY
  then
    echo "start_moto.sh: moto answers on $url (pid $(cat "$dir/pid"), log $dir/log)" >&2
    grep -m1 "moto " "$dir/log" >&2 || true
    cat <<ENV
export AWS_ENDPOINT_URL_KMS=$url
export AWS_ENDPOINT_URL_DYNAMODB=$url
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_SESSION_TOKEN=testing
export AWS_REGION=us-west-2
export AWS_DEFAULT_REGION=us-west-2
export AWS_EC2_METADATA_DISABLED=true
ENV
    exit 0
  fi
  if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "start_moto.sh: moto exited; its log:" >&2
    cat "$dir/log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "start_moto.sh: moto did not answer on $url within 30 s; its log:" >&2
cat "$dir/log" >&2
exit 1
