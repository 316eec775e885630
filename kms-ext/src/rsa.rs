//! The AWS KMS RSA keyring (`framework/aws-kms/aws-kms-rsa-keyring.md`).
//!
//! Encrypts locally with the public key of an AWS KMS RSA key pair (`RSA_2048`, `RSA_3072`,
//! `RSA_4096`; given as PEM/DER or fetched once with `GetPublicKey`) and decrypts through KMS
//! `Decrypt` with the same `EncryptionAlgorithm`. KMS never sees the encryption context: the RSA
//! plaintext is `SHA-384(serialized encryption context) ‖ data key`, and the digest is checked
//! (constant time) after `Decrypt`. Because no encryption context reaches KMS, algorithm suites
//! with ECDSA signatures are refused on encrypt and on decrypt, as the Material Providers Library
//! does.

use crate::arn::{KeyIdentifier, ResourceType, mrk_match};
use crate::error::{KmsConfigError, KmsError, KmsOperation};
use crate::keyring::grants;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::EncryptionAlgorithmSpec;
use core::fmt;
use esdk_core::DataKey;
use esdk_std::error::{EdkFailure, KeyringError, KeyringErrorKind};
use esdk_std::keyring::{AsyncKeyring, BoxFuture};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{AlgorithmSuite, EncryptedDataKey, EncryptionContext, Error, Result};
use esdk_std::{RsaPadding, RsaPublicKey};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// The provider id of AWS KMS RSA encrypted data keys.
pub const RSA_PROVIDER_ID: &str = "aws-kms-rsa";
const DIGEST_LEN: usize = 48;

/// The RSA encryption algorithms of AWS KMS this keyring supports.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KmsRsaAlgorithm {
    /// `RSAES_OAEP_SHA_1`: OAEP with SHA-1 and MGF1-SHA-1.
    RsaesOaepSha1,
    /// `RSAES_OAEP_SHA_256`: OAEP with SHA-256 and MGF1-SHA-256.
    RsaesOaepSha256,
}

impl KmsRsaAlgorithm {
    fn padding(self) -> RsaPadding {
        match self {
            Self::RsaesOaepSha1 => RsaPadding::OaepSha1,
            Self::RsaesOaepSha256 => RsaPadding::OaepSha256,
        }
    }
    fn spec(self) -> EncryptionAlgorithmSpec {
        match self {
            Self::RsaesOaepSha1 => EncryptionAlgorithmSpec::RsaesOaepSha1,
            Self::RsaesOaepSha256 => EncryptionAlgorithmSpec::RsaesOaepSha256,
        }
    }
}

/// The AWS KMS RSA keyring; see the [module documentation](self).
///
/// ```no_run
/// use esdk_kms::rsa::{AwsKmsRsaKeyring, KmsRsaAlgorithm};
/// use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
/// # async fn run(kms: aws_sdk_kms::Client) -> Result<(), esdk_std::Error> {
/// let arn = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/// // The public key is fetched once with GetPublicKey (or give it: `AwsKmsRsaKeyring::new`).
/// let keyring = AwsKmsRsaKeyring::with_public_key_from_kms(arn, KmsRsaAlgorithm::RsaesOaepSha256, kms).await?;
/// // No encryption context reaches KMS, so signing suites are refused: use an unsigned one.
/// let client = Client::builder().build();
/// let opts = EncryptOptions::async_keyring(&keyring).suite(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY);
/// let sealed = client.encrypt_async(b"secret", &opts).await?;
/// let opened = client.decrypt_async(&sealed.ciphertext, &DecryptOptions::async_keyring(&keyring)).await?;
/// assert_eq!(opened.plaintext, b"secret");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AwsKmsRsaKeyring {
    key: KeyIdentifier,
    key_str: String,
    algorithm: KmsRsaAlgorithm,
    public_key: Option<RsaPublicKey>,
    client: Client,
    grant_tokens: Vec<String>,
}

