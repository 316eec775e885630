#!/usr/bin/env python3
"""The MPL side of the esdk-hierarchy interoperability tests: the AWS Cryptographic Material
Providers Library (Python, 1.11.3) key store and hierarchical keyring with the AWS Encryption
SDK for Python (4.0.7), against the same DynamoDB table and KMS key as the Rust side (boto3
reads AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL_DYNAMODB, credentials and AWS_REGION from the
environment).

  mpl_hierarchy.py check
  mpl_hierarchy.py create-key  --table T --logical L --kms-arn A [--id ID --ec K=V ...]   prints the id
  mpl_hierarchy.py version-key --table T --logical L --kms-arn A --id ID
  mpl_hierarchy.py active      --table T --logical L --kms-arn A --id ID   prints the active version
  mpl_hierarchy.py encrypt     --table T --logical L --kms-arn A --id ID [--ec K=V ...] --in PT --out CT
  mpl_hierarchy.py decrypt     --table T --logical L --kms-arn A --id ID --in CT --out PT
      (decrypt prints the message's encryption context as JSON)

Commitment policy REQUIRE_ENCRYPT_REQUIRE_DECRYPT. Exit status 1 with the error on stderr on
failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _endpoint(service: str):
    return os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL_KMS")


def _store(args):
    import boto3
    from aws_cryptographic_material_providers.keystore import KeyStore
    from aws_cryptographic_material_providers.keystore.config import KeyStoreConfig
    from aws_cryptographic_material_providers.keystore.models import KMSConfigurationKmsKeyArn

    return KeyStore(
        config=KeyStoreConfig(
            ddb_client=boto3.client("dynamodb", endpoint_url=_endpoint("dynamodb")),
            ddb_table_name=args.table,
            logical_key_store_name=args.logical,
            kms_client=boto3.client("kms", endpoint_url=_endpoint("kms")),
            kms_configuration=KMSConfigurationKmsKeyArn(args.kms_arn),
        )
    )


def _keyring(args, store):
    from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
    from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
    from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsHierarchicalKeyringInput

    mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    return mpl.create_aws_kms_hierarchical_keyring(
        input=CreateAwsKmsHierarchicalKeyringInput(key_store=store, branch_key_id=args.id, ttl_seconds=600)
    )


def _ec(pairs):
    ec = {}
    for p in pairs:
        k, _, v = p.partition("=")
        ec[k] = v
    return ec


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="esdk-hierarchy interop helper (MPL side)")
    parser.add_argument("op", choices=["check", "create-key", "version-key", "active", "encrypt", "decrypt"])
    parser.add_argument("--table")
    parser.add_argument("--logical")
    parser.add_argument("--kms-arn")
    parser.add_argument("--id")
    parser.add_argument("--ec", action="append", default=[])
    parser.add_argument("--in", dest="inp")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    if args.op == "check":
        import importlib.metadata as md

        print(
            "aws-cryptographic-material-providers",
            md.version("aws-cryptographic-material-providers"),
            "aws-encryption-sdk",
            md.version("aws-encryption-sdk"),
        )
        return 0

    from aws_cryptographic_material_providers.keystore.models import (
        CreateKeyInput,
        GetActiveBranchKeyInput,
        VersionKeyInput,
    )

    store = _store(args)
    if args.op == "create-key":
        out = store.create_key(
            CreateKeyInput(branch_key_identifier=args.id, encryption_context=_ec(args.ec) if args.ec or args.id else None)
        )
        print(out.branch_key_identifier)
        return 0
    if args.op == "version-key":
        store.version_key(VersionKeyInput(branch_key_identifier=args.id))
        return 0
    if args.op == "active":
        out = store.get_active_branch_key(GetActiveBranchKeyInput(branch_key_identifier=args.id))
        v = out.branch_key_materials.branch_key_version
        print(v.decode("utf-8") if isinstance(v, bytes) else v)
        return 0

    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import CommitmentPolicy

    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    keyring = _keyring(args, store)
    with open(args.inp, "rb") as f:
        data = f.read()
    if args.op == "encrypt":
        ct, _ = client.encrypt(source=data, keyring=keyring, encryption_context=_ec(args.ec))
        with open(args.out, "wb") as f:
            f.write(ct)
        return 0
    pt, header = client.decrypt(source=data, keyring=keyring)
    with open(args.out, "wb") as f:
        f.write(pt)
    print(json.dumps(dict(header.encryption_context), sort_keys=True))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - report any failure as exit status 1
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
