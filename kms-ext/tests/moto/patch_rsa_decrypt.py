"""moto 5.2.1 patch: `Decrypt` with `EncryptionAlgorithm` RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256.

moto 5.2.1 ignores `EncryptionAlgorithm` and only understands its own fake symmetric blob, so a
real RSA-OAEP ciphertext made with an RSA key's public key (from GetPublicKey) fails. The patched
`Decrypt` follows the KMS API reference for asymmetric keys:

* `KeyId` is required with an RSA algorithm (`ValidationException` without it);
* unknown key: `NotFoundException`; disabled key: `DisabledException`; pending deletion:
  `KMSInvalidStateException`;
* the key must be an RSA `ENCRYPT_DECRYPT` key whose `EncryptionAlgorithms` include the
  requested one, and an RSA key cannot be used with `SYMMETRIC_DEFAULT`: `InvalidKeyUsageException`;
* a ciphertext that does not decrypt with the key's private key under OAEP with that hash (MGF1
  with the same hash, empty label): `InvalidCiphertextException`;
* an `EncryptionAlgorithm` outside the enum: `ValidationException`;
* success answers `KeyId` (the key ARN), `Plaintext` and `EncryptionAlgorithm`.

Symmetric `Decrypt` calls are left to moto. Check against boto3: `python3 patch_rsa_decrypt.py`.
"""

from __future__ import annotations

import base64
import json

ALGORITHMS = ("SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE")


def apply() -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from moto.kms.exceptions import (
        InvalidCiphertextException,
        InvalidKeyUsageException,
        ValidationException,
    )
    from moto.kms.responses import KmsResponse

    from patch_disabled_keys import check_enabled

    if getattr(KmsResponse, "_esdk_rsa_decrypt", False):
        return "RSA Decrypt patch already applied"
    symmetric_decrypt = KmsResponse.decrypt

    def decrypt(self) -> str:
        algorithm = self._get_param("EncryptionAlgorithm")
        key_id = self._get_param("KeyId")
        if algorithm is not None and algorithm not in ALGORITHMS:
            raise ValidationException(
                f"1 validation error detected: Value '{algorithm}' at 'encryptionAlgorithm' failed to "
                f"satisfy constraint: Member must satisfy enum value set: [{', '.join(ALGORITHMS)}]"
            )
        rsa_key = None
        if key_id:
            self._validate_key_id(key_id)
            rsa_key = self.kms_backend.keys[self.kms_backend.any_id_to_key_id(key_id)]
            if not rsa_key.key_spec.startswith("RSA_"):
                rsa_key = None
        if algorithm in (None, "SYMMETRIC_DEFAULT") and rsa_key is None:
            return symmetric_decrypt(self)
        if not key_id:
            raise ValidationException("KeyId is required when decrypting with an asymmetric encryption algorithm.")
        key = check_enabled(self.kms_backend, key_id)
        if (
            rsa_key is None
            or key.key_usage != "ENCRYPT_DECRYPT"
            or algorithm not in (key.encryption_algorithms or [])
            or algorithm == "SYMMETRIC_DEFAULT"
        ):
            raise InvalidKeyUsageException()
        digest = hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else hashes.SHA256()
        blob = self._get_param("CiphertextBlob")
        try:
            plaintext = key.private_key.private_key.decrypt(
                blob, padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)
            )
        except ValueError:
            raise InvalidCiphertextException()
        return json.dumps(
            {
                "KeyId": key.arn,
                "Plaintext": base64.b64encode(plaintext).decode("ascii"),
                "EncryptionAlgorithm": algorithm,
            }
        )

    KmsResponse.decrypt = decrypt
    KmsResponse._esdk_rsa_decrypt = True
    return "Decrypt with RSAES_OAEP_SHA_1/_SHA_256 uses the RSA key's private key"


def check(kms) -> None:
    from botocore.exceptions import ClientError
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    def code(call):
        try:
            call()
        except ClientError as e:
            return e.response["Error"]["Code"]
        return None

    for spec in ("RSA_2048", "RSA_3072", "RSA_4096"):
        arn = kms.create_key(KeyUsage="ENCRYPT_DECRYPT", KeySpec=spec)["KeyMetadata"]["Arn"]
        public = serialization.load_der_public_key(kms.get_public_key(KeyId=arn)["PublicKey"])
        for alg, h in (("RSAES_OAEP_SHA_1", hashes.SHA1()), ("RSAES_OAEP_SHA_256", hashes.SHA256())):
            ct = public.encrypt(b"k" * 80, padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None))
            out = kms.decrypt(KeyId=arn, CiphertextBlob=ct, EncryptionAlgorithm=alg)
            assert out["Plaintext"] == b"k" * 80 and out["KeyId"] == arn and out["EncryptionAlgorithm"] == alg
            other = "RSAES_OAEP_SHA_256" if alg == "RSAES_OAEP_SHA_1" else "RSAES_OAEP_SHA_1"
            assert code(lambda: kms.decrypt(KeyId=arn, CiphertextBlob=ct, EncryptionAlgorithm=other)) == "InvalidCiphertextException"
            assert code(lambda: kms.decrypt(KeyId=arn, CiphertextBlob=ct[:-1] + bytes([ct[-1] ^ 1]), EncryptionAlgorithm=alg)) == "InvalidCiphertextException"
            assert code(lambda: kms.decrypt(KeyId=arn, CiphertextBlob=ct)) == "InvalidKeyUsageException"
            assert code(lambda: kms.decrypt(CiphertextBlob=ct, EncryptionAlgorithm=alg)) == "ValidationException"
    sym = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=sym, Plaintext=b"s")["CiphertextBlob"]
    assert kms.decrypt(KeyId=sym, CiphertextBlob=blob)["Plaintext"] == b"s"
    assert code(lambda: kms.decrypt(KeyId=sym, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_1")) == "InvalidKeyUsageException"
    assert code(lambda: kms.decrypt(KeyId=arn, CiphertextBlob=ct, EncryptionAlgorithm="RSA_BOGUS")) is not None
    missing = arn.rsplit("/", 1)[0] + "/11111111-2222-3333-4444-555555555555"
    assert code(lambda: kms.decrypt(KeyId=missing, CiphertextBlob=ct, EncryptionAlgorithm="RSAES_OAEP_SHA_1")) == "NotFoundException"
    kms.disable_key(KeyId=arn)
    assert code(lambda: kms.decrypt(KeyId=arn, CiphertextBlob=ct, EncryptionAlgorithm="RSAES_OAEP_SHA_256")) == "DisabledException"


if __name__ == "__main__":
    import sys

    import patch_disabled_keys
    from _patch_check import run_check

    patch_disabled_keys.apply()
    sys.exit(run_check(apply, check))
