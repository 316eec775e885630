#!/usr/bin/env python3
"""Cross-implementation test-vector tool driven by the AWS Encryption SDK for Python.

Purpose: prove interoperability between this repository's Rust ESDK and the
reference Python ESDK by exchanging test-vector manifests in the formats of the
aws-crypto-tools-test-vector-framework (keys manifests v1-v3, `awses-decrypt`
manifests v1-v5, `awses-encrypt` manifests v1/v2).

Only raw master keys are used (raw AES-GCM and raw RSA with PKCS#1 v1.5 or
OAEP-SHA1/256/384/512 with MGF1 of the same hash). AWS KMS, ECDH, hierarchical,
required-encryption-context and other MPL-only key descriptions are reported
as skipped with a reason. The optional `aws-cryptographic-material-providers`
package is not needed and not used.

Subcommands
-----------
decrypt   --manifest PATH [--manifest PATH ...] [--filter S ...] [--limit N]
          [--api oneshot|stream|both] [--expect-error] [-v]
    Decrypt every ciphertext of one or more `awses-decrypt` manifests (a
    directory means its manifest.json) with the Python ESDK, commitment policy
    REQUIRE_ENCRYPT_ALLOW_DECRYPT, and compare with the expected result.
    --filter matches the test name or any string in its key descriptions
    (e.g. "raw", "aes", "rsa-4096-private", "oaep-mgf1").  The last line printed
    is exactly "N passed, M failed" (", K skipped" appended when K > 0).
    Exit status 1 when anything failed or when nothing passed.

encrypt   --keys KEYS.json --out DIR [--seed N] [--count N]
          [--scenarios ENCRYPT-MANIFEST.json] [--relax-frame-check] [--force]
    Encrypt scenarios with the Python ESDK and write DIR/manifest.json (an
    `awses-decrypt` v2 manifest), DIR/keys.json (a verbatim copy of KEYS.json),
    DIR/ciphertexts/* and DIR/plaintexts/*.  Scenarios come from an
    `awses-encrypt` v1/v2 manifest (--scenarios) or are drawn at random from
    --seed/--count (covering all 11 algorithm suites).  Frame lengths are
    multiples of 128 because the Python ESDK rejects anything else on encrypt
    (its check uses the AES block size in bits); --relax-frame-check swaps in a
    validator that only enforces 0..2^31-1 so frames of 1..100 bytes occur too.

selftest  [--count 40] [--seed N] [--keep DIR] [--vectors-root PATH]
    encrypt -> decrypt round trip, negative controls, framework scenarios, and
    the legacy python-1.3.0 raw-key vectors (expects 900 passes).

Everything in this file was written for this project; it is not derived from
any other project's test-vector handler.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

try:
    import aws_encryption_sdk
    from aws_encryption_sdk.exceptions import InvalidKeyIdError
    from aws_encryption_sdk.identifiers import (
        Algorithm,
        CommitmentPolicy,
        EncryptionKeyType,
        WrappingAlgorithm,
    )
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
    from aws_encryption_sdk.key_providers.base import MasterKeyProvider, MasterKeyProviderConfig
    from aws_encryption_sdk.key_providers.raw import RawMasterKey
except ImportError as _import_error:  # pragma: no cover - environment problem
    sys.stderr.write(
        "esdk_vectors.py needs the AWS Encryption SDK for Python: "
        "pip install -r interop/python/requirements.txt (%s)\n" % _import_error
    )
    sys.exit(2)

ESDK_VERSION = getattr(aws_encryption_sdk, "__version__", "unknown")
CLIENT_NAME = "aws/aws-encryption-sdk-python"

# The decryptor's stream object logs a full traceback ("Error on closing") each
# time a failed decryption is closed.  Must-fail vectors make that noise
# expected, so keep the library quiet; our own reporting says what happened.
logging.getLogger("aws_encryption_sdk").addHandler(logging.NullHandler())
logging.getLogger("aws_encryption_sdk").propagate = False
logging.getLogger("aws_encryption_sdk").setLevel(logging.CRITICAL + 1)

SUITES: List[Algorithm] = sorted(Algorithm, key=lambda a: a.algorithm_id)
SUITE_BY_ID: Dict[int, Algorithm] = {a.algorithm_id: a for a in SUITES}

AES_WRAPPING = {
    16: WrappingAlgorithm.AES_128_GCM_IV12_TAG16_NO_PADDING,
    24: WrappingAlgorithm.AES_192_GCM_IV12_TAG16_NO_PADDING,
    32: WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
}
OAEP_WRAPPING = {
    "sha1": WrappingAlgorithm.RSA_OAEP_SHA1_MGF1,
    "sha256": WrappingAlgorithm.RSA_OAEP_SHA256_MGF1,
    "sha384": WrappingAlgorithm.RSA_OAEP_SHA384_MGF1,
    "sha512": WrappingAlgorithm.RSA_OAEP_SHA512_MGF1,
}

# Python ESDK 4.x checks `frame_length % block_size` with block_size in *bits*
# (128), so on encrypt every frame length must be a multiple of 128 bytes.
PY_FRAME_MULTIPLE = 128
MAX_FRAME = 2**31 - 1  # Python ESDK's encrypt-side cap

DEFAULT_PROVIDER_ID = "aws-raw-vectors-persistant"  # (sic) the framework's spelling


# --------------------------------------------------------------------------------------
# Errors and small helpers
# --------------------------------------------------------------------------------------


class Unsupported(Exception):
    """The test cannot be run offline by this tool (reported as a skip)."""


class ManifestError(Exception):
    """A manifest or test entry is malformed (reported as a failure)."""


def resolve_uri(uri: str, base_dir: Path) -> Path:
    """Resolve a manifest `file://` URI relative to the directory of the manifest."""
    if not isinstance(uri, str):
        raise ManifestError("expected a file:// URI string, got %r" % (uri,))
    if uri.startswith("file://"):
        rest = uri[len("file://"):]
    elif "://" in uri:
        raise ManifestError("unsupported URI scheme in %r" % uri)
    else:
        rest = uri
    p = Path(rest)
    return p if p.is_absolute() else (base_dir / p)


def read_json(path: Path) -> dict:
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ManifestError("file not found: %s" % path)
    except json.JSONDecodeError as e:
        raise ManifestError("invalid JSON in %s: %s" % (path, e))


def manifest_header(doc: dict, path: Path) -> Tuple[str, int]:
    m = doc.get("manifest")
    if not isinstance(m, dict) or "type" not in m or "version" not in m:
        raise ManifestError("%s: missing manifest.type / manifest.version" % path)
    return str(m["type"]), int(m["version"])


def describe_exc(e: BaseException) -> str:
    text = str(e).replace("\n", " ")
    if len(text) > 300:
        text = text[:300] + "..."
    return "%s: %s" % (type(e).__name__, text) if text else type(e).__name__


def first_difference(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def flatten_strings(obj) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from flatten_strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from flatten_strings(v)


# --------------------------------------------------------------------------------------
# Keys manifest
# --------------------------------------------------------------------------------------


@dataclass
class KeyEntry:
    name: str
    kind: str  # symmetric | private | public | aws-kms | ...
    key_id: str
    material: Optional[bytes]
    encrypt: bool
    decrypt: bool
    bits: Optional[int]
    algorithm: Optional[str]


def _decode_material(name: str, entry: dict) -> Optional[bytes]:
    if "material" not in entry:
        return None
    material = entry["material"]
    if isinstance(material, list):  # keys v1/v2 style: lines joined with line-separator
        material = entry.get("line-separator", "").join(material)
    if not isinstance(material, str):
        raise ManifestError("key %r: material must be a string or a list of strings" % name)
    encoding = str(entry.get("encoding", "")).lower()
    if encoding == "base64":
        try:
            return base64.b64decode(material, validate=False)
        except (ValueError, TypeError) as e:
            raise ManifestError("key %r: bad base64 material: %s" % (name, e))
    if encoding == "pem":
        return material.encode("utf-8")
    if encoding == "":
        return material.encode("utf-8")
    # Unknown encodings (e.g. MPL's base64-der public keys) are kept undecoded;
    # only raw AES/RSA entries are ever turned into wrapping keys.
    return material.encode("utf-8")


def load_keys_manifest(path: Path) -> Dict[str, KeyEntry]:
    doc = read_json(path)
    mtype, version = manifest_header(doc, path)
    if mtype != "keys":
        raise ManifestError("%s: expected a keys manifest, found type %r" % (path, mtype))
    if version not in (1, 2, 3):
        sys.stderr.write("warning: %s: keys manifest version %d is newer than 3; reading it as v3\n" % (path, version))
    keys = doc.get("keys")
    if not isinstance(keys, dict):
        raise ManifestError("%s: 'keys' must be an object" % path)
    out: Dict[str, KeyEntry] = {}
    for name, entry in keys.items():
        if not isinstance(entry, dict):
            raise ManifestError("%s: key %r is not an object" % (path, name))
        kind = str(entry.get("type", ""))
        material = None
        if kind in ("symmetric", "private", "public"):
            material = _decode_material(name, entry)
        out[name] = KeyEntry(
            name=name,
            kind=kind,
            # keys v1 has no key-id: the key name doubles as the identifier.
            key_id=str(entry.get("key-id", name)),
            material=material,
            encrypt=bool(entry.get("encrypt", True)),
            decrypt=bool(entry.get("decrypt", True)),
            bits=entry.get("bits"),
            algorithm=entry.get("algorithm"),
        )
    return out


# --------------------------------------------------------------------------------------
# Master keys and providers
# --------------------------------------------------------------------------------------


class KeyBundle(MasterKeyProvider):
    """A master key provider that simply holds a fixed, ordered list of master keys.

    The first key added generates the data key on encrypt; every key wraps it.  On
    decrypt every member is tried for each EDK.  The bundle's own provider ID can
    never equal an EDK provider ID (it contains a NUL), so it never tries to vend
    a new master key itself.
    """

    provider_id = "\x00esdk-vectors-bundle"
    _config_class = MasterKeyProviderConfig
    vend_masterkey_on_decrypt = False

    def _new_master_key(self, key_id):
        raise InvalidKeyIdError("KeyBundle holds a fixed set of keys; cannot create %r" % (key_id,))


def normalize_hash(name: str) -> str:
    return str(name).lower().replace("-", "").replace("_", "")


def wrapping_algorithm_for(desc: dict, entry: KeyEntry) -> Tuple[WrappingAlgorithm, EncryptionKeyType]:
    enc_alg = str(desc.get("encryption-algorithm", "")).lower()
    if enc_alg == "aes":
        if entry.kind != "symmetric" or entry.material is None:
            raise ManifestError("key %r is not a symmetric key but is used as raw AES" % entry.name)
        wa = AES_WRAPPING.get(len(entry.material))
        if wa is None:
            raise ManifestError("key %r: AES key of %d bytes (need 16/24/32)" % (entry.name, len(entry.material)))
        if entry.bits is not None and int(entry.bits) != 8 * len(entry.material):
            raise ManifestError("key %r: bits=%s but material is %d bytes" % (entry.name, entry.bits, len(entry.material)))
        return wa, EncryptionKeyType.SYMMETRIC
    if enc_alg == "rsa":
        if entry.kind not in ("private", "public") or entry.material is None:
            raise ManifestError("key %r is not an RSA private/public key but is used as raw RSA" % entry.name)
        padding = str(desc.get("padding-algorithm", "")).lower()
        if padding == "pkcs1":
            wa = WrappingAlgorithm.RSA_PKCS1
        elif padding in ("oaep-mgf1", "oaep"):
            h = normalize_hash(desc.get("padding-hash", "sha1"))
            if h not in OAEP_WRAPPING:
                raise ManifestError("unsupported OAEP hash %r" % desc.get("padding-hash"))
            wa = OAEP_WRAPPING[h]
        else:
            raise ManifestError("unsupported RSA padding-algorithm %r" % desc.get("padding-algorithm"))
        kt = EncryptionKeyType.PRIVATE if entry.kind == "private" else EncryptionKeyType.PUBLIC
        return wa, kt
    raise ManifestError("unsupported raw encryption-algorithm %r" % desc.get("encryption-algorithm"))


KMS_TYPES = {
    "aws-kms",
    "aws-kms-mrk-aware",
    "aws-kms-mrk-aware-discovery",
    "aws-kms-rsa",
    "aws-kms-ecdh",
}


class KeyFactory:
    """Builds (and caches) RawMasterKey objects from key descriptions."""

    def __init__(self, keys: Dict[str, KeyEntry]):
        self.keys = keys
        self._cache: Dict[str, RawMasterKey] = {}

    def entry(self, name: str) -> KeyEntry:
        if name not in self.keys:
            raise ManifestError("key %r is not in the keys manifest" % name)
        return self.keys[name]

    def raw_master_key(self, desc: dict) -> RawMasterKey:
        cache_key = json.dumps(desc, sort_keys=True)
        mk = self._cache.get(cache_key)
        if mk is not None:
            return mk
        entry = self.entry(desc.get("key"))
        provider_id = desc.get("provider-id")
        if not isinstance(provider_id, str) or not provider_id:
            raise ManifestError("raw key description without provider-id: %r" % (desc,))
        wa, kt = wrapping_algorithm_for(desc, entry)
        # Master-key feature v1 allowed a per-description key-id override.
        key_id = desc.get("key-id", entry.key_id)
        try:
            wrapping_key = WrappingKey(wrapping_algorithm=wa, wrapping_key=entry.material, wrapping_key_type=kt)
        except Exception as e:  # bad PEM etc.
            raise ManifestError("key %r: cannot load wrapping key: %s" % (entry.name, describe_exc(e)))
        mk = RawMasterKey(provider_id=provider_id, key_id=key_id.encode("utf-8"), wrapping_key=wrapping_key)
        self._cache[cache_key] = mk
        return mk

    def _flatten(self, desc: dict, for_decrypt: bool) -> List[RawMasterKey]:
        if not isinstance(desc, dict):
            raise ManifestError("key description must be an object: %r" % (desc,))
        t = desc.get("type")
        if t == "raw":
            entry = self.entry(desc.get("key"))
            if for_decrypt and not entry.decrypt:
                return []  # encrypt-only key: another entry must decrypt
            if not for_decrypt and not entry.encrypt:
                raise ManifestError("key %r is marked encrypt: false" % entry.name)
            return [self.raw_master_key(desc)]
        if t == "multi-keyring":
            out: List[RawMasterKey] = []
            if desc.get("generator") is not None:
                out.extend(self._flatten(desc["generator"], for_decrypt))
            for child in desc.get("childKeyrings", []) or []:
                out.extend(self._flatten(child, for_decrypt))
            return out
        if t in KMS_TYPES:
            raise Unsupported("needs AWS KMS (%s key description)" % t)
        if t == "aws-kms-hierarchy":
            raise Unsupported("hierarchical keyring (static branch key) needs the MPL")
        if t == "raw-ecdh":
            raise Unsupported("raw ECDH keyring needs the MPL (not available with master key providers)")
        if t in ("required-encryption-context-cmm", "caching-cmm", "static-material-keyring"):
            raise Unsupported("%s needs the MPL (not available with master key providers)" % t)
        raise ManifestError("unknown key description type %r" % (t,))

    def provider(self, descs: Sequence[dict], for_decrypt: bool) -> KeyBundle:
        keys: List[RawMasterKey] = []
        for d in descs:
            keys.extend(self._flatten(d, for_decrypt))
        bundle = KeyBundle()
        seen = set()
        for mk in keys:
            if id(mk) in seen:
                continue
            seen.add(id(mk))
            bundle.add_master_key_provider(mk)
        if not for_decrypt and not keys:
            raise ManifestError("no key to encrypt with")
        return bundle


# --------------------------------------------------------------------------------------
# Decrypt manifests
# --------------------------------------------------------------------------------------


@dataclass
class DecryptCase:
    name: str
    expect: str  # "output" or "error"
    ciphertext: Optional[Path]
    plaintext: Optional[Path]
    key_descs: List[dict]
    ec_check: Optional[Dict[str, str]] = None
    method: Optional[str] = None
    skip: Optional[str] = None
    error: Optional[str] = None  # malformed entry -> failure
    tags: str = ""


def _parse_result(name: str, result, base: Path) -> Tuple[str, Optional[Path]]:
    if not isinstance(result, dict):
        raise ManifestError("test %r: 'result' must be an object" % name)
    has_out, has_err = "output" in result, "error" in result
    if has_out == has_err:
        raise ManifestError("test %r: 'result' must hold exactly one of output / error" % name)
    if has_out:
        out = result["output"]
        if not isinstance(out, dict) or "plaintext" not in out:
            raise ManifestError("test %r: result.output.plaintext missing" % name)
        return "output", resolve_uri(out["plaintext"], base)
    return "error", None


def load_decrypt_manifest(path: Path) -> Tuple[dict, Dict[str, KeyEntry], List[DecryptCase]]:
    doc = read_json(path)
    mtype, version = manifest_header(doc, path)
    if mtype != "awses-decrypt":
        raise ManifestError("%s: expected an awses-decrypt manifest, found %r" % (path, mtype))
    if version not in (1, 2, 3, 4, 5):
        raise ManifestError("%s: awses-decrypt version %d is not supported (1-5)" % (path, version))
    base = path.parent
    if "keys" not in doc:
        raise ManifestError("%s: no 'keys' URI" % path)
    keys = load_keys_manifest(resolve_uri(doc["keys"], base))
    tests = doc.get("tests")
    if not isinstance(tests, dict):
        raise ManifestError("%s: 'tests' must be an object" % path)
    cases: List[DecryptCase] = []
    for name, t in tests.items():
        case = DecryptCase(name=name, expect="output", ciphertext=None, plaintext=None, key_descs=[])
        try:
            if not isinstance(t, dict):
                raise ManifestError("test entry is not an object")
            if version == 5:
                scen = t.get("decryption-scenario")
                if not isinstance(scen, dict):
                    raise ManifestError("v5 test without decryption-scenario")
                stype = str(scen.get("type", "positive-esdk"))
                case.ciphertext = resolve_uri(scen["ciphertext"], base)
                if stype.startswith("negative"):
                    case.expect = "error"
                else:
                    res = scen.get("result")
                    if isinstance(res, dict):
                        case.expect, case.plaintext = _parse_result(name, res, base)
                    else:
                        case.plaintext = resolve_uri(res, base)
                kd = scen.get("decryptKeyDescription")
                case.key_descs = [kd] if kd is not None else []
                repro = scen.get("reproduced-encryption-context") or {}
                if repro:
                    case.ec_check = dict(repro)
            else:
                case.ciphertext = resolve_uri(t["ciphertext"], base)
                mks = t.get("master-keys")
                if not isinstance(mks, list):
                    raise ManifestError("'master-keys' must be a list")
                case.key_descs = mks
                if version == 1:
                    case.plaintext = resolve_uri(t["plaintext"], base)
                else:
                    case.expect, case.plaintext = _parse_result(name, t.get("result"), base)
                if version >= 3 and t.get("decryption-method") is not None:
                    case.method = str(t["decryption-method"])
                    if case.method != "streaming-unsigned-only":
                        raise ManifestError("unknown decryption-method %r" % case.method)
                if version == 4:
                    cmm = t.get("cmm", "Default")
                    if cmm == "RequiredEncryptionContext":
                        case.skip = "required-encryption-context CMM needs the MPL (reproduced encryption context)"
                    elif cmm != "Default":
                        raise ManifestError("unknown cmm %r" % cmm)
                    if t.get("encryption-context"):
                        case.ec_check = dict(t["encryption-context"])
        except (KeyError, ManifestError) as e:
            case.error = "malformed test entry: %s" % (e if isinstance(e, ManifestError) else "missing %s" % e)
        case.tags = " ".join(flatten_strings(case.key_descs))
        cases.append(case)
    return doc, keys, cases


class FileCache:
    """Caches plaintext files: many vectors share one plaintext."""

    def __init__(self):
        self._cache: Dict[Path, bytes] = {}

    def get(self, path: Path) -> bytes:
        data = self._cache.get(path)
        if data is None:
            with open(path, "rb") as f:
                data = f.read()
            if len(data) <= 1 << 20:
                self._cache[path] = data
        return data


def decrypt_once(client, api: str, ciphertext: bytes, provider) -> Tuple[bytes, object]:
    if api == "oneshot":
        return client.decrypt(source=ciphertext, key_provider=provider)
    mode = "decrypt-unsigned" if api == "stream-unsigned" else "decrypt"
    chunks = []
    with client.stream(mode=mode, source=io.BytesIO(ciphertext), key_provider=provider) as decryptor:
        while True:
            chunk = decryptor.read(8192)
            if not chunk:
                break
            chunks.append(chunk)
        header = decryptor.header
    return b"".join(chunks), header


@dataclass
class Outcome:
    status: str  # pass | fail | skip
    reason: str = ""


def run_decrypt_case(case: DecryptCase, factory: KeyFactory, client, apis: Sequence[str],
                     files: FileCache, expect_error_override: bool) -> Outcome:
    if case.error:
        return Outcome("fail", case.error)
    if case.skip:
        return Outcome("skip", case.skip)
    expect = "error" if expect_error_override else case.expect
    try:
        provider = factory.provider(case.key_descs, for_decrypt=True)
    except Unsupported as e:
        return Outcome("skip", str(e))
    except ManifestError as e:
        return Outcome("fail", "bad key description: %s" % e)
    try:
        with open(case.ciphertext, "rb") as f:
            ciphertext = f.read()
    except OSError as e:
        return Outcome("fail", "cannot read ciphertext: %s" % describe_exc(e))
    expected = None
    if expect == "output":
        try:
            expected = files.get(case.plaintext)
        except OSError as e:
            return Outcome("fail", "cannot read expected plaintext: %s" % describe_exc(e))
    use_apis = ["stream-unsigned"] if case.method == "streaming-unsigned-only" else list(apis)
    for api in use_apis:
        try:
            plaintext, header = decrypt_once(client, api, ciphertext, provider)
        except Exception as e:  # every failure mode of the ESDK counts as "decrypt failed"
            if expect == "error":
                continue
            return Outcome("fail", "%s decrypt failed: %s" % (api, describe_exc(e)))
        if expect == "error":
            return Outcome("fail", "%s decrypt succeeded (%d bytes) but the manifest expects an error"
                           % (api, len(plaintext)))
        if plaintext != expected:
            return Outcome("fail", "%s plaintext mismatch: got %d bytes, expected %d, first difference at offset %d"
                           % (api, len(plaintext), len(expected), first_difference(plaintext, expected)))
        if case.ec_check:
            ec = dict(getattr(header, "encryption_context", {}) or {})
            bad = sorted(k for k, v in case.ec_check.items() if ec.get(k) != v)
            if bad:
                return Outcome("fail", "%s: encryption context lacks or differs in %d manifest pair(s): %r"
                               % (api, len(bad), bad[:5]))
    return Outcome("pass")


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, other: "Tally") -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped

    def line(self) -> str:
        s = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            s += ", %d skipped" % self.skipped
        return s


def matches_filter(case: DecryptCase, filters: Sequence[str]) -> bool:
    if not filters:
        return True
    hay = case.name + " " + case.tags
    return any(f in hay for f in filters)


def decrypt_manifests(paths: Sequence[Path], filters: Sequence[str] = (), limit: Optional[int] = None,
                      apis: Sequence[str] = ("oneshot", "stream"), expect_error: bool = False,
                      verbose: bool = False, out: Callable[[str], None] = print) -> Tally:
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
    )
    files = FileCache()
    total = Tally()
    remaining = limit
    for path in paths:
        path = Path(path)
        if path.is_dir():  # a vector directory: use its manifest.json
            path = path / "manifest.json"
        label = str(path)
        t0 = time.perf_counter()
        try:
            doc, keys, cases = load_decrypt_manifest(path)
        except ManifestError as e:
            out("FAIL %s: cannot load manifest: %s" % (label, e))
            total.failed += 1
            continue
        factory = KeyFactory(keys)
        tally = Tally()
        deselected = 0
        skip_groups: Dict[str, List[str]] = {}
        for case in cases:
            if not matches_filter(case, filters):
                deselected += 1
                continue
            if remaining is not None and remaining <= 0:
                deselected += 1
                continue
            if remaining is not None:
                remaining -= 1
            res = run_decrypt_case(case, factory, client, apis, files, expect_error)
            if res.status == "pass":
                tally.passed += 1
                if verbose:
                    out("PASS %s" % case.name)
            elif res.status == "skip":
                tally.skipped += 1
                skip_groups.setdefault(res.reason, []).append(case.name)
                if verbose:
                    out("SKIP %s: %s" % (case.name, res.reason))
            else:
                tally.failed += 1
                out("FAIL %s: %s" % (case.name, res.reason))
        for reason, names in sorted(skip_groups.items()):
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            out("SKIP %d test(s): %s [%s]" % (len(names), reason, shown))
        client_info = doc.get("client") or {}
        out("manifest %s (awses-decrypt v%s, written by %s %s): %s%s in %.1fs"
            % (label, doc["manifest"]["version"], client_info.get("name", "?"), client_info.get("version", "?"),
               tally.line(), ("; %d not selected by --filter/--limit" % deselected) if deselected else "",
               time.perf_counter() - t0))
        total.add(tally)
    return total


# --------------------------------------------------------------------------------------
# Encryption
# --------------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    suite: Algorithm
    frame_length: int
    plaintext_name: str
    plaintext: bytes
    encryption_context: Dict[str, str]
    master_keys: List[dict]
    description: str = ""


CONTROL_SAMPLE = "\u0000\u0001\u0002"


def fixed_rich_context() -> Dict[str, str]:
    """Several pairs: non-ASCII (Cyrillic, CJK, astral), control characters, an empty value,
    and keys whose UTF-8 order differs from their UTF-16 order (U+FF61 vs U+1F510)."""
    return {
        "key1": "val1",
        "unicode_key_\u043b\u043e\u0432\u0438\u0435": "unicode_value_\u041f\u0440\u0435\u0434\u0438\u0441\u043b",
        CONTROL_SAMPLE: "ctl\t\n\r\u001b\u007f\u0000end",
        "\u00e9t\u00e9 \u6f22\u5b57": "\u0645\u0631\u062d\u0628\u0627",
        "\uff61halfwidth": "BMP above the surrogate block",
        "emoji-\U0001F510": "astral \U0001F600\U00010348",
        "empty-value": "",
    }


def random_text(rng: random.Random, min_len: int, max_len: int) -> str:
    ranges = [
        ((0x20, 0x7E), 50),
        ((0x00, 0x1F), 5),
        ((0x80, 0x7FF), 15),
        ((0x800, 0xD7FF), 15),
        ((0xE000, 0xFFFD), 5),
        ((0x10000, 0x10FFFF), 10),
    ]
    population = [r for r, _ in ranges]
    weights = [w for _, w in ranges]
    n = rng.randint(min_len, max_len)
    chars = []
    for _ in range(n):
        lo, hi = rng.choices(population, weights)[0]
        chars.append(chr(rng.randint(lo, hi)))
    return "".join(chars)


def make_context(kind: str, rng: random.Random) -> Dict[str, str]:
    if kind == "empty":
        return {}
    if kind == "one":
        return {"purpose": "rust-esdk interop \u2713"}
    if kind == "several":
        return fixed_rich_context()
    if kind == "random":
        ec: Dict[str, str] = {}
        for _ in range(rng.randint(2, 12)):
            k = random_text(rng, 1, 24)
            if k.startswith("aws-crypto-"):
                continue
            ec[k] = random_text(rng, 0, 40)
        return ec
    raise ValueError(kind)


@dataclass
class KeyPools:
    aes: Dict[int, KeyEntry]
    rsa_private: List[KeyEntry]
    rsa_public: List[KeyEntry]


def key_pools(keys: Dict[str, KeyEntry]) -> KeyPools:
    aes: Dict[int, KeyEntry] = {}
    priv: List[KeyEntry] = []
    pub: List[KeyEntry] = []
    for e in keys.values():
        if e.kind == "symmetric" and e.material is not None and e.encrypt and e.decrypt:
            if len(e.material) in AES_WRAPPING and len(e.material) not in aes:
                aes[len(e.material)] = e
        elif e.kind == "private" and e.material is not None and e.encrypt and e.decrypt:
            priv.append(e)
        elif e.kind == "public" and e.material is not None and e.encrypt:
            pub.append(e)
    return KeyPools(aes, priv, pub)


RSA_PADDINGS = [("pkcs1", None), ("oaep-mgf1", "sha1"), ("oaep-mgf1", "sha256"),
                ("oaep-mgf1", "sha384"), ("oaep-mgf1", "sha512")]


def pick_provider_id(rng: random.Random, key_name: str) -> str:
    r = rng.random()
    if r < 0.5:
        return DEFAULT_PROVIDER_ID
    if r < 0.85:
        return "aws-raw-vectors-persistent-" + key_name
    return "rust-esdk-interop \u00fc\u00f1\u00ee"  # non-ASCII key namespace


def aes_desc(entry: KeyEntry, provider_id: str) -> dict:
    return {"type": "raw", "key": entry.name, "provider-id": provider_id, "encryption-algorithm": "aes"}


def rsa_desc(entry: KeyEntry, provider_id: str, padding: str, hash_name: Optional[str]) -> dict:
    d = {"type": "raw", "key": entry.name, "provider-id": provider_id, "encryption-algorithm": "rsa",
         "padding-algorithm": padding}
    if hash_name is not None:
        d["padding-hash"] = hash_name
    return d


def key_combos(pools: KeyPools) -> List[Tuple[str, Callable[[random.Random], List[dict]]]]:
    combos: List[Tuple[str, Callable[[random.Random], List[dict]]]] = []

    def aes_of(size):
        return lambda rng: [aes_desc(pools.aes[size], pick_provider_id(rng, pools.aes[size].name))]

    for size in sorted(pools.aes):
        combos.append(("aes%d" % (size * 8), aes_of(size)))

    def rsa_one(rng, padding=None):
        entry = rng.choice(pools.rsa_private)
        pad, h = padding if padding else rng.choice(RSA_PADDINGS)
        return rsa_desc(entry, pick_provider_id(rng, entry.name), pad, h)

    def any_aes(rng):
        entry = pools.aes[rng.choice(sorted(pools.aes))]
        return aes_desc(entry, pick_provider_id(rng, entry.name))

    if pools.rsa_private:
        for pad, h in RSA_PADDINGS:
            label = "rsa-" + (pad if h is None else "oaep-" + h)
            combos.append((label, (lambda p: (lambda rng: [rsa_one(rng, p)]))((pad, h))))
    if pools.aes and pools.rsa_private:
        combos.append(("aes+rsa", lambda rng: [any_aes(rng), rsa_one(rng)]))
        combos.append(("rsa+aes", lambda rng: [rsa_one(rng), any_aes(rng)]))
    if len(pools.aes) >= 2:
        def two_aes(rng):
            a, b = rng.sample(sorted(pools.aes), 2)
            return [aes_desc(pools.aes[a], pick_provider_id(rng, pools.aes[a].name)),
                    aes_desc(pools.aes[b], pick_provider_id(rng, pools.aes[b].name))]
        combos.append(("aes+aes", two_aes))
    if pools.rsa_private and pools.rsa_public:
        def with_public(rng):
            pub = rng.choice(pools.rsa_public)
            pad, h = rng.choice(RSA_PADDINGS)
            return [rsa_one(rng), rsa_desc(pub, pick_provider_id(rng, pub.name), pad, h)]
        combos.append(("rsa+public-only", with_public))
    return combos


def cover_list(items: Sequence, count: int, rng: random.Random) -> List:
    """`count` items where every item occurs (when count allows) in shuffled rounds."""
    out: List = []
    while len(out) < count:
        block = list(items)
        rng.shuffle(block)
        out.extend(block)
    return out[:count]


DEFAULT_FRAMES = [128, 256, 384, 512, 1024, 4096, 10240, 65536, 0]
RELAXED_EXTRA_FRAMES = [1, 2, 16, 32, 48, 100]
SIZE_KINDS = ["empty", "one", "frame-1", "frame", "frame+1", "kib", "multi"]
EC_KINDS = ["empty", "one", "several", "random"]


def plaintext_size(kind: str, frame: int, rng: random.Random) -> int:
    f = frame if frame > 0 else 4096  # non-framed: sizes relative to a nominal 4096
    if kind == "empty":
        return 0
    if kind == "one":
        return 1
    if kind == "frame-1":
        return f - 1
    if kind == "frame":
        return f
    if kind == "frame+1":
        return f + 1
    if kind == "kib":
        return rng.randint(1024, 8192)
    if kind == "multi":
        return rng.randint(2, 5 if f <= 4096 else 3) * f + rng.randint(0, f - 1)
    raise ValueError(kind)


def sanitize(name: str) -> str:
    return "".join(c if (c.isascii() and (c.isalnum() or c in "-_.")) else "-" for c in name)


def random_scenarios(keys: Dict[str, KeyEntry], seed: int, count: int, relax_frames: bool) -> List[Scenario]:
    rng = random.Random(seed)
    pools = key_pools(keys)
    combos = key_combos(pools)
    if not combos:
        raise ManifestError("the keys manifest has no usable raw AES or RSA keys")
    frames = list(DEFAULT_FRAMES) + (RELAXED_EXTRA_FRAMES if relax_frames else [])
    suites = cover_list(SUITES, count, rng)
    frame_list = cover_list(frames, count, rng)
    size_list = cover_list(SIZE_KINDS, count, rng)
    ec_list = cover_list(EC_KINDS, count, rng)
    combo_list = cover_list(combos, count, rng)
    out: List[Scenario] = []
    for i in range(count):
        suite, frame, size_kind, ec_kind, (combo_name, combo) = (
            suites[i], frame_list[i], size_list[i], ec_list[i], combo_list[i])
        size = plaintext_size(size_kind, frame, rng)
        ec = make_context(ec_kind, rng)
        mks = combo(rng)
        name = sanitize("py%s-s%d-%03d-%04x-f%d-p%d-%s" % (ESDK_VERSION, seed, i, suite.algorithm_id, frame, size,
                                                          combo_name))
        desc = ("python-esdk %s; suite 0x%04X %s; %s; plaintext %d B (%s); EC %s (%d pairs); keys %s"
                % (ESDK_VERSION, suite.algorithm_id, suite.name,
                   "non-framed" if frame == 0 else "frame length %d" % frame, size, size_kind, ec_kind, len(ec),
                   " + ".join(_desc_label(d) for d in mks)))
        out.append(Scenario(name=name, suite=suite, frame_length=frame, plaintext_name=name,
                            plaintext=rng.randbytes(size), encryption_context=ec, master_keys=mks,
                            description=desc))
    return out


def _desc_label(d: dict) -> str:
    if d.get("encryption-algorithm") == "rsa":
        pad = d.get("padding-algorithm", "?")
        if d.get("padding-hash"):
            pad += "/" + d["padding-hash"]
        return "%s(rsa %s, ns %r)" % (d.get("key"), pad, d.get("provider-id"))
    return "%s(%s, ns %r)" % (d.get("key"), d.get("encryption-algorithm", d.get("type")), d.get("provider-id"))


def scenarios_from_manifest(path: Path, seed: int, count: Optional[int]) -> Tuple[List[Scenario], List[Tuple[str, str]], Optional[Path]]:
    doc = read_json(path)
    mtype, version = manifest_header(doc, path)
    if mtype != "awses-encrypt":
        raise ManifestError("%s: expected an awses-encrypt manifest, found %r" % (path, mtype))
    if version not in (1, 2):
        raise ManifestError("%s: awses-encrypt version %d not supported (1 or 2)" % (path, version))
    keys_path = resolve_uri(doc["keys"], path.parent) if "keys" in doc else None
    rng = random.Random(seed)
    sizes = doc.get("plaintexts", {})
    plaintexts = {name: rng.randbytes(int(n)) for name, n in sorted(sizes.items())}
    tests = doc.get("tests", {})
    skipped: List[Tuple[str, str]] = []
    eligible: List[Tuple[str, dict]] = []
    for name, t in tests.items():
        kinds = {mk.get("type") for mk in t.get("master-keys", [])}
        if kinds - {"raw"}:
            skipped.append((name, "needs AWS KMS (%s master key)" % ",".join(sorted(k for k in kinds if k != "raw"))))
            continue
        eligible.append((name, t))
    if count is not None and count < len(eligible):
        picked = set(rng.sample(range(len(eligible)), count))
        eligible = [x for i, x in enumerate(eligible) if i in picked]
        skipped = []  # a sample was requested; do not report the rest
    out: List[Scenario] = []
    for name, t in eligible:
        try:
            suite = SUITE_BY_ID[int(str(t["algorithm"]), 16)]
        except (KeyError, ValueError):
            skipped.append((name, "unknown algorithm %r" % t.get("algorithm")))
            continue
        pname = t["plaintext"]
        if pname not in plaintexts:
            raise ManifestError("test %r: plaintext %r not declared" % (name, pname))
        ec = dict(t.get("encryption-context", {}))
        frame = int(t.get("frame-size", 4096))
        desc = ("python-esdk %s from %s; suite 0x%04X; %s; plaintext %r (%d B); EC %d pairs; keys %s"
                % (ESDK_VERSION, path.name, suite.algorithm_id,
                   "non-framed" if frame == 0 else "frame length %d" % frame,
                   pname, len(plaintexts[pname]), len(ec), " + ".join(_desc_label(d) for d in t["master-keys"])))
        out.append(Scenario(name=name, suite=suite, frame_length=frame, plaintext_name=pname,
                            plaintext=plaintexts[pname], encryption_context=ec,
                            master_keys=list(t["master-keys"]), description=desc))
    return out, skipped, keys_path


class _RelaxedFrameCheck:
    """Temporarily replace the Python ESDK's encrypt-side frame-length validator with one
    that only enforces 0 <= frame length <= 2^31-1 (the message format allows any
    frame length >= 1; the SDK's own check demands multiples of 128)."""

    def __enter__(self):
        import aws_encryption_sdk.internal.utils as utils_mod
        self._mod = utils_mod
        self._orig = utils_mod.validate_frame_length

        def relaxed(frame_length, algorithm):
            if frame_length < 0 or frame_length > MAX_FRAME:
                raise ValueError("frame length out of range: %d" % frame_length)

        utils_mod.validate_frame_length = relaxed
        return self

    def __exit__(self, *exc):
        self._mod.validate_frame_length = self._orig
        return False


def encrypt_scenarios(scenarios: List[Scenario], factory: KeyFactory, out_dir: Path, keys_src: Path,
                      relax_frames: bool, pre_skipped: List[Tuple[str, str]],
                      out: Callable[[str], None] = print, source_label: str = "") -> Tally:
    (out_dir / "ciphertexts").mkdir(parents=True, exist_ok=True)
    (out_dir / "plaintexts").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(keys_src, out_dir / "keys.json")
    clients = {
        False: aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT),
        True: aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT),
    }
    tally = Tally(skipped=len(pre_skipped))
    skip_groups: Dict[str, List[str]] = {}
    for name, reason in pre_skipped:
        skip_groups.setdefault(reason, []).append(name)
    tests: Dict[str, dict] = {}
    written_plaintexts: Dict[str, bytes] = {}
    used_names = set()
    for sc in scenarios:
        fname = sanitize(sc.name)
        if fname in used_names:
            tally.failed += 1
            out("FAIL %s: duplicate file name after sanitizing" % sc.name)
            continue
        used_names.add(fname)
        if sc.frame_length % PY_FRAME_MULTIPLE and not relax_frames:
            reason = "frame length %d is not a multiple of %d (Python ESDK refuses it on encrypt)" % (
                sc.frame_length, PY_FRAME_MULTIPLE)
            tally.skipped += 1
            skip_groups.setdefault(reason, []).append(sc.name)
            continue
        try:
            encrypt_provider = factory.provider(sc.master_keys, for_decrypt=False)
            decrypt_provider = factory.provider(sc.master_keys, for_decrypt=True)
        except Unsupported as e:
            tally.skipped += 1
            skip_groups.setdefault(str(e), []).append(sc.name)
            continue
        except ManifestError as e:
            tally.failed += 1
            out("FAIL %s: %s" % (sc.name, e))
            continue
        if not decrypt_provider._members:
            reason = "no decrypt-capable key among the master keys"
            tally.skipped += 1
            skip_groups.setdefault(reason, []).append(sc.name)
            continue
        client = clients[sc.suite.is_committing()]
        try:
            if relax_frames:
                with _RelaxedFrameCheck():
                    ciphertext, header = client.encrypt(
                        source=sc.plaintext, key_provider=encrypt_provider, algorithm=sc.suite,
                        frame_length=sc.frame_length, encryption_context=dict(sc.encryption_context))
            else:
                ciphertext, header = client.encrypt(
                    source=sc.plaintext, key_provider=encrypt_provider, algorithm=sc.suite,
                    frame_length=sc.frame_length, encryption_context=dict(sc.encryption_context))
        except Exception as e:
            tally.failed += 1
            out("FAIL %s: encrypt failed: %s" % (sc.name, describe_exc(e)))
            continue
        problems = []
        if header.algorithm != sc.suite:
            problems.append("header suite %s != requested %s" % (header.algorithm.name, sc.suite.name))
        if header.frame_length != sc.frame_length:
            problems.append("header frame length %d != requested %d" % (header.frame_length, sc.frame_length))
        n_edk = len(header.encrypted_data_keys)
        if n_edk != len(encrypt_provider._members):
            problems.append("%d EDKs for %d master keys" % (n_edk, len(encrypt_provider._members)))
        stored_ec = dict(header.encryption_context)
        public_key = stored_ec.pop("aws-crypto-public-key", None)
        if stored_ec != sc.encryption_context:
            problems.append("header encryption context differs from the requested one")
        if (public_key is not None) != sc.suite.is_signing():
            problems.append("aws-crypto-public-key %s for a %s suite" % (
                "present" if public_key is not None else "missing", "signed" if sc.suite.is_signing() else "unsigned"))
        if problems:
            tally.failed += 1
            out("FAIL %s: %s" % (sc.name, "; ".join(problems)))
            continue
        (out_dir / "ciphertexts" / fname).write_bytes(ciphertext)
        pfile = sanitize(sc.plaintext_name)
        if pfile not in written_plaintexts:
            (out_dir / "plaintexts" / pfile).write_bytes(sc.plaintext)
            written_plaintexts[pfile] = sc.plaintext
        elif written_plaintexts[pfile] != sc.plaintext:
            tally.failed += 1
            out("FAIL %s: plaintext name %r reused with different bytes" % (sc.name, pfile))
            continue
        tests[sc.name] = {
            "description": sc.description,
            "ciphertext": "file://ciphertexts/" + fname,
            "master-keys": sc.master_keys,
            "result": {"output": {"plaintext": "file://plaintexts/" + pfile}},
        }
        tally.passed += 1
    manifest = {
        "manifest": {"type": "awses-decrypt", "version": 2},
        "client": {"name": CLIENT_NAME, "version": ESDK_VERSION},
        "keys": "file://keys.json",
        "tests": tests,
    }
    with open(out_dir / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=True)
        f.write("\n")
    for reason, names in sorted(skip_groups.items()):
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        out("SKIP %d scenario(s): %s [%s]" % (len(names), reason, shown))
    out("wrote %s: %d vectors%s" % (out_dir / "manifest.json", len(tests),
                                    (" from " + source_label) if source_label else ""))
    return tally


