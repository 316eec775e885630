//! Target `raw_rsa_info`: the raw RSA keyring's provider-info matching (`esdk-std`), which is
//! plain equality: an EDK is the keyring's when its provider id is the namespace and its
//! provider info is exactly the key name.

use crate::common::input::Input;
use esdk_core::{AlgorithmSuite, EncryptedDataKey, EncryptionContext};
use esdk_std::Error;
use esdk_std::keyring::{Keyring, RawRsaKeyring};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{RsaPadding, RsaPrivateKey, RsaPublicKey};
use std::sync::OnceLock;

/// A 2048-bit test key pair, generated for the fuzz harness only.
const PRIVATE_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCycsHoNEimdydH
dblxXz+NxKp90te79ItwaIvDhD73P2JglU1tYVIat7wEhvAb7VK2TSjXtYCciotv
WyelwuxUpXWMfdpxSLKuaoniugjoMdWaFZNzW49kASf4kPAq+efARf9E9fjlXarG
9LVjezC84iKxW28EZRP917TWlLCLO4SWfyc0LAEfOdujJNJBt31DZDjd3AWAgI4O
mrtqzbPCreEi9Lox756rHr5+H1EGa29tkoyX+MYf0ziuzEA305eoOOA+dCjkFoEx
8NtVrPrjZRxSZORYImdu3LtwIdYV+clB9faAsjiHrZ1oWD65MS+gMfYlhp3bWHBL
yuVoIvi5AgMBAAECggEAFDrt0DsTLGoQNin6vMdZT2NnF64ePoTuBO+ZPrBgqguR
xdTPSxHwKq6/Pj0k/emFCb1MHs5JFxYe0iBBqalkPQFoBuYirFqbRSo3WRCRn288
4cPF7FtKMYJvC181Fw4vT40v8Bu5nJkmmfkWkkFeSF+Toss0lgk2f73jVrtTG2mS
Y3YM0b/OJMleWXmzvk3uShTIDq8eSEg7n4A2qKZyuTGnUQi7rHoEZC+ydL49mBXM
R7PqLFjYKLPZMCXpGu4P7bYHGb5W+oaSi07o65ckwbS7/ZwIOTIgWi4df/5DZlNv
46vaw18m97YAflWT+/duCrU1O2P91BgJqcBGPf5mgQKBgQDwwNonlIQA1whPJLrz
CadUBVML8e6ZWIyFBQ189yzgIz7+EDtPTFYnOhJvisooJ6qE1uPTF/M2MhKQY9xb
Lwojplw1g2rLm14+QOwCXU+78TAHKoo2q0LARAr8ndS7VimMX44hu7pbvOAxnE0d
xxc99Rf2s5QK9ewa9Hp8PROVeQKBgQC9v80uj0s/wWsPVmZQwGQlAQIsd1tCz+0U
FL85wMwrCqOLTGbsLWzZuqkR7BlFoTXLxrdXyEIeWe1ZxqyPC8vK3JLKfWEmm16Y
hGo8OsASN/1lFPi0OzeDqr0VMMVKfC6JY+9OWTWzDapdFNIi0Dvmcrs+5rPvCZJ8
D0thZdHtQQKBgQCJVencVDss431o8FH43BPouRTTppHuRfX615QHKlUeEt0XPxkm
NiybOeRUXr7NQzthhdf2jh3+V3gBiAWmumG1TmwhVrMwLJQJPS2kd6hJVN+J5vlr
EC0G0onV6w70QsV2vvesRJOdS1Q02K2hA/Y9MLgX0f7sdbbW9Yl9n7WxOQKBgEEn
JaXSEA2BNWibyx/5H6nREdUA2rYzPP2DLjH/cFtrGMLQ5ho8cr7EKB9+SSMuepFQ
101t9r4DNMt5u3CWpVAvsruSl5QxDycheHTb222mCfz2WXtRRfuQ2cH38BZmU3hb
dyUY3qZvj8rMRmcrxxWW2ZJ8ltYCHGk6uzBjTNTBAoGBAMJ4G6/oy+7ThVahQQRN
bl+DHcsG7484CSNNdP8gtJ9cTaP7qKaRhf5or2ykIzO7ON1GhG3X9onPQMjkDWZm
pnoELZc/XCog5mgzf1zXAO1ICRYFLyYTJl/HyZVUWmxmcteuINXk3VBIKodK2ScL
2PdT2XdaeQ8J0zZvEHvljQfN
-----END PRIVATE KEY-----
";
const PUBLIC_PEM: &str = "\
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsnLB6DRIpncnR3W5cV8/
jcSqfdLXu/SLcGiLw4Q+9z9iYJVNbWFSGre8BIbwG+1Stk0o17WAnIqLb1snpcLs
VKV1jH3acUiyrmqJ4roI6DHVmhWTc1uPZAEn+JDwKvnnwEX/RPX45V2qxvS1Y3sw
vOIisVtvBGUT/de01pSwizuEln8nNCwBHznboyTSQbd9Q2Q43dwFgICODpq7as2z
wq3hIvS6Me+eqx6+fh9RBmtvbZKMl/jGH9M4rsxAN9OXqDjgPnQo5BaBMfDbVaz6
42UcUmTkWCJnbty7cCHWFfnJQfX2gLI4h62daFg+uTEvoDH2JYad21hwS8rlaCL4
uQIDAQAB
-----END PUBLIC KEY-----
";