impl fmt::Debug for AwsKmsRsaKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsRsaKeyring")
            .field("key_id", &self.key_str)
            .field("algorithm", &self.algorithm)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl AwsKmsRsaKeyring {
    /// A keyring for the KMS RSA key `key_id` (key ARN, `mrk-` ARN or key id; not an alias).
    /// Without `public_key` it can only decrypt.
    ///
    /// # Errors
    /// `key_id` is not a valid identifier or is an alias.
    pub fn new(
        key_id: &str,
        algorithm: KmsRsaAlgorithm,
        public_key: Option<RsaPublicKey>,
        client: Client,
    ) -> Result<Self> {
        let key = KeyIdentifier::parse(key_id)
            .map_err(|e| KmsConfigError::from(e).into_error("key identifier"))?;
        let alias = match &key {
            KeyIdentifier::Alias(_) => true,
            KeyIdentifier::Arn(a) => a.resource_type() == ResourceType::Alias,
            KeyIdentifier::KeyId(_) => false,
        };
        if alias {
            return Err(KmsConfigError::AliasNotAllowed(key_id.to_owned())
                .into_error("AWS KMS RSA keyring key"));
        }
        Ok(Self {
            key,
            key_str: key_id.to_owned(),
            algorithm,
            public_key,
            client,
            grant_tokens: Vec::new(),
        })
    }

    /// As [`new`](Self::new) with the public key fetched once from KMS (`GetPublicKey`); the
    /// key must be an `ENCRYPT_DECRYPT` RSA key offering `algorithm`.
    ///
    /// # Errors
    /// As [`new`](Self::new); `GetPublicKey` fails; or the key does not fit.
    pub async fn with_public_key_from_kms(
        key_id: &str,
        algorithm: KmsRsaAlgorithm,
        client: Client,
    ) -> Result<Self> {
        let mut k = Self::new(key_id, algorithm, None, client)?;
        let op = KmsOperation::GetPublicKey;
        let out = k
            .client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| KmsError::from_sdk(op, key_id, None, e).into_error())?;
        let invalid = |m: String| KmsError::invalid_response(op, key_id, None, m).into_error();
        if !out.encryption_algorithms().contains(&algorithm.spec()) {
            return Err(invalid(format!(
                "the key does not offer {} (key spec {:?}, usage {:?})",
                algorithm.spec().as_str(),
                out.key_spec().map(|s| s.as_str()),
                out.key_usage().map(|s| s.as_str())
            )));
        }
        let der = out
            .public_key
            .ok_or_else(|| invalid("the response has no public key".into()))?;
        k.public_key = Some(RsaPublicKey::from_der(der.as_ref())?);
        Ok(k)
    }

    /// Grant tokens sent with every `Decrypt`.
    pub fn grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.grant_tokens = tokens;
        self
    }

    /// The configured key identifier.
    pub fn key_id(&self) -> &str {
        &self.key_str
    }

    fn label(&self) -> String {
        format!("AWS KMS RSA keyring {}", self.key_str)
    }

    fn refuse_signing(&self, suite: AlgorithmSuite) -> Result<()> {
        if suite.is_signed() {
            // The AWS KMS RSA keyring binds the encryption context only by its digest.
            return Err(
                KeyringError::new(self.label(), KeyringErrorKind::UnsupportedSuite(suite)).into(),
            );
        }
        Ok(())
    }

    fn on_encrypt_sync(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        self.refuse_signing(materials.suite)?;
        let Some(pk) = &self.public_key else {
            return Err(KeyringError::new(self.label(), KeyringErrorKind::CannotEncrypt).into());
        };
        let mut m = materials.clone();
        let mut rng = m.rng.clone();
        let dk = match &m.data_key {
            Some(k) => k.clone(),
            None => DataKey::generate(m.suite, &mut rng)?,
        };
        let pt = Zeroizing::new(
            [
                &ec_digest(&m.backend, &m.encryption_context)?[..],
                dk.as_bytes(),
            ]
            .concat(),
        );
        let ciphertext = pk
            .wrap_with(&m.backend, self.algorithm.padding(), &pt, &mut rng)
            .map_err(|e| {
                KeyringError::new(self.label(), KeyringErrorKind::WrapFailed).with_source(e)
            })?;
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: RSA_PROVIDER_ID.into(),
            provider_info: self.key_str.as_bytes().to_vec(),
            ciphertext,
        });
        m.data_key = Some(dk);
        Ok(m)
    }

    async fn decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            return Err(Error::Materials(
                esdk_std::error::MaterialsError::DataKeyAlreadyPresent,
            ));
        }
        self.refuse_signing(materials.suite)?;
        let label = self.label();
        let digest = ec_digest(&materials.backend, &materials.encryption_context)?;
        let mut failures = Vec::new();
        for edk in edks {
            if edk.provider_id != RSA_PROVIDER_ID {
                failures.push(EdkFailure::not_for_this_keyring(
                    edk,
                    format!("{label}: not an `{RSA_PROVIDER_ID}` encrypted data key"),
                ));
                continue;
            }
            // The provider info must be a key ARN, or the whole OnDecrypt fails.
            let arn = core::str::from_utf8(&edk.provider_info)
                .ok()
                .and_then(|s| crate::arn::KmsArn::parse_key_arn(s).ok())
                .ok_or_else(|| {
                    Error::NoDecryptableKey(vec![EdkFailure::failed(
                        edk,
                        format!("{label}: the provider info is not a valid key ARN, so the keyring refuses the message"),
                    )])
                })?;
            if !mrk_match(&self.key, &KeyIdentifier::Arn(arn)) {
                failures.push(EdkFailure::not_for_this_keyring(
                    edk,
                    format!("{label}: not this keyring's key"),
                ));
                continue;
            }
            match self.kms_decrypt(edk, &digest, materials.suite).await {
                Ok(dk) => {
                    let mut m = materials.clone();
                    m.data_key = Some(dk);
                    return Ok(m);
                }
                Err(e) => failures.push(crate::error::edk_failure(edk, label.clone(), e)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }

    async fn kms_decrypt(
        &self,
        edk: &EncryptedDataKey,
        digest: &[u8],
        suite: AlgorithmSuite,
    ) -> Result<DataKey, KmsError> {
        let op = KmsOperation::Decrypt;
        let key_id = self.key_str.as_str();
        let out = self
            .client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(Blob::new(edk.ciphertext.clone()))
            .encryption_algorithm(self.algorithm.spec())
            .set_grant_tokens(grants(&self.grant_tokens))
            .send()
            .await
            .map_err(|e| KmsError::from_sdk(op, key_id, None, e))?;
        let invalid = |m: String| KmsError::invalid_response(op, key_id, None, m);
        let plaintext = Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default());
        if out.key_id.as_deref() != Some(key_id) {
            return Err(invalid(
                "the response does not name the configured key".into(),
            ));
        }
        let Some((got, key)) = plaintext.split_at_checked(DIGEST_LEN) else {
            return Err(invalid("the plaintext is shorter than the digest".into()));
        };
        if !bool::from(got.ct_eq(digest)) {
            return Err(invalid(
                "the encryption context digest does not match the message's encryption context"
                    .into(),
            ));
        }
        if key.len() != suite.data_key_len() {
            return Err(invalid(format!(
                "the data key is {} bytes, the suite needs {}",
                key.len(),
                suite.data_key_len()
            )));
        }
        DataKey::from_slice(key).map_err(|e| invalid(e.to_string()))
    }
}

/// SHA-384 of the serialized encryption context, by the operation's backend.
fn ec_digest(backend: &esdk_std::Backend, ec: &EncryptionContext) -> Result<[u8; DIGEST_LEN]> {
    use esdk_std::provider::StdProvider as _;
    let mut out = [0u8; DIGEST_LEN];
    let n = backend
        .hash(
            esdk_core::suite::HashAlg::Sha384,
            &[&ec.serialize()?],
            &mut out,
        )
        .map_err(esdk_core::Error::from)?;
    if n != DIGEST_LEN {
        return Err(esdk_core::Error::from(esdk_core::error::CryptoError::Other).into());
    }
    Ok(out)
}

impl AsyncKeyring for AwsKmsRsaKeyring {
    fn on_encrypt<'a>(
        &'a self,
        materials: &'a EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        let r = self.on_encrypt_sync(materials);
        Box::pin(std::future::ready(r))
    }
    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(self.decrypt(materials, edks))
    }
}
