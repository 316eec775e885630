"""The Python ESDK (4.0.7) on the same cells as std-ext/examples/backend_bench.rs.

Prints one JSON object per cell. Raw AES keyring (AES-256, same key), 1 KiB round trips per
suite, 100 MiB one-shot and streaming at 4 KiB / 64 KiB / 1 MiB frames for 0x0478 and 0x0578,
and the raw RSA keyring's private-key operation (cryptography/OpenSSL, as the ESDK calls it).
Environment: BENCH_MIB (default 100), BENCH_REPS (default 3), BENCH_RSA_DIR.
"""
import io
import json
import os
import statistics
import time

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import AlgorithmSuite, CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

MIB = int(os.environ.get("BENCH_MIB", "100"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
RSA_DIR = os.environ.get("BENCH_RSA_DIR", "target/bench")
TOTAL = MIB << 20


def emit(cell, value, unit):
    print(json.dumps({"impl": "python-esdk-4.0.7", "cell": cell, "value": round(value, 3), "unit": unit}), flush=True)


def best(fn):
    out = float("inf")
    for _ in range(REPS):
        t = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t)
    return out


def main():
    data = bytes((i * 31 % 251) for i in range(256)) * (TOTAL // 256)
    key = RawMasterKey(
        provider_id="bench",
        key_id=b"aes-256",
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=bytes([7]) * 32,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
    )
    legacy = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    )
    mbs = lambda secs: TOTAL / secs / 1e6

    small = data[:1024]
    for suite in AlgorithmSuite:
        times = []
        c = client if suite.is_committing() else legacy
        for _ in range(200):
            t = time.perf_counter()
            ct, _ = c.encrypt(source=small, key_provider=key, algorithm=suite)
            pt, _ = c.decrypt(source=ct, key_provider=key)
            times.append(time.perf_counter() - t)
            assert pt == small
        emit("1k-roundtrip-%04x" % suite.algorithm_id, statistics.median(times) * 1e6, "us")

    for suite in (AlgorithmSuite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
                  AlgorithmSuite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384):
        for frame in (4096, 65536, 1 << 20):
            cell = lambda op: "%s-%04x-%dk" % (op, suite.algorithm_id, frame // 1024)
            box = {}

            def enc():
                box["ct"], _ = client.encrypt(source=data, key_provider=key, algorithm=suite, frame_length=frame)

            emit(cell("oneshot-encrypt"), mbs(best(enc)), "MB/s")

            def dec():
                pt, _ = client.decrypt(source=box["ct"], key_provider=key)
                assert len(pt) == len(data)

            emit(cell("oneshot-decrypt"), mbs(best(dec)), "MB/s")

            def senc():
                with client.stream(mode="e", source=io.BytesIO(data), key_provider=key,
                                   algorithm=suite, frame_length=frame) as s:
                    for _chunk in s:
                        pass

            emit(cell("stream-encrypt"), mbs(best(senc)), "MB/s")

            def sdec():
                n = 0
                with client.stream(mode="d", source=io.BytesIO(box["ct"]), key_provider=key) as s:
                    for chunk in s:
                        n += len(chunk)
                assert n == len(data)

            emit(cell("stream-decrypt"), mbs(best(sdec)), "MB/s")

    for bits in (2048, 4096):
        with open(os.path.join(RSA_DIR, "rsa%d.pem" % bits), "rb") as f:
            sk = serialization.load_pem_private_key(f.read(), password=None)
        pk = sk.public_key()
        for label, pad in (
            ("oaep-sha256", padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)),
            ("pkcs1", padding.PKCS1v15()),
        ):
            wrapped = pk.encrypt(bytes([5]) * 32, pad)
            n = 50

            def unwrap():
                for _ in range(n):
                    sk.decrypt(wrapped, pad)

            emit("rsa%d-unwrap-%s" % (bits, label), best(unwrap) / n * 1e6, "us")


if __name__ == "__main__":
    main()
