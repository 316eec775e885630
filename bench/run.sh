#!/usr/bin/env bash
# Both Rust backends and the Python ESDK 4.0.7 on the same cells, in one run, then one table.
#
#   bash bench/run.sh            # BENCH_MIB=100 BENCH_REPS=3 by default
#
# Installs the Python ESDK in a venv under target/bench/venv (PyPI), generates the RSA keys both
# sides unwrap with, runs std-ext/examples/backend_bench.rs (release, both backends compiled in)
# and bench/python_esdk.py, and prints the Markdown table (bench/table.py) that the README's
# Measured section shows. Raw output: target/bench/results.jsonl.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/target/bench
mkdir -p "$OUT"
if [ ! -x "$OUT/venv/bin/python" ]; then
    python3 -m venv "$OUT/venv"
    "$OUT/venv/bin/python" -m pip install --quiet --disable-pip-version-check 'aws-encryption-sdk==4.0.7'
fi
PY=$OUT/venv/bin/python
export BENCH_RSA_DIR=$OUT
"$PY" - <<'PYEOF'
import os
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
d = os.environ["BENCH_RSA_DIR"]
for bits in (2048, 4096):
    p = os.path.join(d, "rsa%d.pem" % bits)
    if os.path.exists(p):
        continue
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    open(p, "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    open(os.path.join(d, "rsa%d.pub.pem" % bits), "wb").write(k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
PYEOF
cd "$ROOT"
cargo build --release --locked -p esdk-std --features rustcrypto --example backend_bench
: > "$OUT/results.jsonl"
./target/release/examples/backend_bench | tee -a "$OUT/results.jsonl"
"$PY" bench/python_esdk.py | tee -a "$OUT/results.jsonl"
python3 bench/table.py "$OUT/results.jsonl"
