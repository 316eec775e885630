//! AWS KMS key identifiers and ARNs (`framework/aws-kms/aws-kms-key-arn.md`), and the
//! multi-Region key rules built on them (`aws-kms-mrk-match-for-decrypt.md`,
//! `aws-kms-mrk-are-unique.md`).
//!
//! An ARN here is `arn:<partition>:kms:<region>:<account>:<type>/<id>`: exactly six
//! `:`-separated parts, none empty, service `kms`, resource type `key` or `alias`, and a
//! non-empty resource id (a further `/` belongs to the id). Nothing else is checked: the account
//! need not be digits, and the partition and region may be any non-empty text, as the
//! specification asks.

use core::fmt;

/// Why a string is not a valid AWS KMS ARN or identifier. `Display` shows the input escaped
/// and bounded (it may come from a message's provider info).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a valid AWS KMS {expected}: {reason}", esdk_std::error::Escaped::new(.input))]
pub struct ArnError {
    /// The rejected input.
    pub input: String,
    /// What was expected ("ARN", "key ARN", "key identifier").
    pub expected: &'static str,
    /// The rule it breaks.
    pub reason: &'static str,
}

impl ArnError {
    fn new(input: &str, expected: &'static str, reason: &'static str) -> Self {
        Self {
            input: input.to_owned(),
            expected,
            reason,
        }
    }
}

/// The resource type of an AWS KMS ARN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// `key`: a KMS key.
    Key,
    /// `alias`: an alias naming a key.
    Alias,
}

impl ResourceType {
    /// `key` or `alias`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Alias => "alias",
        }
    }
}

/// A parsed AWS KMS ARN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KmsArn {
    partition: String,
    region: String,
    account: String,
    resource_type: ResourceType,
    resource_id: String,
}

impl KmsArn {
    /// Parses `arn:<partition>:kms:<region>:<account>:<key|alias>/<id>`.
    ///
    /// # Errors
    /// Any rule of `aws-kms-key-arn.md#a-valid-aws-kms-arn` broken.
    pub fn parse(s: &str) -> Result<Self, ArnError> {
        let err = |reason| ArnError::new(s, "ARN", reason);
        let parts: Vec<&str> = s.split(':').collect();
        let [arn, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(err("an ARN has exactly six `:`-separated parts"));
        };
        if *arn != "arn" {
            return Err(err("it must start with `arn`"));
        }
        if partition.is_empty() {
            return Err(err("the partition is empty"));
        }
        if *service != "kms" {
            return Err(err("the service must be `kms`"));
        }
        if region.is_empty() {
            return Err(err("the region is empty"));
        }
        if account.is_empty() {
            return Err(err("the account is empty"));
        }
        let Some((rtype, id)) = resource.split_once('/') else {
            return Err(err("the resource must be `key/<id>` or `alias/<name>`"));
        };
        let resource_type = match rtype {
            "key" => ResourceType::Key,
            "alias" => ResourceType::Alias,
            _ => return Err(err("the resource type must be `key` or `alias`")),
        };
        if id.is_empty() {
            return Err(err("the resource id is empty"));
        }
        Ok(Self {
            partition: (*partition).to_owned(),
            region: (*region).to_owned(),
            account: (*account).to_owned(),
            resource_type,
            resource_id: id.to_owned(),
        })
    }

    /// Parses an ARN that must name a key (resource type `key`), as the provider info of an
    /// `aws-kms` encrypted data key must.
    ///
    /// # Errors
    /// Not a valid ARN, or an alias ARN.
    pub fn parse_key_arn(s: &str) -> Result<Self, ArnError> {
        let arn = Self::parse(s).map_err(|e| ArnError {
            expected: "key ARN",
            ..e
        })?;
        if arn.resource_type != ResourceType::Key {
            return Err(ArnError::new(
                s,
                "key ARN",
                "this is an alias ARN; a key ARN (`...:key/<id>`) is needed",
            ));
        }
        Ok(arn)
    }