fn keys() -> &'static (RsaPublicKey, RsaPrivateKey) {
    static KEYS: OnceLock<(RsaPublicKey, RsaPrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            RsaPublicKey::from_pem(PUBLIC_PEM).expect("test public key"),
            RsaPrivateKey::from_pem(PRIVATE_PEM).expect("test private key"),
        )
    })
}

/// UTF-8 text when printable, else hex: how failures show provider info.
fn printable(b: &[u8]) -> String {
    match core::str::from_utf8(b) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_owned(),
        _ => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

/// Input: `flags ‖ namespace ‖ key name ‖ n ‖ n × (provider id ‖ info ‖ ciphertext) ‖ p ‖ "RS"`.
///
/// flags: bits 0–2 padding, bit 3 also wrap a real data key and insert its EDK at `p` (only
/// when the input ends in `RS`: a private-key operation costs ~45 ms under the sanitizer, so
/// it is kept to the inputs that ask for it twice), bit 4 the EDK provider ids copy the
/// namespace, bits 5-7 the suite.
/// The keyring must refuse reserved namespaces; on decrypt it must unwrap exactly the EDKs
/// whose id and info equal its namespace and name, succeed iff the real EDK is present, and
/// otherwise report one failure per EDK, in order.
pub fn raw_rsa_info(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let padding = RsaPadding::ALL[usize::from(flags & 7) % RsaPadding::ALL.len()];
    let suite = AlgorithmSuite::ALL[usize::from(flags >> 5) * 3 % AlgorithmSuite::ALL.len()];
    let namespace = inp.string(24);
    let name = inp.string(24);
    let n = inp.u8() % 6;
    let mut edks: Vec<EncryptedDataKey> = (0..n)
        .map(|_| EncryptedDataKey {
            provider_id: if flags & 16 != 0 {
                namespace.clone()
            } else {
                inp.string(24)
            },
            provider_info: inp.short_bytes(32).to_vec(),
            ciphertext: {
                let len = usize::from(inp.u16()) % 300;
                inp.bytes(len).to_vec()
            },
        })
        .collect();
    let at = usize::from(inp.u8());
    let real = flags & 8 != 0 && inp.u16() == u16::from_be_bytes(*b"RS");
    let (pk, sk) = keys();
    let keyring = RawRsaKeyring::new(
        namespace.clone(),
        name.clone(),
        padding,
        Some(pk.clone()),
        Some(sk.clone()),
    );
    let keyring = match keyring {
        Ok(k) => {
            assert!(!namespace.starts_with("aws-kms"));
            k
        }
        Err(e) => {
            assert!(namespace.starts_with("aws-kms"), "{e}");
            return;
        }
    };
    // PKCS#1 v1.5 has no integrity: a random 256-byte ciphertext unwraps to some key with
    // probability about 2^-16, so a matching fuzzed EDK may legitimately "succeed" first.
    let forgeable = padding == RsaPadding::Pkcs1V15
        && edks.iter().any(|e| {
            e.provider_id == namespace
                && e.provider_info == name.as_bytes()
                && e.ciphertext.len() == 256
        });
    let mut data_key = None;
    if real {
        let m = keyring
            .on_encrypt(&EncryptionMaterials::new(suite, EncryptionContext::new()))
            .expect("wrap");
        let edk = m.encrypted_data_keys.last().expect("one EDK").clone();
        assert_eq!(edk.provider_id, namespace);
        assert_eq!(edk.provider_info, name.as_bytes());
        edks.insert(at % (edks.len() + 1), edk);
        data_key = m.data_key;
    }
    let res = keyring.on_decrypt(
        &DecryptionMaterials::new(suite, EncryptionContext::new()),
        &edks,
    );
    match (res, data_key) {
        (Ok(m), Some(dk)) => assert!(m.data_key == Some(dk) || forgeable, "another data key"),
        (Ok(_), None) => assert!(forgeable, "decrypted without its EDK"),
        (Err(Error::NoDecryptableKey(failures)), None) => {
            assert_eq!(failures.len(), edks.len(), "one failure per EDK");
            for (f, e) in failures.iter().zip(&edks) {
                assert_eq!(f.provider_id, e.provider_id);
                assert_eq!(f.provider_info, printable(&e.provider_info));
            }
            let _ = Error::NoDecryptableKey(failures).to_string();
        }
        (r, dk) => panic!("decrypt {r:?} with real EDK present: {}", dk.is_some()),
    }
}
