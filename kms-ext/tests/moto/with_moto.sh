#!/usr/bin/env bash
# Runs one command with the moto KMS server up and the test environment exported, then stops
# the server (also on failure or interrupt). Exit status: the command's.
#
#   bash kms-ext/tests/moto/with_moto.sh env ESDK_REQUIRE_KMS_TESTS=1 cargo test -p esdk-kms
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ "$#" -gt 0 ] || { echo "usage: with_moto.sh COMMAND [ARGS...]" >&2; exit 2; }
trap 'bash "$here/stop_moto.sh"' EXIT
env_lines="$(bash "$here/start_moto.sh")"
eval "$env_lines"
set +e
"$@"
status=$?
set -e
exit "$status"
