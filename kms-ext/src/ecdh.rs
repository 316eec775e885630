//! The AWS KMS ECDH keyring (`framework/aws-kms/aws-kms-ecdh-keyring.md`).
//!
//! The shared secret comes from KMS `DeriveSharedSecret` with an `ECC_NIST_P256/P384/P521` key
//! pair whose key usage is `KEY_AGREEMENT`; key derivation, wrapping and the wire format are the
//! raw ECDH keyring's ([`esdk_std::keyring::raw_ecdh::EcdhWrapping`]), with provider id
//! `aws-kms-ecdh`, so a raw ECDH keyring holding the other key pair decrypts what this keyring
//! writes and the other way round. Two key-agreement schemas:
//!
//! * `KmsPrivateKeyToStaticPublicKey` ([`AwsKmsEcdhKeyring::kms_private_key_to_static_public_key`]):
//!   the sender's private key stays in KMS; encrypts to a recipient public key, and decrypts
//!   messages between exactly these two keys;
//! * `KmsPublicKeyDiscovery` ([`AwsKmsEcdhKeyring::kms_public_key_discovery`]): the
//!   recipient's private key stays in KMS; decrypts messages to it from any sender; cannot
//!   encrypt.
//!
//! ```no_run
//! use esdk_kms::ecdh::AwsKmsEcdhKeyring;
//! use esdk_std::keyring::raw_ecdh::{EcPrivateKey, EcdhCurve, RawEcdhKeyring};
//! use esdk_std::{Client, DecryptOptions, EncryptOptions};
//! # async fn run(kms: aws_sdk_kms::Client) -> Result<(), esdk_std::Error> {
//! let kms_key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
//! // Anyone encrypts to the KMS key pair's public key with a raw ECDH keyring ...
//! let recipient = AwsKmsEcdhKeyring::kms_public_key_discovery(kms_key, EcdhCurve::P256, kms).await?;
//! let sender = RawEcdhKeyring::ephemeral(recipient.public_key().clone());
//! let client = Client::builder().build();
//! let sealed = client.encrypt(b"secret", &EncryptOptions::keyring(&sender))?;
//! // ... and only KMS (DeriveSharedSecret) can decrypt.
//! let opened = client.decrypt_async(&sealed.ciphertext, &DecryptOptions::async_keyring(&recipient)).await?;
//! assert_eq!(opened.plaintext, b"secret");
//! # Ok(()) }
//! ```

use crate::arn::KeyIdentifier;
use crate::error::{KmsConfigError, KmsError, KmsOperation};
use crate::keyring::grants;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyAgreementAlgorithmSpec, KeyUsageType};
use core::fmt;
use esdk_core::DataKey;
use esdk_std::error::EdkFailure;
use esdk_std::keyring::raw_ecdh::{
    AWS_KMS_ECDH_PROVIDER_ID, EcPublicKey, EcdhCurve, EcdhWrapping, is_ecdh_provider_id,
    parse_provider_info, provider_info,
};
use esdk_std::keyring::{AsyncKeyring, BoxFuture};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{EncryptedDataKey, Error, Result};
use zeroize::Zeroizing;

#[derive(Clone, Debug)]
enum Schema {
    Static {
        sender_key_id: String,
        sender_public: EcPublicKey,
        recipient_public: EcPublicKey,
    },
    Discovery {
        recipient_key_id: String,
        recipient_public: EcPublicKey,
    },
}

/// The AWS KMS ECDH keyring; see the [module documentation](self).
#[derive(Clone)]
pub struct AwsKmsEcdhKeyring {
    curve: EcdhCurve,
    schema: Schema,
    client: Client,
    grant_tokens: Vec<String>,
}

impl fmt::Debug for AwsKmsEcdhKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsEcdhKeyring")
            .field("curve", &self.curve)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn check_key_id(key_id: &str) -> Result<()> {
    KeyIdentifier::parse(key_id)
        .map(|_| ())
        .map_err(|e| KmsConfigError::from(e).into_error("key identifier"))
}

