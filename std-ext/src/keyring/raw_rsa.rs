//! Raw RSA keyring (`framework/raw-rsa-keyring.md`): PKCS#1 v1.5 or OAEP (SHA-1/256/384/512 with
//! MGF1 on the same hash) wrapping with a local key pair.

use super::Keyring;
use crate::error::{EdkFailure, Error, KeyringError, KeyringErrorKind, Result};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};
use crate::provider::Backend;
pub use crate::rsa_key::{RsaPadding, RsaPrivateKey, RsaPublicKey};
use esdk_core::{DataKey, EncryptedDataKey};

/// Wraps data keys with an RSA public key and unwraps them with the private key.
///
/// A keyring with only a public key can only encrypt; one with only a private key can only
/// decrypt (the public key is never derived from the private one).
///
/// # Backends
///
/// Wrapping and unwrapping run on the backend of each operation, the one the
/// [`Client`](crate::Client) (or whoever builds the materials) chose, like every other keyring:
/// `EncryptionMaterials::backend` / `DecryptionMaterials::backend`. The keys are parsed by the
/// backend given to [`from_pem_with`](Self::from_pem_with) (or [`Backend::default`] for
/// [`from_pem`](Self::from_pem) and keys loaded with `RsaPublicKey::from_pem` etc.); a key used
/// under another backend is imported into it once and kept. A backend without RSA (a custom
/// provider that does not implement it) makes the keyring fail with
/// [`RsaKeyError::Unsupported`](crate::RsaKeyError::Unsupported): no other backend is used.
///
/// # Side channels: RUSTSEC-2023-0071 ("Marvin")
///
/// Whether the unwrap is constant time depends on the backend that runs it:
///
/// | backend | unwrap (private-key operation) | timing side channel |
/// |---|---|---|
/// | [`Backend::AwsLc`] (feature `aws-lc`, the default backend) | AWS-LC through `aws-lc-rs`: blinded, constant-time arithmetic and constant-time OAEP / PKCS#1 v1.5 padding checks | **safe** to expose to attackers who can time decryptions |
/// | [`Backend::RustCrypto`] (feature `rustcrypto`; the default backend when `aws-lc` is off) | the `rsa` 0.9 crate: blinded, but its big-number arithmetic is not constant time (RUSTSEC-2023-0071, CVE-2023-49092; no fixed 0.9 release) | **not safe**: an attacker who can submit many chosen messages to a decrypting service and measure its response times may decrypt data keys or recover the private key (easiest with [`RsaPadding::Pkcs1V15`]) |
/// | [`Backend::Custom`] | the provider's | as the provider states ([`StdProvider::rsa_side_channel_safe`]) |
///
/// [`Backend::rsa_side_channel_safe`] reports it at run time for a backend. With the RustCrypto
/// backend, do not decrypt with RSA where response times are observable by an attacker, and
/// prefer OAEP padding. Every backend rejects a ciphertext whose length differs from the
/// modulus before any private-key arithmetic, and the keyring returns one opaque error for
/// every unwrap failure. Wrapping (encryption) uses only the public key and is not affected.
/// The aws-lc backend reads key structures with the `rsa` crate's parsers once, when a key is
/// loaded, and wraps under public keys above 8192 bits (AWS-LC's limit) with the `rsa` crate's
/// public operation; it refuses private keys above 8192 bits. The dependency policy
/// (`deny.toml`) records why the advisory is accepted.
///
/// [`Backend`]: crate::Backend
/// [`Backend::default`]: crate::Backend::default
/// [`Backend::AwsLc`]: crate::Backend
/// [`Backend::RustCrypto`]: crate::Backend
/// [`Backend::Custom`]: crate::Backend::Custom
/// [`StdProvider::rsa_side_channel_safe`]: crate::provider::StdProvider::rsa_side_channel_safe
/// [`Backend::rsa_side_channel_safe`]: crate::Backend::rsa_side_channel_safe
#[derive(Debug)]
pub struct RawRsaKeyring {
    namespace: String,
    name: String,
    padding: RsaPadding,
    public_key: Option<RsaPublicKey>,
    private_key: Option<RsaPrivateKey>,
}