    /// The partition (`aws`, `aws-cn`, `aws-us-gov`, ...).
    pub fn partition(&self) -> &str {
        &self.partition
    }
    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }
    /// The account.
    pub fn account(&self) -> &str {
        &self.account
    }
    /// `key` or `alias`.
    pub fn resource_type(&self) -> ResourceType {
        self.resource_type
    }
    /// The key id or alias name (after the first `/`).
    pub fn resource_id(&self) -> &str {
        &self.resource_id
    }
    /// True for a multi-Region key: resource type `key` and an id starting `mrk-`. An alias is
    /// never a multi-Region key, whatever its name.
    pub fn is_mrk(&self) -> bool {
        self.resource_type == ResourceType::Key && self.resource_id.starts_with("mrk-")
    }
    /// The same ARN in another region.
    pub fn with_region(&self, region: &str) -> Self {
        Self {
            region: region.to_owned(),
            ..self.clone()
        }
    }
}

impl fmt::Display for KmsArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:kms:{}:{}:{}/{}",
            self.partition,
            self.region,
            self.account,
            self.resource_type.as_str(),
            self.resource_id
        )
    }
}

impl core::str::FromStr for KmsArn {
    type Err = ArnError;
    fn from_str(s: &str) -> Result<Self, ArnError> {
        Self::parse(s)
    }
}

/// Any way to name a KMS key (`aws-kms-key-arn.md#a-valid-aws-kms-identifier`): a key or alias
/// ARN, an alias (`alias/<name>`), or a bare key id (`1234abcd-…` or `mrk-…`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyIdentifier {
    /// A key or alias ARN.
    Arn(KmsArn),
    /// `alias/<name>`, resolved by KMS in the client's region.
    Alias(String),
    /// A bare key id, resolved by KMS in the client's region.
    KeyId(String),
}

impl KeyIdentifier {
    /// Parses an identifier: text starting `arn:` must be a valid ARN; `alias/<name>` needs a
    /// name; anything else non-empty is taken as a key id (KMS itself judges it).
    ///
    /// # Errors
    /// Empty input, an invalid ARN, an empty alias name, or text containing `:` or whitespace
    /// that is not an ARN.
    pub fn parse(s: &str) -> Result<Self, ArnError> {
        let err = |reason| ArnError::new(s, "key identifier", reason);
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if s.starts_with("arn:") {
            return KmsArn::parse(s).map(Self::Arn);
        }
        if s.contains(':') {
            return Err(err("only an ARN (`arn:...`) may contain `:`"));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(err("it contains whitespace"));
        }
        if let Some(name) = s.strip_prefix("alias/") {
            if name.is_empty() {
                return Err(err("the alias name is empty"));
            }
            return Ok(Self::Alias(s.to_owned()));
        }
        Ok(Self::KeyId(s.to_owned()))
    }

    /// The region named by the identifier: an ARN's region, `None` for aliases and key ids
    /// (those resolve in the client's default region).
    pub fn region(&self) -> Option<&str> {
        match self {
            Self::Arn(a) => Some(a.region()),
            _ => None,
        }
    }

    /// True for a multi-Region key: an MRK ARN or a bare `mrk-` key id
    /// (`aws-kms-key-arn.md#identifying-an-an-aws-kms-multi-region-identifier`).
    pub fn is_mrk(&self) -> bool {
        match self {
            Self::Arn(a) => a.is_mrk(),
            Self::Alias(_) => false,
            Self::KeyId(id) => id.starts_with("mrk-"),
        }
    }

    /// The ARN, when this identifier is a key ARN (the only form usable for decryption).
    pub fn key_arn(&self) -> Option<&KmsArn> {
        match self {
            Self::Arn(a) if a.resource_type() == ResourceType::Key => Some(a),
            _ => None,
        }
    }

