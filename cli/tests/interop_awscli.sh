#!/usr/bin/env bash
# Interoperability of `esdk` with the real aws-encryption-cli 4.3.0, both directions:
#  - raw AES keys (esdk's provider=raw-aes against the plugin in ../shared/interop/aws-cli-rawkey-plugin)
#    for every suite the policies allow, several frame lengths and plaintext sizes at the frame
#    boundaries, files / directories / stdin-stdout with Base64;
#  - AWS KMS keys (strict and discovery) against the KMS-compatible server of the tests (moto),
#    when AWS_ENDPOINT_URL_KMS is set (required with ESDK_REQUIRE_KMS_TESTS=1);
#  - metadata records compared field by field with aws-encryption-cli's for the same inputs.
# Prints "N passed, 0 failed" at the end; exits non-zero on any mismatch.
#
# Variables: ESDK_AWSCLI_VENV (default target/awscli-venv), ESDK_BIN (default: builds
# target/debug/esdk).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
venv="${ESDK_AWSCLI_VENV:-$root/target/awscli-venv}"
work="$(mktemp -d "${TMPDIR:-/tmp}/esdk-awscli-interop.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if ! "$venv/bin/aws-encryption-cli" --version 2>/dev/null | grep -q "aws-encryption-sdk-cli/4.3.0"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'aws-encryption-sdk-cli==4.3.0' boto3
fi
# The plugin (copied: ../shared is read-only and pip builds in place).
cp -r "$root/../shared/interop/aws-cli-rawkey-plugin" "$work/plugin"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$work/plugin"

if [ -z "${ESDK_BIN:-}" ]; then
  cargo build --locked -p esdk-cli >&2
  ESDK_BIN="$root/target/debug/esdk"
fi
esdk="$ESDK_BIN"
awscli="$venv/bin/aws-encryption-cli"
py="$venv/bin/python"

passed=0
failed=0
ok() { passed=$((passed + $1)); }
bad() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

mkdir -p "$work/keys"
head -c 32 /dev/urandom >"$work/keys/k256"
head -c 16 /dev/urandom >"$work/keys/k128"
export ESDK_INTEROP_KEY_DIR="$work/keys"
export ESDK_INTEROP_KEY_NAMESPACE="esdk-interop"

# Compare two directory trees of plaintexts (file names without the tool suffixes).
compare_tree() { # expected_dir got_dir suffix -> count
  local exp="$1" got="$2" suffix="$3" n=0
  while IFS= read -r f; do
    rel="${f#"$exp"/}"
    if cmp -s "$f" "$got/$rel$suffix"; then n=$((n + 1)); else bad "$got/$rel$suffix differs from $f"; fi
  done < <(find "$exp" -type f)
  echo "$n"
}

make_plain() { # dir frame
  local d="$1" f="$2"
  mkdir -p "$d"
  for n in 0 1 $((f - 1)) "$f" $((f + 1)) $((3 * f + 7)); do
    [ "$n" -ge 0 ] || continue
    head -c "$n" /dev/urandom >"$d/p$n"
  done
}

raw_esdk=(-w provider=raw-aes key-namespace=esdk-interop key-name=k256 "key-file=$work/keys/k256")
raw_py=(-w provider=raw-aes-dir key=k256)

suites_commit="AES_256_GCM_HKDF_SHA512_COMMIT_KEY AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"
suites_legacy="AES_128_GCM_IV12_TAG16 AES_192_GCM_IV12_TAG16 AES_256_GCM_IV12_TAG16 AES_128_GCM_IV12_TAG16_HKDF_SHA256 AES_192_GCM_IV12_TAG16_HKDF_SHA256 AES_256_GCM_IV12_TAG16_HKDF_SHA256 AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256 AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384"

echo "--- raw AES, directories: every suite x frame lengths x sizes, both directions" >&2
for suite in $suites_commit $suites_legacy; do
  policy=require-encrypt-require-decrypt
  case " $suites_legacy " in *" $suite "*) policy=forbid-encrypt-allow-decrypt ;; esac
  for frame in 128 4096 65536; do  # aws-encryption-cli needs multiples of 128
    t="$work/m-$suite-$frame"
    make_plain "$t/plain" "$frame"
    mkdir -p "$t/e1" "$t/d1" "$t/e2" "$t/d2"
    common=(--algorithm "$suite" --frame-length "$frame" --commitment-policy "$policy" -S -r)
    # esdk -> aws-encryption-cli
    "$esdk" -e -i "$t/plain" -o "$t/e1" "${common[@]}" "${raw_esdk[@]}" -c purpose=interop
    "$awscli" -d -i "$t/e1" -o "$t/d1" -S -r --commitment-policy "$policy" "${raw_py[@]}" -c purpose=interop
    ok "$(compare_tree "$t/plain" "$t/d1" .encrypted.decrypted)"
    # aws-encryption-cli -> esdk
    "$awscli" -e -i "$t/plain" -o "$t/e2" "${common[@]}" "${raw_py[@]}" -c purpose=interop
    "$esdk" -d -i "$t/e2" -o "$t/d2" -S -r --commitment-policy "$policy" "${raw_esdk[@]}" -c purpose=interop
    ok "$(compare_tree "$t/plain" "$t/d2" .encrypted.decrypted)"
  done