impl RawRsaKeyring {
    /// A keyring from keys already loaded (at least one of them).
    ///
    /// # Errors
    /// A reserved namespace, or neither key given.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        padding: RsaPadding,
        public_key: Option<RsaPublicKey>,
        private_key: Option<RsaPrivateKey>,
    ) -> Result<Self> {
        let namespace = namespace.into();
        esdk_core::raw_aes::check_namespace(&namespace)?;
        if public_key.is_none() && private_key.is_none() {
            return Err(Error::Config(crate::error::ConfigError::NoRsaKey));
        }
        Ok(Self {
            namespace,
            name: name.into(),
            padding,
            public_key,
            private_key,
        })
    }

    /// A keyring from PEM text: SPKI / PKCS#1 public keys, PKCS#8 / PKCS#1 private keys.
    ///
    /// # Errors
    /// Unparseable keys, a reserved namespace, or neither key given.
    pub fn from_pem(
        namespace: impl Into<String>,
        name: impl Into<String>,
        padding: RsaPadding,
        public_pem: Option<&str>,
        private_pem: Option<&str>,
    ) -> Result<Self> {
        Self::from_pem_with(
            &Backend::default(),
            namespace,
            name,
            padding,
            public_pem,
            private_pem,
        )
    }

    /// As [`from_pem`](Self::from_pem), with the keys parsed by `backend` (the keyring still
    /// runs each operation on the operation's backend; see [Backends](Self#backends)).
    ///
    /// # Errors
    /// Unparseable keys ([`RsaKeyError::Unsupported`](crate::RsaKeyError::Unsupported) when
    /// `backend` has no RSA), a reserved namespace, or neither key given.
    pub fn from_pem_with(
        backend: &Backend,
        namespace: impl Into<String>,
        name: impl Into<String>,
        padding: RsaPadding,
        public_pem: Option<&str>,
        private_pem: Option<&str>,
    ) -> Result<Self> {
        let public_key = public_pem
            .map(|pem| RsaPublicKey::from_pem_with(backend, pem))
            .transpose()?;
        let private_key = private_pem
            .map(|pem| RsaPrivateKey::from_pem_with(backend, pem))
            .transpose()?;
        Self::new(namespace, name, padding, public_key, private_key)
    }

    fn label(&self) -> String {
        format!("raw RSA {}/{}", self.namespace, self.name)
    }
}

impl Keyring for RawRsaKeyring {
    fn on_encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        let Some(pk) = &self.public_key else {
            return Err(KeyringError::new(self.label(), KeyringErrorKind::CannotEncrypt).into());
        };
        let mut m = materials.clone();
        let mut rng = m.rng.clone();
        let dk = match &m.data_key {
            Some(k) => k.clone(),
            None => DataKey::generate(m.suite, &mut rng)?,
        };
        let ct = pk
            .wrap_with(&m.backend, self.padding, dk.as_bytes(), &mut rng)
            .map_err(|e| {
                KeyringError::new(self.label(), KeyringErrorKind::WrapFailed).with_source(e)
            })?;
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: self.name.as_bytes().to_vec(),
            ciphertext: ct,
        });
        m.data_key = Some(dk);
        Ok(m)
    }

    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            return Err(Error::Materials(
                crate::error::MaterialsError::DataKeyAlreadyPresent,
            ));
        }
        let Some(sk) = &self.private_key else {
            let failures = edks
                .iter()
                .map(|e| EdkFailure::failed(e, format!("{}: no private key", self.label())))
                .collect();
            return Err(Error::NoDecryptableKey(failures));
        };
        let mut failures = Vec::new();
        for edk in edks {
            if edk.provider_id != self.namespace || edk.provider_info != self.name.as_bytes() {
                failures.push(EdkFailure::not_for_this_keyring(
                    edk,
                    format!("not for {}", self.label()),
                ));
                continue;
            }
            match sk.unwrap_with(&materials.backend, self.padding, &edk.ciphertext) {
                Ok(pt) if pt.len() == materials.suite.data_key_len() => {
                    let mut m = materials.clone();
                    m.data_key = Some(DataKey::from_slice(&pt)?);
                    return Ok(m);
                }
                Ok(pt) => failures.push(EdkFailure::failed(
                    edk,
                    format!(
                        "{}: data key is {} bytes, the suite needs {}",
                        self.label(),
                        pt.len(),
                        materials.suite.data_key_len()
                    ),
                )),
                Err(e) => failures.push(EdkFailure::failed(edk, self.label()).with_source(e)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}
