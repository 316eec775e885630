//! Encrypted data keys: borrowed views, the lazy list iterator and serialization.
//!
//! Entry layout: `provider_id_len (u16) ‖ provider_id (UTF-8) ‖ provider_info_len (u16) ‖
//! provider_info ‖ ciphertext_len (u16) ‖ ciphertext`; the list is preceded by a u16 count ≥ 1.

// Input paths: no unchecked arithmetic, nothing public by accident, every error documented.
#![warn(
    clippy::arithmetic_side_effects,
    unreachable_pub,
    clippy::missing_errors_doc
)]

use crate::codec::{Parse, Reader, Writer};
use crate::error::{Error, LimitKind};

/// Provider ids starting with this are reserved for the AWS KMS keyrings.
pub const KMS_PROVIDER_PREFIX: &str = "aws-kms";

/// One encrypted data key, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdkRef<'a> {
    /// Key provider id (keyring namespace), UTF-8.
    pub provider_id: &'a str,
    /// Key provider info (key name, plus keyring-specific data).
    pub provider_info: &'a [u8],
    /// The wrapped data key.
    pub ciphertext: &'a [u8],
}

impl<'a> EdkRef<'a> {
    /// Serialized length of this entry.
    pub fn serialized_len(&self) -> usize {
        6usize
            .saturating_add(self.provider_id.len())
            .saturating_add(self.provider_info.len())
            .saturating_add(self.ciphertext.len())
    }

    /// Writes this entry.
    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.vec16(self.provider_id.as_bytes())?;
        w.vec16(self.provider_info)?;
        w.vec16(self.ciphertext)
    }

    /// Serializes this entry into `out`, returning the length (used e.g. for cache ids).
    ///
    /// # Errors
    /// A field over 65,535 bytes or an output buffer that is too small.
    pub fn serialize_into(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(out);
        self.write(&mut w)?;
        Ok(w.pos())
    }

    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, Parse> {
        let provider_id = Self::check_provider_id(r.vec16()?)?;
        let provider_info = r.vec16()?;
        let ciphertext = r.vec16()?;
        Ok(Self {
            provider_id,
            provider_info,
            ciphertext,
        })
    }
}

impl EdkRef<'_> {
    /// Validates a provider id field (UTF-8).
    pub(crate) fn check_provider_id(id: &[u8]) -> Result<&str, Error> {
        core::str::from_utf8(id)
            .map_err(|_| Error::format("encrypted data key provider id", "invalid UTF-8"))
    }
}

/// The encrypted data keys of a parsed header, decoded lazily.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdkList<'a> {
    entries: &'a [u8],
    count: u16,
}

impl<'a> EdkList<'a> {
    /// Parses a complete EDK section (`count ‖ entries`), checking the count against `max`.
    ///
    /// # Errors
    /// Count 0, count over `max`, malformed or truncated entries, or bytes left over.
    pub fn parse(section: &'a [u8], max: u16) -> Result<Self, Error> {
        let mut r = Reader::new(section);
        let list = match Self::read(&mut r, max) {
            Ok(l) => l,
            Err(Parse::Invalid(e)) => return Err(e),
            Err(Parse::Incomplete(_)) => {
                return Err(Error::format("encrypted data keys", "truncated entry"));
            }
        };
        if !r.is_empty() {
            return Err(Error::format(
                "encrypted data keys",
                "bytes after the last entry",
            ));
        }
        Ok(list)
    }

    /// Reads `count ‖ entries` from a reader, checking the count before reading any entry.
    pub(crate) fn read(r: &mut Reader<'a>, max: u16) -> Result<Self, Parse> {
        let count = r.u16()?;
        Self::check_count(count, max)?;
        let start = r.pos();
        let mut sub = r.clone();
        for _ in 0..count {
            EdkRef::read(&mut sub)?;
        }
        let len = sub.pos().saturating_sub(start);
        let entries = r.take(len)?;
        Ok(Self { entries, count })
    }

