#!/usr/bin/env python3
"""The Material Providers Library side of the MPL keyring interop (raw ECDH, AWS KMS RSA, AWS
KMS ECDH), driven by kms-ext/tests/mpl_interop.rs.

    mpl_keyrings.py encrypt CASES.json OUT.json   # each case: encrypt with its keyring
    mpl_keyrings.py decrypt CASES.json            # each case: decrypt its ciphertext

A case is {"id", "keyring": {...}, "plaintext": b64, "encryption_context": {...},
"suite": int or null, "ciphertext": b64 (decrypt only)}. Keyrings:

    {"type": "raw-ecdh", "curve": "ECC_NIST_P256", "schema": "static",
     "sender_private_pem": str, "recipient_public_der": b64}
    {"type": "raw-ecdh", "curve": ..., "schema": "ephemeral", "recipient_public_der": b64}
    {"type": "raw-ecdh", "curve": ..., "schema": "discovery", "recipient_private_pem": str}
    {"type": "kms-rsa", "key_id": arn, "algorithm": "RSAES_OAEP_SHA_256", "public_key_pem": str|null}
    {"type": "kms-ecdh", "curve": ..., "schema": "static", "sender_key_id": arn,
     "recipient_public_der": b64}
    {"type": "kms-ecdh", "curve": ..., "schema": "discovery", "recipient_key_id": arn}

KMS calls go to AWS_ENDPOINT_URL_KMS (the moto test server). Decrypt checks the plaintext and
that the message's encryption context contains the case's pairs. The last line printed is
"N passed, M failed".
"""

from __future__ import annotations

import base64
import json
import sys


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def keyring(mpl, spec: dict, kms_client):
    from aws_cryptographic_material_providers.mpl import models as m
    from aws_cryptography_primitives.smithygenerated.aws_cryptography_primitives.models import ECDHCurveSpec

    t = spec["type"]
    if t == "raw-ecdh":
        schema = spec["schema"]
        if schema == "static":
            scheme = m.RawEcdhStaticConfigurationsRawPrivateKeyToStaticPublicKey(
                m.RawPrivateKeyToStaticPublicKeyInput(
                    sender_static_private_key=spec["sender_private_pem"].encode(),
                    recipient_public_key=b64(spec["recipient_public_der"]),
                )
            )
        elif schema == "ephemeral":
            scheme = m.RawEcdhStaticConfigurationsEphemeralPrivateKeyToStaticPublicKey(
                m.EphemeralPrivateKeyToStaticPublicKeyInput(recipient_public_key=b64(spec["recipient_public_der"]))
            )
        else:
            scheme = m.RawEcdhStaticConfigurationsPublicKeyDiscovery(
                m.PublicKeyDiscoveryInput(recipient_static_private_key=spec["recipient_private_pem"].encode())
            )
        return mpl.create_raw_ecdh_keyring(
            m.CreateRawEcdhKeyringInput(key_agreement_scheme=scheme, curve_spec=getattr(ECDHCurveSpec, spec["curve"]))
        )
    if t == "kms-rsa":
        pem = spec.get("public_key_pem")
        return mpl.create_aws_kms_rsa_keyring(
            m.CreateAwsKmsRsaKeyringInput(
                kms_key_id=spec["key_id"],
                encryption_algorithm=spec["algorithm"],
                public_key=pem.encode() if pem else None,
                kms_client=kms_client,
            )
        )
    if t == "kms-ecdh":
        if spec["schema"] == "static":
            scheme = m.KmsEcdhStaticConfigurationsKmsPrivateKeyToStaticPublicKey(
                m.KmsPrivateKeyToStaticPublicKeyInput(
                    sender_kms_identifier=spec["sender_key_id"],
                    recipient_public_key=b64(spec["recipient_public_der"]),
                )
            )
        else:
            scheme = m.KmsEcdhStaticConfigurationsKmsPublicKeyDiscovery(
                m.KmsPublicKeyDiscoveryInput(recipient_kms_identifier=spec["recipient_key_id"])
            )
        return mpl.create_aws_kms_ecdh_keyring(
            m.CreateAwsKmsEcdhKeyringInput(
                key_agreement_scheme=scheme,
                curve_spec=getattr(ECDHCurveSpec, spec["curve"]),
                kms_client=kms_client,
            )
        )
    raise ValueError(f"unknown keyring type {t!r}")


def main(argv: list[str]) -> int:
    import boto3
    import aws_encryption_sdk
    from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
    from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
    from aws_encryption_sdk.identifiers import AlgorithmSuite, CommitmentPolicy

    mode, cases_path = argv[0], argv[1]
    cases = json.load(open(cases_path))
    mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    kms_client = boto3.client("kms", region_name="us-west-2")
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
    )
    passed = failed = 0
    out = []
    for case in cases:
        try:
            kr = keyring(mpl, case["keyring"], kms_client)
            if mode == "encrypt":
                kwargs = {}
                if case.get("suite") is not None:
                    kwargs["algorithm"] = AlgorithmSuite.get_by_id(case["suite"])
                ct, _ = client.encrypt(
                    source=b64(case["plaintext"]),
                    keyring=kr,
                    encryption_context=case["encryption_context"],
                    **kwargs,
                )
                out.append({"id": case["id"], "ciphertext": base64.b64encode(ct).decode()})
            else:
                pt, header = client.decrypt(source=b64(case["ciphertext"]), keyring=kr)
                if pt != b64(case["plaintext"]):
                    raise AssertionError("plaintext differs")
                for k, v in case["encryption_context"].items():
                    if header.encryption_context.get(k) != v:
                        raise AssertionError(f"encryption context lacks {k}")
            passed += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported per case
            failed += 1
            print(f"FAILED {case['id']}: {type(e).__name__}: {e}", file=sys.stderr)
    if mode == "encrypt":
        json.dump(out, open(argv[2], "w"))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
