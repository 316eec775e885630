#!/usr/bin/env python3
"""Start moto's server for the esdk-kms tests, after working around a moto 5.2 KMS defect.

moto's fake KMS ciphertext blob starts with the key id in a fixed field of 36 bytes
(`moto.kms.utils.KEY_ID_LEN`), the length of a UUID. Multi-Region key ids are `mrk-` plus 32
hex digits, 40 characters, so moto cuts them to 36 when it encrypts and then cannot find the
key when it decrypts ("The ciphertext refers to a customer master key that does not exist").
Before starting the server this launcher widens the field to 40 bytes in the running process
(site-packages is not modified) and strips the NUL padding that a 36-character UUID id then
gets. Blobs are only ever read by the server that wrote them, so the wider layout is safe.

The other moto 5.2 defect the tests work around is in the tests themselves: `ReplicateKey`
fails when given a key ARN, so they pass the bare `mrk-...` key id.

Usage: moto_server.py [--host 127.0.0.1] [--port 5599]
"""

from __future__ import annotations

import argparse
import sys

MRK_ID_LEN = 40  # "mrk-" + 32 hex digits


def patch_moto_kms() -> str:
    """Widens moto's key-id field in its fake ciphertext blobs; returns what was done."""
    import moto.kms.utils as kms_utils

    width = getattr(kms_utils, "KEY_ID_LEN", None)
    needed = ("IV_LEN", "TAG_LEN", "HEADER_LEN", "CIPHERTEXT_HEADER_FORMAT", "_deserialize_ciphertext_blob")
    if not isinstance(width, int) or any(not hasattr(kms_utils, n) for n in needed):
        return "moto.kms.utils has an unexpected layout; KMS blob patch NOT applied"
    if width >= MRK_ID_LEN:
        return f"moto key-id field is already {width} bytes; no patch needed"

    kms_utils.KEY_ID_LEN = MRK_ID_LEN
    kms_utils.HEADER_LEN = MRK_ID_LEN + kms_utils.IV_LEN + kms_utils.TAG_LEN
    kms_utils.CIPHERTEXT_HEADER_FORMAT = f">{MRK_ID_LEN}s{kms_utils.IV_LEN}s{kms_utils.TAG_LEN}s"

    unpadded = kms_utils._deserialize_ciphertext_blob

    def deserialize_without_padding(ciphertext_blob: bytes):
        blob = unpadded(ciphertext_blob=ciphertext_blob)
        return blob._replace(key_id=blob.key_id.rstrip("\x00"))

    kms_utils._deserialize_ciphertext_blob = deserialize_without_padding
    return f"moto KMS blob key-id field widened from {width} to {MRK_ID_LEN} bytes (multi-Region key ids)"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5599)
    args = parser.parse_args(argv)

    import moto
    from moto.server import main as moto_main

    print(f"moto {moto.__version__}: {patch_moto_kms()}", file=sys.stderr, flush=True)
    print(f"moto {moto.__version__}: {__import__('patch_disabled_keys').apply()}", file=sys.stderr, flush=True)
    moto_main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main(sys.argv[1:])
