#!/usr/bin/env bash
# Interoperability between esdk-rs and the AWS Encryption SDK for JavaScript (@aws-crypto/client-node
# 5.0.2 on Node >= 20, pinned by interop/js/package-lock.json), both directions.
#
#   (cd interop/js && npm ci) && bash interop/js/run_js_interop.sh
#
# 1. Rust -> JS: `esdk-test-vectors encrypt` writes the framework 0003 vectors (raw AES, raw RSA
#    with every padding); JS decrypts every one with `decrypt` and with `decryptStream` fed random
#    chunks.
# 2. Rust -> JS, must-fail: the tampered framework 0006 vectors (`decrypt-generate
#    --tampered-only`); JS must reject each on both paths.
# 3. JS -> Rust: JS encrypts a seeded random set (all 11 suites, frame lengths 1 B..1 MiB, plaintext
#    lengths at frame boundaries, Unicode encryption contexts, 1-3 raw AES/RSA keys); esdk-rs
#    decrypts each on all five paths (one-shot, std::io reader, tokio reader, core 1-byte, core
#    random chunks).
# 4. Streaming, both directions: a JS_STREAM_MIB (default 64) MiB message with 4 KiB and 1 MiB
#    frames between JS encryptStream/decryptStream and each of the four esdk-std streaming
#    adapters (std::io writer and reader, tokio writer and reader), through pipes; plaintext
#    compared by SHA-256, the Rust process's peak RSS checked to stay below half the message.
#    Truncated or altered streams must fail on the receiving side.
# 5. Divergences: every known behavioural difference, asserted against both (divergences.js).
#
# Node runs with --security-revert=CVE-2023-46809 for steps 1-3 (raw RSA PKCS#1 v1.5 private
# decryption, refused by Node 20 otherwise; step 5 asserts that). The streaming step does not
# need it. KMS both ways is a cargo test (kms-ext/tests/kms.rs, js_esdk_kms_interop_both_directions).
#
# Environment: JS_INTEROP_SEED (default 20241129), JS_INTEROP_COUNT (default 220),
# JS_STREAM_MIB (default 64), JS_INTEROP_WORK (default a fresh temporary directory, removed on
# success), ESDK_VECTORS (default <repo>/../shared/test-vectors), NODE (default node).
# Prints the counts of each direction and exits non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VECTORS=${ESDK_VECTORS:-$ROOT/../shared/test-vectors}
NODE=${NODE:-node}
SEED=${JS_INTEROP_SEED:-20241129}
COUNT=${JS_INTEROP_COUNT:-220}
STREAM_MIB=${JS_STREAM_MIB:-64}
WORK=${JS_INTEROP_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/esdk-js-interop.XXXXXX")}
CANON=$VECTORS/generation/framework-canonical
KEYS=$CANON/0002-keys.v3.json
JS="$NODE --security-revert=CVE-2023-46809 $HERE/esdk_vectors.js"

if ! (cd "$HERE" && "$NODE" -e 'require("@aws-crypto/client-node")') 2>/dev/null; then
    echo "error: @aws-crypto/client-node is not installed: (cd $HERE && npm ci)" >&2
    exit 2
fi
for f in "$CANON/0003-awses-message-encryption.v2.json" "$KEYS" \
         "$CANON/0006-awses-message-decryption-generation.v2.json"; do
    [ -f "$f" ] || { echo "error: missing $f (set ESDK_VECTORS)" >&2; exit 2; }
done

echo "building esdk-test-vectors ..."
(cd "$ROOT" && cargo build --quiet --locked -p esdk-test-vectors)
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
    "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
BIN=$TARGET_DIR/debug/esdk-test-vectors
mkdir -p "$WORK"
echo "work directory: $WORK (seed $SEED); node $("$NODE" --version), client-node $("$NODE" -p 'require(process.argv[1]).version' "$HERE/node_modules/@aws-crypto/client-node/package.json")"

status=0
summary() { tail -n 1 "$1"; }
run() { # name, log file, command...
    local name=$1 log=$2 t0=$SECONDS
    shift 2
    echo
    echo "=== $name"
    if "$@" >"$log" 2>&1; then :; else status=1; fi
    grep -E '^(FAIL|   FAIL|SKIP|PASS D|manifest |wrote |== |   [a-z0-9]+ +[0-9]+ passed)' "$log" | head -n 40 || true
    echo "--> $(summary "$log") ($((SECONDS - t0)) s)"
}

run "Rust encrypts framework 0003 (raw keys)" "$WORK/1-rust-encrypt.log" \
    "$BIN" encrypt --manifest "$CANON/0003-awses-message-encryption.v2.json" \
    --keys "$KEYS" --out "$WORK/rust-0003" --seed "$SEED" --no-verify
run "JS decrypts the Rust 0003 vectors (decrypt + decryptStream)" "$WORK/1-js-decrypt.log" \
    $JS decrypt --manifest "$WORK/rust-0003" --seed "$SEED"

run "Rust writes the tampered framework 0006 vectors" "$WORK/2-rust-tamper.log" \
    "$BIN" decrypt-generate --manifest "$CANON/0006-awses-message-decryption-generation.v2.json" \
    --keys "$KEYS" --out "$WORK/rust-0006" --seed "$SEED" --tampered-only --no-verify
run "JS decrypts the Rust 0006 vectors (every must-fail one must fail)" "$WORK/2-js-decrypt.log" \
    $JS decrypt --manifest "$WORK/rust-0006" --seed "$SEED"

run "JS encrypts $COUNT random scenarios" "$WORK/3-js-encrypt.log" \
    $JS encrypt --keys "$KEYS" --out "$WORK/js-random" --seed "$SEED" --count "$COUNT"
run "Rust decrypts the JS vectors (all five paths)" "$WORK/3-rust-decrypt.log" \
    "$BIN" decrypt --manifest "$WORK/js-random/manifest.json"

# ---- 4. streaming
stream_tests() {
    local pt=$WORK/stream.pt key want got frame adapter ok=0 bad=0 t0
    key=$("$NODE" -p 'require("crypto").randomBytes(32).toString("hex")')
    head -c $((STREAM_MIB << 20)) /dev/urandom >"$pt"
    want=$(sha256sum <"$pt" | cut -d' ' -f1)
    echo "plaintext: $STREAM_MIB MiB, sha256 $want"
    # The Rust side must stream: its peak resident memory stays below half the message size.
    local rss=$WORK/stream.rss max_rss_kib=$((STREAM_MIB * 512))
    check() { # label, pipeline status..., digest
        local label=$1 digest=${*: -1} statuses=("${@:2:$#-2}") s kib
        for s in "${statuses[@]}"; do [ "$s" -eq 0 ] || { echo "FAIL $label: exit statuses ${statuses[*]}"; cat "$rss"; bad=$((bad + 1)); return; }; done
        if [ "$digest" != "$want" ]; then echo "FAIL $label: plaintext sha256 $digest"; bad=$((bad + 1)); return; fi
        kib=$(sed -n 's/^peak-rss-kib //p' "$rss")
        if [ -z "$kib" ] || [ "$kib" -gt "$max_rss_kib" ]; then
            echo "FAIL $label: Rust peak RSS ${kib:-unknown} KiB (limit $max_rss_kib KiB)"; bad=$((bad + 1)); return
        fi
        echo "ok   $label ($((SECONDS - t0)) s, Rust peak RSS $((kib / 1024)) MiB)"
        ok=$((ok + 1))
    }
    for frame in 4096 1048576; do
        for adapter in io-writer io-reader tokio-writer tokio-reader; do
            t0=$SECONDS
            got=$("$NODE" "$HERE/esdk_vectors.js" stream-encrypt --key-hex "$key" --frame "$frame" <"$pt" |
                "$BIN" stream-decrypt --adapter "$adapter" --key-hex "$key" --frame "$frame" --suite 0578 \
                    --ec 'purpose=esdk-rs streaming interop' 2>"$rss" | sha256sum | cut -d' ' -f1; echo "${PIPESTATUS[*]}")
            check "JS encryptStream -> Rust $adapter, frame $frame" $(echo "$got" | tail -n1) "$(echo "$got" | head -n1)"
            t0=$SECONDS
            got=$("$BIN" stream-encrypt --adapter "$adapter" --key-hex "$key" --frame "$frame" \
                    --ec 'origin=esdk-rs' --ec '🔐=été' <"$pt" 2>"$rss" |
                "$NODE" "$HERE/esdk_vectors.js" stream-decrypt --key-hex "$key" | sha256sum | cut -d' ' -f1; echo "${PIPESTATUS[*]}")
            check "Rust $adapter -> JS decryptStream, frame $frame" $(echo "$got" | tail -n1) "$(echo "$got" | head -n1)"
        done
    done
    # Negative controls: a stream cut short, or with one flipped bit, fails on the receiving side.
    local ct=$WORK/stream.ct
    "$NODE" "$HERE/esdk_vectors.js" stream-encrypt --key-hex "$key" --frame 4096 <"$pt" >"$ct"
    for adapter in io-reader tokio-writer; do
        if head -c $(($(stat -c %s "$ct") - 1)) "$ct" | "$BIN" stream-decrypt --adapter "$adapter" --key-hex "$key" >/dev/null 2>&1; then
            echo "FAIL Rust $adapter accepted a JS stream missing its last byte"; bad=$((bad + 1))
        else echo "ok   Rust $adapter rejects a truncated JS stream"; ok=$((ok + 1)); fi
    done
    "$BIN" stream-encrypt --adapter io-writer --key-hex "$key" --frame 4096 <"$pt" >"$ct" 2>"$rss"
    if head -c $(($(stat -c %s "$ct") / 2)) "$ct" | "$NODE" "$HERE/esdk_vectors.js" stream-decrypt --key-hex "$key" >/dev/null 2>&1; then
        echo "FAIL JS accepted a Rust stream cut in half"; bad=$((bad + 1))
    else echo "ok   JS decryptStream rejects a truncated Rust stream"; ok=$((ok + 1)); fi
    printf '\x01' | dd of="$ct" bs=1 seek=$(($(stat -c %s "$ct") / 2)) conv=notrunc status=none
    if "$NODE" "$HERE/esdk_vectors.js" stream-decrypt --key-hex "$key" <"$ct" >/dev/null 2>&1; then
        echo "FAIL JS accepted a Rust stream with a changed byte"; bad=$((bad + 1))
    else echo "ok   JS decryptStream rejects a Rust stream with a changed byte"; ok=$((ok + 1)); fi
    rm -f "$pt" "$ct" "$rss"
    echo "$ok passed, $bad failed"
    [ "$bad" -eq 0 ]
}
run "Streaming $STREAM_MIB MiB both ways: JS encryptStream/decryptStream <-> Rust std::io and tokio adapters" \
    "$WORK/4-stream.log" stream_tests
grep -E '^ok ' "$WORK/4-stream.log" || true

run "Divergences, each asserted against both implementations" "$WORK/5-divergences.log" \
    "$NODE" "$HERE/divergences.js" --bin "$BIN" --keys "$KEYS"

echo
echo "=== JavaScript interop summary"
printf '%-58s %s\n' \
    "Rust -> JS (framework 0003, must decrypt, 2 JS paths):" "$(summary "$WORK/1-js-decrypt.log")" \
    "Rust -> JS (framework 0006 tampered, must fail):" "$(summary "$WORK/2-js-decrypt.log")" \
    "JS -> Rust ($COUNT random, 5 paths each):" "$(summary "$WORK/3-rust-decrypt.log")" \
    "Streaming ${STREAM_MIB} MiB both ways (+ negative controls):" "$(summary "$WORK/4-stream.log")" \
    "Divergences asserted:" "$(summary "$WORK/5-divergences.log")"
for log in 1-js-decrypt 2-js-decrypt 3-rust-decrypt 4-stream 5-divergences; do
    line=$(summary "$WORK/$log.log")
    if ! [[ $line =~ ^[1-9][0-9]*\ passed,\ 0\ failed ]]; then
        echo "FAILED: $log: $line"
        status=1
    fi
done
if [ "$status" -eq 0 ]; then
    echo "js interop: OK"
    [ -n "${JS_INTEROP_WORK:-}" ] || rm -rf "$WORK"
else
    echo "js interop: FAILED (logs in $WORK)"
fi
exit "$status"
