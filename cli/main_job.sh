#!/usr/bin/env bash
# The main job, through the CLI, on a fresh machine without any cloud account: builds `esdk`,
# makes a local raw AES key, encrypts a real file, decrypts it back and checks the result.
#   bash cli/main_job.sh [FILE]      (default: README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-README.md}"
cargo build --locked -q -p esdk-cli
esdk="$PWD/target/debug/esdk"
work="$(mktemp -d "${TMPDIR:-/tmp}/esdk-main-job.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$esdk" keygen "$work/demo.key"
key=(-w provider=raw-aes key-namespace=demo key-name=demo-key "key-file=$work/demo.key")

"$esdk" --encrypt --input "$file" --output "$work/file.encrypted" \
  --encryption-context purpose=main-job --metadata-output "$work/metadata.json" "${key[@]}"
"$esdk" --decrypt --input "$work/file.encrypted" --output "$work/file.decrypted" \
  --encryption-context purpose=main-job --metadata-output "$work/metadata.json" "${key[@]}"
cmp "$file" "$work/file.decrypted"

echo "header of the encrypted file (esdk inspect, no key needed):"
"$esdk" inspect "$work/file.encrypted"
echo "main job: encrypted $(wc -c <"$file") bytes of $file into $(wc -c <"$work/file.encrypted") bytes and decrypted them back identically; $(wc -l <"$work/metadata.json") metadata records"
