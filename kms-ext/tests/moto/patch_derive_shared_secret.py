"""moto 5.2.1 patch: KMS `DeriveSharedSecret` for ECC_NIST key pairs (`KeyUsage` KEY_AGREEMENT).

moto 5.2.1 has no `DeriveSharedSecret`. The patched server answers it as the KMS API reference
describes, with the key pair's real private key:

* `KeyAgreementAlgorithm` must be `ECDH` (`ValidationException` otherwise, or when missing);
* `PublicKey` is a DER X.509 SubjectPublicKeyInfo of a point on the KMS key's curve
  (`ValidationException` otherwise);
* unknown key: `NotFoundException`; disabled: `DisabledException`; pending deletion:
  `KMSInvalidStateException`; a key that is not an ECC_NIST_* `KEY_AGREEMENT` key:
  `InvalidKeyUsageException`;
* `Recipient` (Nitro Enclaves attestation) is refused with `ValidationException` (not emulated);
* success answers `KeyId` (the key ARN), `SharedSecret` (the raw ECDH x-coordinate, the curve's
  field size), `KeyAgreementAlgorithm` and `KeyOrigin`.

`GetPublicKey` also answers `KeySpec` (moto sends only the deprecated `CustomerMasterKeySpec`) and,
for a KEY_AGREEMENT key, `KeyAgreementAlgorithms: ["ECDH"]` without the `EncryptionAlgorithms`
moto would otherwise list. Check against boto3:
`python3 patch_derive_shared_secret.py`.
"""

from __future__ import annotations

import base64
import json

CURVES = {"ECC_NIST_P256": "secp256r1", "ECC_NIST_P384": "secp384r1", "ECC_NIST_P521": "secp521r1"}


def apply() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from moto.kms.exceptions import InvalidKeyUsageException, ValidationException
    from moto.kms.responses import KmsResponse

    from patch_disabled_keys import check_enabled

    if getattr(KmsResponse, "_esdk_derive_shared_secret", False):
        return "DeriveSharedSecret patch already applied"

    def derive_shared_secret(self) -> str:
        params = json.loads(self.body)
        key_id = params.get("KeyId")
        algorithm = params.get("KeyAgreementAlgorithm")
        if algorithm != "ECDH":
            raise ValidationException(
                f"1 validation error detected: Value '{algorithm}' at 'keyAgreementAlgorithm' failed to "
                "satisfy constraint: Member must satisfy enum value set: [ECDH]"
            )
        if params.get("Recipient") is not None:
            raise ValidationException("Recipient (attested enclave requests) is not supported by this test server.")
        if not key_id:
            raise ValidationException("KeyId is required.")
        self._validate_key_id(key_id)
        key = check_enabled(self.kms_backend, key_id)
        if key.key_usage != "KEY_AGREEMENT" or key.key_spec not in CURVES:
            raise InvalidKeyUsageException()
        try:
            der = base64.b64decode(params.get("PublicKey") or "", validate=True)
            peer = serialization.load_der_public_key(der)
        except (ValueError, TypeError):
            raise ValidationException("PublicKey is not a valid DER-encoded SubjectPublicKeyInfo.")
        if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != CURVES[key.key_spec]:
            raise ValidationException(f"PublicKey is not a public key on the curve of {key.key_spec}.")
        secret = key.private_key.private_key.exchange(ec.ECDH(), peer)
        return json.dumps(
            {
                "KeyId": key.arn,
                "SharedSecret": base64.b64encode(secret).decode("ascii"),
                "KeyAgreementAlgorithm": "ECDH",
                "KeyOrigin": key.origin,
            }
        )

    get_public_key = KmsResponse.get_public_key

    def get_public_key_with_agreement(self) -> str:
        out = json.loads(get_public_key(self))
        out.setdefault("KeySpec", out.get("CustomerMasterKeySpec"))
        if out.get("KeyUsage") == "KEY_AGREEMENT":
            out.pop("EncryptionAlgorithms", None)
            out.pop("SigningAlgorithms", None)
            out["KeyAgreementAlgorithms"] = ["ECDH"]
            out["KeyId"] = self.kms_backend.keys[self.kms_backend.any_id_to_key_id(out["KeyId"])].arn
        return json.dumps(out)

    KmsResponse.derive_shared_secret = derive_shared_secret
    KmsResponse.get_public_key = get_public_key_with_agreement
    KmsResponse._esdk_derive_shared_secret = True
    return "DeriveSharedSecret (ECDH) for ECC_NIST_* KEY_AGREEMENT keys"


def check(kms) -> None:
    from botocore.exceptions import ClientError
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def code(call):
        try:
            call()
        except ClientError as e:
            return e.response["Error"]["Code"]
        return None

    curves = {"ECC_NIST_P256": ec.SECP256R1(), "ECC_NIST_P384": ec.SECP384R1(), "ECC_NIST_P521": ec.SECP521R1()}
    for spec, curve in curves.items():
        arn = kms.create_key(KeyUsage="KEY_AGREEMENT", KeySpec=spec)["KeyMetadata"]["Arn"]
        pub = kms.get_public_key(KeyId=arn)
        assert pub["KeyAgreementAlgorithms"] == ["ECDH"] and "EncryptionAlgorithms" not in pub
        assert pub["KeySpec"] == spec and pub["KeyUsage"] == "KEY_AGREEMENT"
        kms_pub = serialization.load_der_public_key(pub["PublicKey"])
        mine = ec.generate_private_key(curve)
        my_der = mine.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        out = kms.derive_shared_secret(KeyId=arn, KeyAgreementAlgorithm="ECDH", PublicKey=my_der)
        assert out["SharedSecret"] == mine.exchange(ec.ECDH(), kms_pub), spec
        assert out["KeyId"] == arn and out["KeyAgreementAlgorithm"] == "ECDH" and out["KeyOrigin"] == "AWS_KMS"
        other = ec.generate_private_key(ec.SECP256R1() if spec != "ECC_NIST_P256" else ec.SECP384R1())
        other_der = other.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert code(lambda: kms.derive_shared_secret(KeyId=arn, KeyAgreementAlgorithm="ECDH", PublicKey=other_der)) == "ValidationException"
        assert code(lambda: kms.derive_shared_secret(KeyId=arn, KeyAgreementAlgorithm="ECDH", PublicKey=b"\x30\x00")) == "ValidationException"
    sign_key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    p256_der = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert code(lambda: kms.derive_shared_secret(KeyId=sign_key, KeyAgreementAlgorithm="ECDH", PublicKey=p256_der)) == "InvalidKeyUsageException"
    sym = kms.create_key()["KeyMetadata"]["Arn"]
    assert code(lambda: kms.derive_shared_secret(KeyId=sym, KeyAgreementAlgorithm="ECDH", PublicKey=p256_der)) == "InvalidKeyUsageException"
    missing = sym.rsplit("/", 1)[0] + "/11111111-2222-3333-4444-555555555555"
    assert code(lambda: kms.derive_shared_secret(KeyId=missing, KeyAgreementAlgorithm="ECDH", PublicKey=p256_der)) == "NotFoundException"
    p256 = kms.create_key(KeyUsage="KEY_AGREEMENT", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=p256)
    assert code(lambda: kms.derive_shared_secret(KeyId=p256, KeyAgreementAlgorithm="ECDH", PublicKey=p256_der)) == "DisabledException"


if __name__ == "__main__":
    import sys

    import patch_disabled_keys
    from _patch_check import run_check

    patch_disabled_keys.apply()
    sys.exit(run_check(apply, check))