done

echo "--- stdin/stdout with Base64, AES-128 wrapping key, both directions" >&2
head -c 200000 /dev/urandom >"$work/stream.bin"
raw128_esdk=(-w provider=raw-aes key-namespace=esdk-interop key-name=k128 "key-file=$work/keys/k128")
"$esdk" -e -i - -o - -S --encode "${raw128_esdk[@]}" <"$work/stream.bin" \
  | "$awscli" -d -i - -o - -S --decode -w provider=raw-aes-dir key=k128 >"$work/stream.1"
cmp -s "$work/stream.bin" "$work/stream.1" && ok 1 || bad "esdk | aws-encryption-cli (base64 stdin/stdout)"
"$awscli" -e -i - -o - -S --encode -w provider=raw-aes-dir key=k128 <"$work/stream.bin" \
  | "$esdk" -d -i - -o - -S --decode "${raw128_esdk[@]}" >"$work/stream.2"
cmp -s "$work/stream.bin" "$work/stream.2" && ok 1 || bad "aws-encryption-cli | esdk (base64 stdin/stdout)"
"$awscli" -e -i - -o - -S -w provider=raw-aes-dir key=k128 <"$work/stream.bin" \
  | "$esdk" -d -i - -o - -S -b "${raw128_esdk[@]}" >"$work/stream.3"
cmp -s "$work/stream.bin" "$work/stream.3" && ok 1 || bad "aws-encryption-cli | esdk --buffer"

echo "--- non-framed messages (--frame-length 0), both directions" >&2
for suite in $suites_commit AES_256_GCM_IV12_TAG16_HKDF_SHA256; do
  policy=require-encrypt-require-decrypt
  [ "$suite" = AES_256_GCM_IV12_TAG16_HKDF_SHA256 ] && policy=forbid-encrypt-allow-decrypt
  t="$work/nf-$suite"
  mkdir -p "$t/plain" "$t/e1" "$t/d1" "$t/e2" "$t/d2"
  for n in 0 1 4096 100000; do head -c "$n" /dev/urandom >"$t/plain/p$n"; done
  common=(--algorithm "$suite" --frame-length 0 --commitment-policy "$policy" -S -r)
  "$esdk" -e -i "$t/plain" -o "$t/e1" "${common[@]}" "${raw_esdk[@]}"
  "$awscli" -d -i "$t/e1" -o "$t/d1" -S -r --commitment-policy "$policy" "${raw_py[@]}"
  ok "$(compare_tree "$t/plain" "$t/d1" .encrypted.decrypted)"
  "$awscli" -e -i "$t/plain" -o "$t/e2" "${common[@]}" "${raw_py[@]}"
  # What aws-encryption-cli wrote is non-framed indeed (content type 1 in esdk inspect).
  "$esdk" inspect "$t/e2/p100000.encrypted" | grep -q '"content_type": *1' && ok 1 \
    || bad "aws-encryption-cli --frame-length 0 did not write a non-framed message"
  "$esdk" -d -i "$t/e2" -o "$t/d2" -S -r --commitment-policy "$policy" "${raw_esdk[@]}"
  ok "$(compare_tree "$t/plain" "$t/d2" .encrypted.decrypted)"
done
# stdin to stdout (esdk does not know the length up front).
"$esdk" -e -i - -o - -S --frame-length 0 "${raw_esdk[@]}" <"$work/stream.bin" \
  | "$awscli" -d -i - -o - -S "${raw_py[@]}" >"$work/stream.nf"
cmp -s "$work/stream.bin" "$work/stream.nf" && ok 1 || bad "esdk --frame-length 0 | aws-encryption-cli (stdin/stdout)"

echo "--- metadata records, field by field" >&2
m="$work/meta"
mkdir -p "$m"
printf 'metadata test\n' >"$m/p.txt"
"$esdk" -e -i "$m/p.txt" -o "$m/esdk.enc" --metadata-output "$m/esdk-enc.json" "${raw_esdk[@]}" -c a=b "c=d é"
"$awscli" -e -i "$m/p.txt" -o "$m/py.enc" --metadata-output "$m/py-enc.json" "${raw_py[@]}" -c a=b "c=d é"
"$awscli" -e -i "$m/p.txt" -o "$m/py1.enc" --metadata-output "$m/py1-enc.json" "${raw_py[@]}" \
  --commitment-policy forbid-encrypt-allow-decrypt --algorithm AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384