    /// The resource id for MRK comparisons: an ARN's id or the bare key id.
    fn mrk_resource_id(&self) -> Option<&str> {
        match self {
            Self::Arn(a) if a.is_mrk() => Some(a.resource_id()),
            Self::KeyId(id) if id.starts_with("mrk-") => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for KeyIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Arn(a) => a.fmt(f),
            Self::Alias(s) | Self::KeyId(s) => f.write_str(s),
        }
    }
}

impl core::str::FromStr for KeyIdentifier {
    type Err = ArnError;
    fn from_str(s: &str) -> Result<Self, ArnError> {
        Self::parse(s)
    }
}

/// AWS KMS MRK Match for Decrypt (`aws-kms-mrk-match-for-decrypt.md`): identical identifiers
/// match; otherwise both must be multi-Region key ARNs equal in everything but the region.
pub fn mrk_match(a: &KeyIdentifier, b: &KeyIdentifier) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (KeyIdentifier::Arn(x), KeyIdentifier::Arn(y)) if x.is_mrk() && y.is_mrk() => {
            x.partition == y.partition
                && x.account == y.account
                && x.resource_type == y.resource_type
                && x.resource_id == y.resource_id
        }
        _ => false,
    }
}

/// Assert AWS KMS MRKs are unique (`aws-kms-mrk-are-unique.md`): fails when two identifiers
/// name the same multi-Region key id, listing every identifier involved.
///
/// # Errors
/// [`KmsConfigError::DuplicateMultiRegionKey`] with every identifier whose multi-Region key
/// id repeats.
///
/// [`KmsConfigError::DuplicateMultiRegionKey`]: crate::KmsConfigError::DuplicateMultiRegionKey
pub fn check_mrks_unique<'a>(
    ids: impl IntoIterator<Item = &'a KeyIdentifier>,
) -> Result<(), crate::KmsConfigError> {
    let mut by_id: Vec<(&str, Vec<String>)> = Vec::new();
    for id in ids {
        if let Some(rid) = id.mrk_resource_id() {
            match by_id.iter_mut().find(|(r, _)| *r == rid) {
                Some((_, v)) => v.push(id.to_string()),
                None => by_id.push((rid, vec![id.to_string()])),
            }
        }
    }
    let dups: Vec<String> = by_id
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .flat_map(|(_, v)| v)
        .collect();
    if dups.is_empty() {
        Ok(())
    } else {
        Err(crate::KmsConfigError::DuplicateMultiRegionKey { identifiers: dups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MRK_W2: &str =
        "arn:aws:kms:us-west-2:658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7";
    const MRK_E1: &str =
        "arn:aws:kms:us-east-1:658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7";

    fn id(s: &str) -> KeyIdentifier {
        KeyIdentifier::parse(s).unwrap()
    }

    #[test]
    fn parses_the_parts() {
        let a = KmsArn::parse(MRK_W2).unwrap();
        assert_eq!(a.partition(), "aws");
        assert_eq!(a.region(), "us-west-2");
        assert_eq!(a.account(), "658956600833");
        assert_eq!(a.resource_type(), ResourceType::Key);
        assert_eq!(a.resource_id(), "mrk-80bd8ecdcd4342aebd84b7dc9da498a7");
        assert!(a.is_mrk());
        assert_eq!(a.to_string(), MRK_W2);
        assert_eq!(a.with_region("us-east-1").to_string(), MRK_E1);
        // A further `/` belongs to the id.
        let a = KmsArn::parse("arn:aws:kms:r:1:alias/a/b").unwrap();
        assert_eq!(a.resource_id(), "a/b");
        assert!(!a.is_mrk());
        // Alias named like an MRK is not an MRK.
        assert!(
            !KmsArn::parse("arn:aws:kms:r:1:alias/mrk-x")
                .unwrap()
                .is_mrk()
        );
        assert!(KmsArn::parse_key_arn("arn:aws:kms:r:1:alias/x").is_err());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "arn",
            "arn:aws:kms:us-west-2:1:key",
            "arn:aws:kms:us-west-2:1:key/",
            "arn:aws:kms:us-west-2:1:/x",
            "arn:aws:kms:us-west-2:1:keys/x",
            "arn:aws:kms:us-west-2:1:key/x:y",
            "arn:aws:s3:us-west-2:1:key/x",
            "arn::kms:us-west-2:1:key/x",
            "arn:aws:kms::1:key/x",
            "arn:aws:kms:us-west-2::key/x",
            "ARN:aws:kms:us-west-2:1:key/x",
        ] {
            assert!(KmsArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(matches!(id("alias/foo"), KeyIdentifier::Alias(_)));
        assert!(matches!(
            id("1234abcd-12ab-34cd-56ef-1234567890ab"),
            KeyIdentifier::KeyId(_)
        ));
        assert!(id("mrk-1234").is_mrk());
        assert!(!id("alias/mrk-1234").is_mrk());
        assert!(id(MRK_W2).is_mrk());
        assert_eq!(id(MRK_W2).region(), Some("us-west-2"));
        assert_eq!(id("alias/foo").region(), None);
        for bad in ["", "alias/", "arn:aws:kms:x", "a:b", "key id"] {
            assert!(KeyIdentifier::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mrk_matching() {
        assert!(mrk_match(&id(MRK_W2), &id(MRK_E1)));
        assert!(mrk_match(&id(MRK_W2), &id(MRK_W2)));
        // Different account, partition or id: no match.
        assert!(!mrk_match(
            &id(MRK_W2),
            &id(&MRK_E1.replace("658956600833", "111122223333"))
        ));
        assert!(!mrk_match(
            &id(MRK_W2),
            &id(&MRK_E1.replace("arn:aws:", "arn:aws-cn:"))
        ));
        assert!(!mrk_match(
            &id(MRK_W2),
            &id(&MRK_E1.replace("mrk-80", "mrk-81"))
        ));
        // Single-region keys must be identical.
        let k1 = "arn:aws:kms:us-west-2:1:key/abc";
        let k2 = "arn:aws:kms:us-east-1:1:key/abc";
        assert!(mrk_match(&id(k1), &id(k1)));
        assert!(!mrk_match(&id(k1), &id(k2)));
        // A bare MRK id never matches an ARN (only identical strings do).
        assert!(!mrk_match(
            &id("mrk-80bd8ecdcd4342aebd84b7dc9da498a7"),
            &id(MRK_W2)
        ));
        // An alias ARN spelled like an MRK is not one.
        assert!(!mrk_match(
            &id(&MRK_W2.replace(":key/", ":alias/")),
            &id(MRK_E1)
        ));
    }

    #[test]
    fn mrks_unique() {
        assert!(
            check_mrks_unique(&[
                id(MRK_W2),
                id("arn:aws:kms:us-east-1:1:key/abc"),
                id("alias/x")
            ])
            .is_ok()
        );
        let e = check_mrks_unique(&[id(MRK_W2), id("alias/y"), id(MRK_E1)]).unwrap_err();
        assert!(
            matches!(&e, crate::KmsConfigError::DuplicateMultiRegionKey { identifiers }
                if identifiers == &[MRK_W2.to_owned(), MRK_E1.to_owned()]),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "multi-Region keys must be unique, but these identifiers name the same \
                 multi-Region key: {MRK_W2}, {MRK_E1}"
            )
        );
        assert!(
            check_mrks_unique(&[id("mrk-80bd8ecdcd4342aebd84b7dc9da498a7"), id(MRK_E1)]).is_err()
        );
        // Same single-region key twice is not this rule's concern.
        assert!(
            check_mrks_unique(&[id("arn:aws:kms:r:1:key/abc"), id("arn:aws:kms:r:1:key/abc")])
                .is_ok()
        );
    }
}