def prepare_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not force:
            raise ManifestError("%s exists and is not empty (use --force to replace generated files)" % out_dir)
        for sub in ("ciphertexts", "plaintexts"):
            if (out_dir / sub).exists():
                shutil.rmtree(out_dir / sub)
        for fn in ("manifest.json", "keys.json"):
            if (out_dir / fn).exists():
                (out_dir / fn).unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def run_encrypt(keys_path: Optional[Path], out_dir: Path, seed: Optional[int], count: Optional[int],
                scenarios_path: Optional[Path], relax_frames: bool, force: bool,
                out: Callable[[str], None] = print) -> Tally:
    t0 = time.perf_counter()
    pre_skipped: List[Tuple[str, str]] = []
    if scenarios_path is not None:
        scenarios, pre_skipped, manifest_keys = scenarios_from_manifest(
            scenarios_path, seed if seed is not None else 0, count)
        if keys_path is None:
            keys_path = manifest_keys
        source = str(scenarios_path)
    else:
        source = "seed %d" % (seed if seed is not None else 0)
        scenarios = None
    if keys_path is None:
        raise ManifestError("--keys is required")
    keys = load_keys_manifest(keys_path)
    if scenarios is None:
        scenarios = random_scenarios(keys, seed if seed is not None else 0, count if count is not None else 40,
                                     relax_frames)
    prepare_out_dir(out_dir, force)
    tally = encrypt_scenarios(scenarios, KeyFactory(keys), out_dir, keys_path, relax_frames, pre_skipped,
                              out=out, source_label=source)
    out("encrypt with aws-encryption-sdk %s took %.1fs" % (ESDK_VERSION, time.perf_counter() - t0))
    return tally


