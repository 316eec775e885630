"""Compares esdk's metadata records with aws-encryption-cli's, field by field.

Decrypt records of the same message must be identical apart from the output path; encrypt
records (fresh message ids and keys each time) must have the same fields, the same encodings
and the same deterministic values. Prints the number of records compared; exits 1 on a mismatch.
"""
import base64
import json
import os
import sys

d = sys.argv[1]
errors = []


def load(name):
    with open(os.path.join(d, name), encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    if len(lines) != 1:
        errors.append("%s: %d records" % (name, len(lines)))
    return lines[0]


def shape(v):
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(x) for x in v]
    return type(v).__name__


def same(a, b, what):
    if a != b:
        errors.append("%s: esdk %r != aws-encryption-cli %r" % (what, a, b))


compared = 0

# Encrypt records: same shape, same deterministic values, same encodings.
for esdk_name, py_name in (("esdk-enc.json", "py-enc.json"), ("esdk1-enc.json", "py1-enc.json")):
    e, p = load(esdk_name), load(py_name)
    same(shape(e), shape(p), esdk_name + " shape")
    for k in ("mode", "input"):
        same(e[k], p[k], esdk_name + " " + k)
    eh, ph = e["header"], p["header"]
    for k in ("algorithm", "content_type", "frame_length", "header_iv_length", "type", "version"):
        same(eh[k], ph[k], esdk_name + " header." + k)
    for k in ("message_id", "commitment_key"):
        if eh[k] is None or ph[k] is None:
            same(eh[k], ph[k], esdk_name + " header." + k)
        else:
            same(len(base64.b64decode(eh[k])), len(base64.b64decode(ph[k])), esdk_name + " header." + k + " length")
    ec_e = {k: v for k, v in eh["encryption_context"].items() if k != "aws-crypto-public-key"}
    ec_p = {k: v for k, v in ph["encryption_context"].items() if k != "aws-crypto-public-key"}
    same(ec_e, ec_p, esdk_name + " header.encryption_context")
    same(sorted(eh["encryption_context"]), sorted(ph["encryption_context"]), esdk_name + " context keys")
    same(len(eh["encrypted_data_keys"]), len(ph["encrypted_data_keys"]), esdk_name + " EDK count")
    for x, y in zip(eh["encrypted_data_keys"], ph["encrypted_data_keys"]):
        same(x["key_provider"]["provider_id"], y["key_provider"]["provider_id"], esdk_name + " provider_id")
        xi, yi = base64.b64decode(x["key_provider"]["key_info"]), base64.b64decode(y["key_provider"]["key_info"])
        # key name, tag length and IV length; the IV itself is random
        same(xi[:-12], yi[:-12], esdk_name + " key_info")
        same(len(base64.b64decode(x["encrypted_data_key"])), len(base64.b64decode(y["encrypted_data_key"])), esdk_name + " EDK length")
    compared += 2

# Decrypt records of the same message: identical except the output path.
for msg in ("esdk.enc", "py.enc", "py1.enc", "esdk1.enc"):
    kinds = ("dec", "skip") if msg in ("esdk.enc", "py.enc") else ("dec",)
    for kind in kinds:
        e = load("%s.esdk.%s.json" % (msg, kind))
        p = load("%s.py.%s.json" % (msg, kind))
        same(e["output"].replace(".esdk.", "."), p["output"].replace(".py.", "."), msg + " output")
        e.pop("output")
        p.pop("output")
        for r in (e, p):
            for k in ("missing_encryption_context_keys", "missing_encryption_context_pairs"):
                if k in r:
                    r[k] = sorted(map(json.dumps, r[k]))
        same(e, p, "%s %s record" % (msg, kind))
        compared += 2

# Byte-identical lines for the same decrypt record (formatting: separators, key order, escapes).
with open(os.path.join(d, "py.enc.esdk.dec.json"), encoding="utf-8") as f:
    esdk_line = f.read().replace(".esdk.dec", ".X.dec")
with open(os.path.join(d, "py.enc.py.dec.json"), encoding="utf-8") as f:
    py_line = f.read().replace(".py.dec", ".X.dec")
same(esdk_line, py_line, "raw metadata line")
compared += 1

if errors:
    for e in errors:
        print("metadata mismatch: " + e, file=sys.stderr)
    sys.exit(1)
print(compared)