/// `GetPublicKey` of a KEY_AGREEMENT key on `curve`.
async fn kms_public_key(client: &Client, key_id: &str, curve: EcdhCurve) -> Result<EcPublicKey> {
    let op = KmsOperation::GetPublicKey;
    let out = client
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(op, key_id, None, e).into_error())?;
    let invalid = |m: String| KmsError::invalid_response(op, key_id, None, m).into_error();
    // `KeySpec`, or the deprecated `CustomerMasterKeySpec` that older endpoints send alone.
    #[allow(deprecated)]
    let spec = out
        .key_spec()
        .map(|s| s.as_str())
        .or_else(|| out.customer_master_key_spec().map(|s| s.as_str()))
        .unwrap_or_default();
    if spec != curve.aws_name() || out.key_usage() != Some(&KeyUsageType::KeyAgreement) {
        return Err(invalid(format!(
            "the key is a {spec} key for {:?}, not a {curve} KEY_AGREEMENT key",
            out.key_usage().map(|u| u.as_str())
        )));
    }
    let der = out
        .public_key
        .ok_or_else(|| invalid("the response has no public key".into()))?;
    Ok(EcPublicKey::from_der(curve, der.as_ref())?)
}

impl AwsKmsEcdhKeyring {
    /// `KmsPrivateKeyToStaticPublicKey`: the KMS key pair `sender_key_id` (its public key given,
    /// or fetched with `GetPublicKey` when `None`) agrees with `recipient_public`.
    ///
    /// # Errors
    /// An invalid key id, keys on different curves, or `GetPublicKey` failing or naming a key
    /// that is not a KEY_AGREEMENT key on the recipient's curve.
    pub async fn kms_private_key_to_static_public_key(
        sender_key_id: &str,
        sender_public: Option<EcPublicKey>,
        recipient_public: EcPublicKey,
        client: Client,
    ) -> Result<Self> {
        check_key_id(sender_key_id)?;
        let curve = recipient_public.curve();
        let sender_public = match sender_public {
            Some(k) => k,
            None => kms_public_key(&client, sender_key_id, curve).await?,
        };
        if sender_public.curve() != curve {
            return Err(Error::Config(esdk_std::error::ConfigError::CurveMismatch {
                sender: sender_public.curve(),
                recipient: curve,
            }));
        }
        Ok(Self {
            curve,
            schema: Schema::Static {
                sender_key_id: sender_key_id.to_owned(),
                sender_public,
                recipient_public,
            },
            client,
            grant_tokens: Vec::new(),
        })
    }

    /// `KmsPublicKeyDiscovery`: decrypts messages to the KMS key pair `recipient_key_id` (its
    /// public key is fetched once with `GetPublicKey`).
    ///
    /// # Errors
    /// An invalid key id, or `GetPublicKey` failing or naming a key that is not a
    /// KEY_AGREEMENT key on `curve`.
    pub async fn kms_public_key_discovery(
        recipient_key_id: &str,
        curve: EcdhCurve,
        client: Client,
    ) -> Result<Self> {
        check_key_id(recipient_key_id)?;
        let recipient_public = kms_public_key(&client, recipient_key_id, curve).await?;
        Ok(Self {
            curve,
            schema: Schema::Discovery {
                recipient_key_id: recipient_key_id.to_owned(),
                recipient_public,
            },
            client,
            grant_tokens: Vec::new(),
        })
    }