# --------------------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------------------


def find_vectors_root(explicit: Optional[str]) -> Optional[Path]:
    candidates = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get("ESDK_TEST_VECTORS"):
        candidates.append(Path(os.environ["ESDK_TEST_VECTORS"]))
    here = Path(__file__).resolve()
    for up in here.parents:
        candidates.append(up / "shared" / "test-vectors")
    candidates.append(Path("/work/shared/test-vectors"))
    for c in candidates:
        if (c / "README.md").exists() or (c / "legacy-python-1.3.0").exists():
            return c
    return None


def generate_keys_manifest(path: Path, seed: int) -> None:
    """Fallback when the shared canonical keys are absent: fresh AES keys and one RSA key
    pair (cryptography is a dependency of the ESDK itself)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    rng = random.Random(seed)
    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv_pem = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode()
    pub_pem = priv.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    keys = {}
    for bits in (128, 192, 256):
        keys["aes-%d" % bits] = {"key-id": "aes-%d" % bits, "encrypt": True, "decrypt": True, "algorithm": "aes",
                                 "type": "symmetric", "bits": bits, "encoding": "base64",
                                 "material": base64.b64encode(rng.randbytes(bits // 8)).decode()}
    keys["rsa-2048-private"] = {"key-id": "rsa-2048-private", "encrypt": True, "decrypt": True, "algorithm": "rsa",
                                "type": "private", "bits": 2048, "encoding": "pem", "material": priv_pem}
    keys["rsa-2048-public"] = {"key-id": "rsa-2048-public", "encrypt": True, "decrypt": False, "algorithm": "rsa",
                               "type": "public", "bits": 2048, "encoding": "pem", "material": pub_pem}
    path.write_text(json.dumps({"manifest": {"type": "keys", "version": 3}, "keys": keys}, indent=2))


def build_negative_controls(src_dir: Path, neg_dir: Path) -> Tuple[int, int]:
    """Write a manifest of tampered copies of src_dir's vectors (must fail -> must pass)
    and two deliberately wrong expectations (the runner must report them as failures).
    Returns (expected passes, expected failures)."""
    doc = read_json(src_dir / "manifest.json")
    items = [(n, t) for n, t in doc["tests"].items()
             if resolve_uri(t["ciphertext"], src_dir).stat().st_size > 200]
    if len(items) < 3:
        raise ManifestError("not enough vectors for negative controls")
    (neg_dir / "ciphertexts").mkdir(parents=True)
    (neg_dir / "plaintexts").mkdir(parents=True)
    shutil.copyfile(src_dir / "keys.json", neg_dir / "keys.json")
    tests: Dict[str, dict] = {}
    must_pass = 0
    for idx, (name, t) in enumerate(items[:6]):
        ct = resolve_uri(t["ciphertext"], src_dir).read_bytes()
        variants = {
            "truncated-by-1": ct[:-1],
            "truncated-to-half": ct[: len(ct) // 2],
            "header-bit-flip": ct[:6] + bytes([ct[6] ^ 0x01]) + ct[7:],
            "tail-bit-flip": ct[:-30] + bytes([ct[-30] ^ 0x80]) + ct[-29:],
        }
        for vname, data in variants.items():
            tname = "neg-%d-%s" % (idx, vname)
            (neg_dir / "ciphertexts" / tname).write_bytes(data)
            tests[tname] = {"ciphertext": "file://ciphertexts/" + tname, "master-keys": t["master-keys"],
                            "result": {"error": {"error-description": vname}}}
            must_pass += 1
    name, t = items[0]
    ct_path = resolve_uri(t["ciphertext"], src_dir)
    shutil.copyfile(ct_path, neg_dir / "ciphertexts" / "control-valid")
    pt = resolve_uri(t["result"]["output"]["plaintext"], src_dir).read_bytes()
    (neg_dir / "plaintexts" / "control-wrong").write_bytes(pt + b"!")
    tests["control-expects-error-on-valid-message"] = {
        "ciphertext": "file://ciphertexts/control-valid", "master-keys": t["master-keys"],
        "result": {"error": {"error-description": "deliberately wrong expectation"}}}
    tests["control-expects-wrong-plaintext"] = {
        "ciphertext": "file://ciphertexts/control-valid", "master-keys": t["master-keys"],
        "result": {"output": {"plaintext": "file://plaintexts/control-wrong"}}}
    manifest = {"manifest": {"type": "awses-decrypt", "version": 2},
                "client": {"name": CLIENT_NAME, "version": ESDK_VERSION},
                "keys": "file://keys.json", "tests": tests}
    (neg_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return must_pass, 2


def run_selftest(count: int, seed: int, keep: Optional[Path], vectors_root: Optional[str]) -> int:
    t0 = time.perf_counter()
    root = find_vectors_root(vectors_root)
    work = Path(tempfile.mkdtemp(prefix="esdk-vectors-selftest-")) if keep is None else keep
    if keep is not None:
        prepare_out_dir(work, force=True)
        for sub in ("random", "relaxed", "negative", "framework"):
            if (work / sub).exists():
                shutil.rmtree(work / sub)
    print("aws-encryption-sdk %s, python %s, work dir %s" % (ESDK_VERSION, sys.version.split()[0], work))
    total = Tally()
    problems: List[str] = []

    def step(title: str) -> None:
        print("\n== %s" % title)

    # 1. random scenarios: Python encrypts, Python decrypts.
    step("1. encrypt %d seeded random scenarios (seed %d)" % (count, seed))
    if root and (root / "generation/framework-canonical/0002-keys.v3.json").exists():
        keys_path = root / "generation/framework-canonical/0002-keys.v3.json"
    else:
        keys_path = work / "generated-keys.json"
        generate_keys_manifest(keys_path, seed)
        print("canonical keys not found; generated %s" % keys_path)
    enc = run_encrypt(keys_path, work / "random", seed, count, None, False, True)
    print("encrypt: %s" % enc.line())
    if enc.failed or enc.passed != count:
        problems.append("random encrypt produced %d of %d vectors (%d failed)" % (enc.passed, count, enc.failed))
    step("2. decrypt the vectors written in step 1")
    dec = decrypt_manifests([work / "random" / "manifest.json"])
    print("decrypt: %s" % dec.line())
    total.add(dec)
    if dec.passed != enc.passed:
        problems.append("round trip: %d of %d vectors decrypted" % (dec.passed, enc.passed))

    # 2b. small frame lengths (1, 2, 16, 32, 48, 100) need the relaxed encrypt-side check.
    step("2b. encrypt 24 scenarios with --relax-frame-check (adds frame lengths 1-100), then decrypt")
    enc_r = run_encrypt(keys_path, work / "relaxed", seed + 1, 24, None, True, True)
    print("encrypt: %s" % enc_r.line())
    dec_r = decrypt_manifests([work / "relaxed" / "manifest.json"])
    print("decrypt: %s" % dec_r.line())
    total.add(dec_r)
    if enc_r.failed or enc_r.passed != 24 or dec_r.passed != enc_r.passed:
        problems.append("relaxed-frame round trip: %d encrypted, %d decrypted" % (enc_r.passed, dec_r.passed))

    # 3. negative controls: the runner must detect tampering and wrong expectations.
    step("3. negative controls (tampered ciphertexts must fail; wrong expectations must be reported)")
    try:
        want_pass, want_fail = build_negative_controls(work / "random", work / "negative")
        captured: List[str] = []
        neg = decrypt_manifests([work / "negative" / "manifest.json"], out=captured.append)
        for line in captured:
            print("   | " + line)
        ok = neg.passed == want_pass and neg.failed == want_fail and neg.skipped == 0
        print("negative controls: runner reported %s; expected %d passed, %d failed -> %s"
              % (neg.line(), want_pass, want_fail, "OK" if ok else "MISMATCH"))
        if ok:
            total.passed += want_pass + want_fail
        else:
            total.failed += 1
            problems.append("negative controls mismatch")
    except (ManifestError, OSError) as e:
        total.failed += 1
        problems.append("negative controls could not run: %s" % e)

    # 4. framework scenarios (0003 v2), a seeded sample of the raw-key ones.
    scen = root / "generation/framework-canonical/0003-awses-message-encryption.v2.json" if root else None
    if scen is not None and scen.exists():
        step("4. encrypt a sample of framework 0003 v2 raw-key scenarios, then decrypt them")
        enc2 = run_encrypt(None, work / "framework", seed, 30, scen, False, True)
        print("encrypt: %s" % enc2.line())
        dec2 = decrypt_manifests([work / "framework" / "manifest.json"])
        print("decrypt: %s" % dec2.line())
        total.add(dec2)
        if enc2.failed or dec2.passed != enc2.passed:
            problems.append("framework scenarios: %d encrypted, %d decrypted" % (enc2.passed, dec2.passed))
    else:
        print("\n(step 4 skipped: framework 0003 manifest not found)")

    # 5. legacy Python 1.3.0 vectors, raw keys only.
    legacy = root / "legacy-python-1.3.0" / "manifest.json" if root else None
    if legacy is not None and legacy.exists():
        step("5. decrypt legacy-python-1.3.0 vectors with --filter raw")
        dec3 = decrypt_manifests([legacy], filters=["raw"])
        print("legacy raw-key vectors: %s (expected 900 passed)" % dec3.line())
        total.add(dec3)
        if dec3.passed != 900 or dec3.failed:
            problems.append("legacy raw vectors: %s, expected 900 passed" % dec3.line())
    else:
        print("\n(step 5 skipped: legacy-python-1.3.0 manifest not found)")

    print("\nselftest finished in %.1fs" % (time.perf_counter() - t0))
    for p in problems:
        print("PROBLEM: " + p)
    if problems and total.failed == 0:
        total.failed = len(problems)
    if keep is None:
        shutil.rmtree(work, ignore_errors=True)
    print(total.line())
    return 1 if (total.failed or total.passed == 0 or problems) else 0


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="ESDK test vectors with the AWS Encryption SDK for Python %s" % ESDK_VERSION)
    sub = parser.add_subparsers(dest="command", required=True)

    p_dec = sub.add_parser("decrypt", help="decrypt awses-decrypt manifests")
    p_dec.add_argument("--manifest", action="append", required=True, type=Path,
                       help="awses-decrypt manifest (repeatable)")
    p_dec.add_argument("--filter", action="append", default=[],
                       help="run only tests whose name or key descriptions contain this substring (repeatable: any)")
    p_dec.add_argument("--limit", type=int, default=None, help="run at most N tests (after --filter)")
    p_dec.add_argument("--api", choices=["oneshot", "stream", "both"], default="both",
                       help="decrypt API(s) to exercise for tests without a decryption-method (default: both)")
    p_dec.add_argument("--expect-error", action="store_true",
                       help="treat every test as must-fail (e.g. net-4.0.0-invalid, whose manifest says output)")
    p_dec.add_argument("-v", "--verbose", action="store_true", help="print every pass and skip")

    p_enc = sub.add_parser("encrypt", help="encrypt scenarios and write an awses-decrypt v2 manifest")
    p_enc.add_argument("--keys", type=Path, default=None, help="keys manifest (v1-v3)")
    p_enc.add_argument("--out", type=Path, required=True, help="output directory")
    p_enc.add_argument("--seed", type=int, default=None, help="RNG seed (default 0)")
    p_enc.add_argument("--count", type=int, default=None,
                       help="number of random scenarios (default 40); with --scenarios: a seeded sample of N")
    p_enc.add_argument("--scenarios", type=Path, default=None, help="awses-encrypt v1/v2 manifest")
    p_enc.add_argument("--relax-frame-check", action="store_true",
                       help="let the SDK encrypt frame lengths that are not multiples of 128 (adds 1, 2, 16, 32, 48, "
                            "100 to the random frame lengths); patches the SDK's encrypt-side validator")
    p_enc.add_argument("--force", action="store_true", help="replace generated files in a non-empty --out")

    p_self = sub.add_parser("selftest", help="round trip + negative controls + legacy vectors")
    p_self.add_argument("--count", type=int, default=40)
    p_self.add_argument("--seed", type=int, default=20240601)
    p_self.add_argument("--keep", type=Path, default=None, help="keep generated files in this directory")
    p_self.add_argument("--vectors-root", default=None, help="path of shared/test-vectors")

    args = parser.parse_args(argv)

    if args.command == "decrypt":
        apis = ["oneshot", "stream"] if args.api == "both" else [args.api]
        if args.limit is not None and args.limit < 0:
            parser.error("--limit must be >= 0")
        tally = decrypt_manifests(args.manifest, args.filter, args.limit, apis, args.expect_error, args.verbose)
        if tally.passed == 0 and tally.failed == 0:
            print("no test passed (nothing ran): treating as failure")
        print(tally.line())
        return 1 if (tally.failed or tally.passed == 0) else 0

    if args.command == "encrypt":
        if args.count is not None and args.count <= 0:
            parser.error("--count must be > 0")
        try:
            tally = run_encrypt(args.keys, args.out, args.seed, args.count, args.scenarios,
                                args.relax_frame_check, args.force)
        except ManifestError as e:
            print("error: %s" % e)
            print("0 passed, 1 failed")
            return 1
        print(tally.line())
        return 1 if (tally.failed or tally.passed == 0) else 0

    if args.command == "selftest":
        return run_selftest(args.count, args.seed, args.keep, args.vectors_root)
    return 2


if __name__ == "__main__":
    sys.exit(main())