"$esdk" -e -i "$m/p.txt" -o "$m/esdk1.enc" --metadata-output "$m/esdk1-enc.json" "${raw_esdk[@]}" \
  --commitment-policy forbid-encrypt-allow-decrypt --algorithm AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384
for f in esdk.enc py.enc; do
  for tool in esdk py; do
    if [ "$tool" = esdk ]; then
      "$esdk" -d -i "$m/$f" -o "$m/$f.$tool.dec" --metadata-output "$m/$f.$tool.dec.json" "${raw_esdk[@]}"
      "$esdk" -d -i "$m/$f" -o "$m/$f.$tool.skip" --metadata-output "$m/$f.$tool.skip.json" "${raw_esdk[@]}" -c a=x missing -q
    else
      "$awscli" -d -i "$m/$f" -o "$m/$f.$tool.dec" --metadata-output "$m/$f.$tool.dec.json" "${raw_py[@]}"
      "$awscli" -d -i "$m/$f" -o "$m/$f.$tool.skip" --metadata-output "$m/$f.$tool.skip.json" "${raw_py[@]}" -c a=x missing -q
    fi
  done
done
for f in py1.enc esdk1.enc; do
  "$esdk" -d -i "$m/$f" -o "$m/$f.esdk.dec" --metadata-output "$m/$f.esdk.dec.json" "${raw_esdk[@]}" --commitment-policy require-encrypt-allow-decrypt
  "$awscli" -d -i "$m/$f" -o "$m/$f.py.dec" --metadata-output "$m/$f.py.dec.json" "${raw_py[@]}" --commitment-policy require-encrypt-allow-decrypt
done
n=$("$py" "$root/cli/tests/compare_metadata.py" "$m")
ok "$n"

if [ -n "${AWS_ENDPOINT_URL_KMS:-}" ]; then
  echo "--- AWS KMS (moto at $AWS_ENDPOINT_URL_KMS): strict and discovery, both directions" >&2
  arn=$("$py" - <<'PY'
import boto3
print(boto3.client("kms").create_key(Description="esdk cli interop")["KeyMetadata"]["Arn"])
PY
)
  k="$work/kms"
  mkdir -p "$k/e1" "$k/d1" "$k/e2" "$k/d2" "$k/d3" "$k/d4"
  make_plain "$k/plain" 4096
  "$esdk" -e -r -i "$k/plain" -o "$k/e1" -S -w "key=$arn" -c tool=esdk
  "$awscli" -d -r -i "$k/e1" -o "$k/d1" -S -w "key=$arn"
  ok "$(compare_tree "$k/plain" "$k/d1" .encrypted.decrypted)"
  "$awscli" -d -r -i "$k/e1" -o "$k/d3" -S -w provider=aws-kms discovery=true
  ok "$(compare_tree "$k/plain" "$k/d3" .encrypted.decrypted)"
  "$awscli" -e -r -i "$k/plain" -o "$k/e2" -S -w provider=aws-kms "key=$arn" -c tool=py
  "$esdk" -d -r -i "$k/e2" -o "$k/d2" -S -w provider=aws-kms "key=$arn" -c tool=py
  ok "$(compare_tree "$k/plain" "$k/d2" .encrypted.decrypted)"
  account=$(echo "$arn" | cut -d: -f5)
  "$esdk" -d -r -i "$k/e2" -o "$k/d4" -S -w provider=aws-kms discovery=true \
    discovery-partition=aws "discovery-account=$account"
  ok "$(compare_tree "$k/plain" "$k/d4" .encrypted.decrypted)"
  # A discovery filter for another account refuses the messages.
  if "$esdk" -d -i "$k/e2/p1.encrypted" -o "$k/x" -S -q -w provider=aws-kms discovery=true \
      discovery-partition=aws discovery-account=000000000000 2>/dev/null; then
    bad "discovery filter for another account decrypted"
  else
    ok 1
  fi
elif [ "${ESDK_REQUIRE_KMS_TESTS:-0}" = 1 ]; then
  bad "AWS_ENDPOINT_URL_KMS is not set but ESDK_REQUIRE_KMS_TESTS=1"
else
  echo "(KMS interop not run: AWS_ENDPOINT_URL_KMS is not set)" >&2
fi

echo "esdk <-> aws-encryption-cli 4.3.0 interop (messages and metadata records checked):" >&2
echo "awscli-interop: $passed passed, $failed failed"
[ "$failed" = 0 ]
