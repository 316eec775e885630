"""moto 5.2 patch: disabled KMS keys refuse cryptographic operations, as AWS KMS does.

moto's DisableKey only changes the key's state; Encrypt, Decrypt, ReEncrypt and
GenerateDataKey* keep working. AWS KMS rejects them with `DisabledException` (HTTP 400). The
esdk-hierarchy tests use a disabled key as their "KMS denies the call" case, so this patch, applied
in the server process by moto_server.py (site-packages is not modified), makes moto's KMS backend
check the key state in `encrypt` and `decrypt` (which GenerateDataKey, GenerateDataKeyWithoutPlaintext
and ReEncrypt call).
"""

from __future__ import annotations


def apply() -> str:
    """Patches moto's KMS backend; returns what was done."""
    try:
        from moto.core.exceptions import JsonRESTError
        from moto.kms.models import KmsBackend
    except ImportError as e:  # pragma: no cover - unexpected moto layout
        return f"disabled-key patch NOT applied ({e})"
    if getattr(KmsBackend, "_esdk_disabled_patch", False):
        return "disabled-key patch already applied"

    class DisabledException(JsonRESTError):
        code = 400

        def __init__(self, key_arn: str):
            super().__init__("DisabledException", f"{key_arn} is disabled.")
            self.description = '{"__type":"DisabledException"}'

    def check(backend, key_id: str) -> None:
        key = backend.keys.get(backend.any_id_to_key_id(key_id))
        if key is not None and key.key_state != "Enabled":
            raise DisabledException(key.arn)

    original_encrypt = KmsBackend.encrypt
    original_decrypt = KmsBackend.decrypt

    def encrypt(self, key_id, plaintext, encryption_context):
        check(self, key_id)
        return original_encrypt(self, key_id=key_id, plaintext=plaintext, encryption_context=encryption_context)

    def decrypt(self, ciphertext_blob, encryption_context, key_id=None):
        plaintext, arn = original_decrypt(
            self, ciphertext_blob=ciphertext_blob, encryption_context=encryption_context, key_id=key_id
        )
        check(self, arn)
        return plaintext, arn

    KmsBackend.encrypt = encrypt
    KmsBackend.decrypt = decrypt
    KmsBackend._esdk_disabled_patch = True
    return "disabled KMS keys refuse Encrypt/Decrypt/ReEncrypt/GenerateDataKey* (DisabledException)"