    /// Grant tokens sent with every `DeriveSharedSecret`.
    pub fn grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.grant_tokens = tokens;
        self
    }

    /// The public key of the KMS key pair this keyring uses (the sender's or the recipient's).
    pub fn public_key(&self) -> &EcPublicKey {
        match &self.schema {
            Schema::Static { sender_public, .. } => sender_public,
            Schema::Discovery {
                recipient_public, ..
            } => recipient_public,
        }
    }

    fn label(&self) -> String {
        match &self.schema {
            Schema::Static { sender_key_id, .. } => format!(
                "AWS KMS ECDH keyring KmsPrivateKeyToStaticPublicKey {sender_key_id} ({})",
                self.curve
            ),
            Schema::Discovery {
                recipient_key_id, ..
            } => format!(
                "AWS KMS ECDH keyring KmsPublicKeyDiscovery {recipient_key_id} ({})",
                self.curve
            ),
        }
    }

    /// `DeriveSharedSecret(KeyId = key_id, PublicKey = peer, ECDH)`.
    async fn derive(
        &self,
        key_id: &str,
        peer: &EcPublicKey,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let op = KmsOperation::DeriveSharedSecret;
        let out = self
            .client
            .derive_shared_secret()
            .key_id(key_id)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer.to_der()))
            .set_grant_tokens(grants(&self.grant_tokens))
            .send()
            .await
            .map_err(|e| KmsError::from_sdk(op, key_id, None, e))?;
        let z = Zeroizing::new(out.shared_secret.map(Blob::into_inner).unwrap_or_default());
        // The raw x-coordinate: the size of the curve's field.
        let want = self.curve.compressed_len() - 1;
        if z.len() != want {
            return Err(KmsError::invalid_response(
                op,
                key_id,
                None,
                format!(
                    "the shared secret is {} bytes, the curve needs {want}",
                    z.len()
                ),
            ));
        }
        Ok(z)
    }

    async fn encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        let Schema::Static {
            sender_key_id,
            sender_public,
            recipient_public,
        } = &self.schema
        else {
            return Err(esdk_std::KeyringError::new(
                self.label(),
                esdk_std::KeyringErrorKind::CannotEncrypt,
            )
            .into());
        };
        let mut m = materials.clone();
        let dk = match &m.data_key {
            Some(k) => k.clone(),
            None => DataKey::generate(m.suite, &mut m.rng.clone())?,
        };
        let z = self
            .derive(sender_key_id, recipient_public)
            .await
            .map_err(KmsError::into_error)?;
        let wrapping = EcdhWrapping::new(self.curve, sender_public, recipient_public);
        let ciphertext = wrapping.wrap(
            &m.backend,
            &mut m.rng.clone(),
            &z,
            &m.encryption_context,
            &dk,
        )?;
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: AWS_KMS_ECDH_PROVIDER_ID.into(),
            provider_info: provider_info(recipient_public, sender_public),
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
        let label = self.label();
        let mut failures = Vec::new();
        for edk in edks {
            let failure = |why: &str| EdkFailure::failed(edk, format!("{label}: {why}"));
            let not_ours =
                |why: &str| EdkFailure::not_for_this_keyring(edk, format!("{label}: {why}"));
            if !is_ecdh_provider_id(&edk.provider_id) {
                failures.push(not_ours("not an ECDH encrypted data key"));
                continue;
            }
            let (recipient, sender) = match parse_provider_info(self.curve, &edk.provider_info) {
                Ok(keys) => keys,
                Err(why) => {
                    failures.push(failure(&why));
                    continue;
                }
            };
            let (key_id, peer) = match &self.schema {
                Schema::Static {
                    sender_key_id,
                    sender_public,
                    recipient_public,
                } => {
                    if recipient != *recipient_public || sender != *sender_public {
                        failures.push(not_ours("another sender or recipient key pair"));
                        continue;
                    }
                    (sender_key_id, &recipient)
                }
                Schema::Discovery {
                    recipient_key_id,
                    recipient_public,
                } => {
                    if recipient != *recipient_public {
                        failures.push(not_ours("another recipient key"));
                        continue;
                    }
                    (recipient_key_id, &sender)
                }
            };
            let z = match self.derive(key_id, peer).await {
                Ok(z) => z,
                Err(e) => {
                    failures.push(crate::error::edk_failure(edk, label.clone(), e));
                    continue;
                }
            };
            let wrapping = EcdhWrapping::new(self.curve, &sender, &recipient);
            match wrapping.unwrap(
                &materials.backend,
                &z,
                &materials.encryption_context,
                materials.suite,
                &edk.ciphertext,
            ) {
                Ok(dk) => {
                    let mut m = materials.clone();
                    m.data_key = Some(dk);
                    return Ok(m);
                }
                Err(why) => failures.push(failure(&why)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}

impl AsyncKeyring for AwsKmsEcdhKeyring {
    fn on_encrypt<'a>(
        &'a self,
        materials: &'a EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(self.encrypt(materials))
    }
    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(self.decrypt(materials, edks))
    }
}