    /// Checks an EDK count (at least 1, at most `max`) before any entry is read.
    pub(crate) fn check_count(count: u16, max: u16) -> Result<(), Error> {
        if count == 0 {
            return Err(Error::format(
                "encrypted data key count",
                "must be at least 1",
            ));
        }
        if count > max {
            return Err(Error::limit(
                LimitKind::EncryptedDataKeys,
                u64::from(max),
                u64::from(count),
            ));
        }
        Ok(())
    }

    /// A list over entries the header parser already validated (`count` of them).
    pub(crate) fn from_validated(entries: &'a [u8], count: u16) -> Self {
        Self { entries, count }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }
    /// Whether the list is empty (never true for a parsed header).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The serialized entries (without the count).
    pub fn entries_bytes(&self) -> &'a [u8] {
        self.entries
    }
    /// Iterates the entries.
    pub fn iter(&self) -> EdkIter<'a> {
        EdkIter {
            reader: Reader::new(self.entries),
            remaining: self.count,
        }
    }
}

impl<'a> IntoIterator for EdkList<'a> {
    type Item = EdkRef<'a>;
    type IntoIter = EdkIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over an [`EdkList`].
#[derive(Clone, Debug)]
pub struct EdkIter<'a> {
    reader: Reader<'a>,
    remaining: u16,
}

impl<'a> Iterator for EdkIter<'a> {
    type Item = EdkRef<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining = self.remaining.saturating_sub(1);
        EdkRef::read(&mut self.reader).ok()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.remaining);
        (n, Some(n))
    }
}

impl ExactSizeIterator for EdkIter<'_> {}

#[cfg(feature = "alloc")]
mod owned {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    /// An owned encrypted data key.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct EncryptedDataKey {
        /// Key provider id.
        pub provider_id: String,
        /// Key provider info.
        pub provider_info: Vec<u8>,
        /// The wrapped data key.
        pub ciphertext: Vec<u8>,
    }

    impl EncryptedDataKey {
        /// A borrowed view.
        pub fn as_ref(&self) -> EdkRef<'_> {
            EdkRef {
                provider_id: &self.provider_id,
                provider_info: &self.provider_info,
                ciphertext: &self.ciphertext,
            }
        }
        /// The serialized entry.
        ///
        /// # Errors
        /// A field longer than 65,535 bytes.
        pub fn serialize(&self) -> Result<Vec<u8>, Error> {
            let r = self.as_ref();
            let mut out = alloc::vec![0u8; r.serialized_len()];
            r.serialize_into(&mut out)?;
            Ok(out)
        }
    }

    impl From<EdkRef<'_>> for EncryptedDataKey {
        fn from(r: EdkRef<'_>) -> Self {
            Self {
                provider_id: r.provider_id.into(),
                provider_info: r.provider_info.to_vec(),
                ciphertext: r.ciphertext.to_vec(),
            }
        }
    }
}

#[cfg(feature = "alloc")]
pub use owned::EncryptedDataKey;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_iterate() {
        let mut buf = [0u8; 64];
        let e = EdkRef {
            provider_id: "p",
            provider_info: b"info",
            ciphertext: &[9; 3],
        };
        let mut w = Writer::new(&mut buf);
        w.u16(2).unwrap();
        e.write(&mut w).unwrap();
        e.write(&mut w).unwrap();
        let n = w.pos();
        let list = EdkList::parse(&buf[..n], 10).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(|x| x == e));
        assert_eq!(
            EdkList::parse(&buf[..n], 1),
            Err(Error::limit(LimitKind::EncryptedDataKeys, 1, 2))
        );
        assert!(EdkList::parse(&buf[..n - 1], 10).is_err());
        assert!(EdkList::parse(&[0, 0], 10).is_err());
    }

    #[test]
    fn count_checked_before_entries() {
        // A count over the limit fails even though no entry bytes are present.
        let mut r = Reader::new(&[0, 5]);
        assert_eq!(
            EdkList::read(&mut r, 4),
            Err(Parse::Invalid(Error::limit(
                LimitKind::EncryptedDataKeys,
                4,
                5
            )))
        );
        let mut r = Reader::new(&[0, 5]);
        assert_eq!(EdkList::read(&mut r, 5), Err(Parse::Incomplete(4)));
    }
}
