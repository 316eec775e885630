//! RSA test keys, one home for the unit tests of `src/rsa_key.rs` (`src/rsa_key_tests.rs`
//! includes this file by path: integration tests cannot see `#[cfg(test)]` items of the library)
//! and the integration tests (through `tests/common`): the RSA keys of the shared test vectors'
//! keys manifests, and hand-written PKCS#1 DER for numbers no key generator produces. Uses only
//! the standard library and `serde_json`, so it compiles in both places.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where the shared test vectors are read from; one clear failure when they are missing.
#[allow(dead_code)]
mod shared_vectors {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/src/shared.rs"
    ));
}

/// The shared test vectors directory (keys manifests with RSA PEM keys); a clear failure when
/// missing.
pub fn vectors() -> PathBuf {
    shared_vectors::vector_path("")
}

/// A JSON file, parsed; a failure names the file.
pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// One RSA key from a keys manifest.
#[derive(Debug)]
pub struct VectorKey {
    /// Name of the key in the manifest.
    pub name: String,
    /// The `type` field: `private`, `public` or `aws-kms-rsa` (a public key).
    pub kind: String,
    /// The keyring key name (`key-id`, else the manifest name).
    pub key_id: String,
    pub bits: usize,
    pub pem: String,
    /// Whether the material was given as an array of lines.
    pub from_lines: bool,
}

/// Reads every RSA key of a keys manifest (versions 1 to 3).
pub fn rsa_keys_of(path: &Path) -> Vec<VectorKey> {
    let json = read_json(path);
    let keys = json["keys"].as_object().expect("keys object");
    let mut out = Vec::new();
    for (name, key) in keys {
        if key["algorithm"].as_str() != Some("rsa") {
            continue;
        }
        assert_eq!(key["encoding"].as_str(), Some("pem"), "{name}");
        let (pem, from_lines) = match &key["material"] {
            Value::String(s) => (s.clone(), false),
            Value::Array(lines) => {
                let sep = key["line-separator"].as_str().unwrap_or("");
                let lines: Vec<&str> = lines.iter().map(|l| l.as_str().unwrap()).collect();
                (lines.join(sep), true)
            }
            other => panic!("{name}: unexpected material {other:?}"),
        };
        out.push(VectorKey {
            name: name.clone(),
            kind: key["type"].as_str().unwrap().to_owned(),
            key_id: key["key-id"].as_str().unwrap_or(name).to_owned(),
            bits: usize::try_from(key["bits"].as_u64().unwrap()).unwrap(),
            pem,
            from_lines,
        });
    }
    out
}

/// Every JSON file under the vectors directory whose manifest type is `keys`.
pub fn keys_manifests() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                // Message directories hold thousands of binary files.
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if !["ciphertext", "ciphertexts", "plaintext", "plaintexts"]
                    .contains(&name.as_str())
                {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|x| x == "json")
                && path.file_name().unwrap().to_string_lossy().contains("keys")
            {
                let json = read_json(&path);
                if json["manifest"]["type"].as_str() == Some("keys") {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&vectors(), &mut out);
    out
}

/// PEM text of the RSA key `name` in `dir/keys.json` of the vectors.
pub fn rsa_pem(dir: &str, name: &str) -> String {
    let path = vectors().join(dir).join("keys.json");
    rsa_keys_of(&path)
        .into_iter()
        .find(|k| k.name == name)
        .unwrap_or_else(|| panic!("{name} in {}", path.display()))
        .pem
}

/// PEM text of the RSA-4096 key pair of the Dafny 4.1.0 vectors: (public SPKI, private PKCS#8).
pub fn rsa_4096_pems() -> (String, String) {
    (
        rsa_pem("dafny-4.1.0", "rsa-4096-public"),
        rsa_pem("dafny-4.1.0", "rsa-4096-private"),
    )
}

/// A big-endian modulus-shaped number of `bits` bits (top bit set), odd or even: it stands in
/// for a real modulus where only its size or shape matters (wrapping never factors it).
pub fn test_modulus(bits: usize, odd: bool) -> Vec<u8> {
    let mut n = vec![0u8; bits / 8];
    n[0] = 0x80;
    n[bits / 8 - 1] |= u8::from(odd);
    n
}

/// DER of a PKCS#1 `RSAPublicKey` with the given big-endian numbers.
pub fn pkcs1_public_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(u8::try_from(len).unwrap());
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap());
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }
    fn integer(be: &[u8]) -> Vec<u8> {
        // A leading zero keeps a number with its top bit set positive.
        let mut content = if be[0] & 0x80 != 0 {
            vec![0u8]
        } else {
            Vec::new()
        };
        content.extend_from_slice(be);
        tlv(0x02, &content)
    }
    tlv(0x30, &[integer(n), integer(e)].concat())
}
