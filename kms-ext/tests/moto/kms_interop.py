#!/usr/bin/env python3
"""The Python side of the esdk-kms interoperability tests (AWS Encryption SDK for Python 4.x,
KMS master key providers, against the same KMS endpoint as the Rust tests).

botocore reads AWS_ENDPOINT_URL_KMS, the credentials and AWS_REGION from the environment, so
the master key providers below reach the moto server the Rust tests use.

  kms_interop.py check
      exit 0 when the Python ESDK and botocore import (prints their versions)
  kms_interop.py encrypt --key ARN [--key ARN ...] [--mrk] [--ec K=V ...] --in PT --out CT
      encrypt PT with StrictAwsKmsMasterKeyProvider (MRKAwareStrictAwsKmsMasterKeyProvider with
      --mrk); the first key generates the data key
  kms_interop.py decrypt (--key ARN ... [--mrk] | --discovery [--account ID --partition P]
                          | --mrk-discovery REGION) --in CT --out PT
      decrypt CT; prints the message's encryption context as JSON on stdout

Commitment policy: REQUIRE_ENCRYPT_REQUIRE_DECRYPT (the default). Exit status 1 with the
error on stderr when the operation fails.
"""

from __future__ import annotations

import argparse
import json
import sys


def _imports():
    import aws_encryption_sdk
    import botocore
    import botocore.session
    from aws_encryption_sdk.identifiers import CommitmentPolicy
    from aws_encryption_sdk.key_providers import kms

    return aws_encryption_sdk, botocore, CommitmentPolicy, kms


def _provider(args, kms, session):
    if args.mrk_discovery:
        return kms.MRKAwareDiscoveryAwsKmsMasterKeyProvider(
            botocore_session=session, discovery_region=args.mrk_discovery, **_filter(args, kms)
        )
    if args.discovery:
        return kms.DiscoveryAwsKmsMasterKeyProvider(botocore_session=session, **_filter(args, kms))
    if not args.key:
        raise SystemExit("give --key ARN (or --discovery / --mrk-discovery REGION)")
    cls = kms.MRKAwareStrictAwsKmsMasterKeyProvider if args.mrk else kms.StrictAwsKmsMasterKeyProvider
    return cls(botocore_session=session, key_ids=list(args.key))


def _filter(args, kms):
    if args.account:
        return {"discovery_filter": kms.DiscoveryFilter(account_ids=list(args.account), partition=args.partition)}
    return {}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="esdk-kms interop helper (Python ESDK side)")
    parser.add_argument("op", choices=["check", "encrypt", "decrypt"])
    parser.add_argument("--key", action="append", default=[])
    parser.add_argument("--mrk", action="store_true")
    parser.add_argument("--discovery", action="store_true")
    parser.add_argument("--mrk-discovery", metavar="REGION")
    parser.add_argument("--account", action="append", default=[])
    parser.add_argument("--partition", default="aws")
    parser.add_argument("--ec", action="append", default=[], metavar="K=V")
    parser.add_argument("--in", dest="inp")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    try:
        esdk, botocore, CommitmentPolicy, kms = _imports()
    except ImportError as e:
        print(f"python ESDK not importable: {e}", file=sys.stderr)
        return 3
    if args.op == "check":
        print(f"aws-encryption-sdk {esdk.__version__}, botocore {botocore.__version__}")
        return 0

    session = botocore.session.Session()
    client = esdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    with open(args.inp, "rb") as f:
        data = f.read()
    try:
        provider = _provider(args, kms, session)
        if args.op == "encrypt":
            ec = dict(kv.split("=", 1) for kv in args.ec)
            out, header = client.encrypt(source=data, key_provider=provider, encryption_context=ec)
        else:
            out, header = client.decrypt(source=data, key_provider=provider)
    except Exception as e:  # reported to the Rust test
        print(f"{args.op} failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    with open(args.out, "wb") as f:
        f.write(out)
    print(json.dumps({"encryption_context": dict(header.encryption_context)}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
