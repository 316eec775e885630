"""moto 5.2.1 patch: disabled keys are honoured, and DisableKey/EnableKey accept a key ARN.

moto 5.2.1 records `DisableKey` (KeyState "Disabled") but GenerateDataKey, Encrypt and Decrypt
keep succeeding with a disabled key; the KMS API reference says they fail with
`DisabledException` ("The request was rejected because the specified KMS key is not enabled",
HTTP 400). Keys pending deletion fail with `KMSInvalidStateException`. Also, moto's DisableKey and
EnableKey index their key table with the raw `KeyId`, so a key ARN (which the API accepts) ends in
an HTTP 500; the patched backend resolves ARNs to key ids first.

`check_enabled(backend, key_id)` is shared with the other patches (RSA Decrypt,
DeriveSharedSecret). Applied in-process by moto_server.py; site-packages is not modified.
Check against boto3: `python3 patch_disabled_keys.py --check` (starts its own in-process server).
"""

from __future__ import annotations


def _exceptions():
    from moto.core.exceptions import JsonRESTError

    class DisabledException(JsonRESTError):
        code = 400

        def __init__(self, message: str):
            super().__init__("DisabledException", message)

    class KMSInvalidStateException(JsonRESTError):
        code = 400

        def __init__(self, message: str):
            super().__init__("KMSInvalidStateException", message)

    return DisabledException, KMSInvalidStateException


def check_enabled(backend, key_id: str):
    """Returns the key named by `key_id` (id, ARN, alias or alias ARN) or raises as KMS does."""
    DisabledException, KMSInvalidStateException = _exceptions()
    key = backend.keys[backend.any_id_to_key_id(key_id)]
    if key.key_state == "Disabled":
        raise DisabledException(f"{key.arn} is disabled.")
    if key.key_state != "Enabled":
        raise KMSInvalidStateException(f"{key.arn} is {key.key_state.lower()}.")
    return key


def apply() -> str:
    from moto.kms.models import KmsBackend

    if getattr(KmsBackend, "_esdk_disabled_keys", False):
        return "disabled-key patch already applied"
    orig_encrypt = KmsBackend.encrypt
    orig_decrypt = KmsBackend.decrypt
    orig_disable = KmsBackend.disable_key
    orig_enable = KmsBackend.enable_key

    def encrypt(self, key_id, plaintext, encryption_context):
        # GenerateDataKey goes through encrypt as well.
        check_enabled(self, key_id)
        return orig_encrypt(self, key_id, plaintext, encryption_context)

    def decrypt(self, ciphertext_blob, encryption_context, key_id=None):
        plaintext, arn = orig_decrypt(self, ciphertext_blob, encryption_context, key_id)
        check_enabled(self, arn)
        return plaintext, arn

    def disable_key(self, key_id):
        return orig_disable(self, self.get_key_id(key_id))

    def enable_key(self, key_id):
        return orig_enable(self, self.get_key_id(key_id))

    KmsBackend.encrypt = encrypt
    KmsBackend.decrypt = decrypt
    KmsBackend.disable_key = disable_key
    KmsBackend.enable_key = enable_key
    KmsBackend._esdk_disabled_keys = True
    return "disabled keys refused by GenerateDataKey/Encrypt/Decrypt (DisabledException); DisableKey/EnableKey take key ARNs"


def check(kms) -> None:
    """Checks the patched server through boto3 client `kms`."""
    from botocore.exceptions import ClientError

    def code(call):
        try:
            call()
        except ClientError as e:
            return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
        return None

    arn = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=arn, Plaintext=b"x" * 32)["CiphertextBlob"]
    kms.disable_key(KeyId=arn)  # a key ARN: HTTP 500 before the patch
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Disabled"
    assert code(lambda: kms.generate_data_key(KeyId=arn, NumberOfBytes=32)) == ("DisabledException", 400)
    assert code(lambda: kms.encrypt(KeyId=arn, Plaintext=b"x")) == ("DisabledException", 400)
    assert code(lambda: kms.decrypt(KeyId=arn, CiphertextBlob=blob)) == ("DisabledException", 400)
    assert code(lambda: kms.decrypt(CiphertextBlob=blob)) == ("DisabledException", 400)
    kms.enable_key(KeyId=arn)
    assert kms.decrypt(KeyId=arn, CiphertextBlob=blob)["Plaintext"] == b"x" * 32
    key_id = arn.split("/")[-1]
    kms.disable_key(KeyId=key_id)
    assert code(lambda: kms.generate_data_key(KeyId=arn, NumberOfBytes=32)) == ("DisabledException", 400)
    kms.enable_key(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert code(lambda: kms.encrypt(KeyId=arn, Plaintext=b"x")) == ("KMSInvalidStateException", 400)
    assert code(lambda: kms.disable_key(KeyId="arn:aws:kms:us-west-2:123456789012:key/00000000-0000-0000-0000-000000000000"))[0] == "NotFoundException"


if __name__ == "__main__":
    import sys

    from _patch_check import run_check

    sys.exit(run_check(apply, check))
