//! Encryption context: canonical serialization and validated borrowed views.
//!
//! Serialized form (`framework/structures.md`): empty context = zero bytes; otherwise
//! `count (u16, > 0) ‖ entries`, each entry `key_len (u16) ‖ key ‖ value_len (u16) ‖ value`, sorted
//! by the UTF-8 bytes of the key, with no duplicate keys, at most 65,535 bytes in all.
//!
//! Reading is lenient where the reference implementation is (the legacy empty form `00 00` with
//! AAD length 2 is accepted, order is not enforced because the raw bytes are authenticated);
//! writing is always canonical.

// Input paths: no unchecked arithmetic, nothing public by accident, every error documented.
#![warn(
    clippy::arithmetic_side_effects,
    unreachable_pub,
    clippy::missing_errors_doc
)]

use crate::codec::{Parse, Reader, Writer};
use crate::error::{Error, LimitKind, UsageError};

/// Prefix reserved for keys the SDK itself writes.
pub const RESERVED_PREFIX: &str = "aws-crypto-";
/// The key under which signed suites store the base64 compressed verification key.
pub const PUBLIC_KEY_FIELD: &str = "aws-crypto-public-key";
/// Largest serialized encryption context (the header's u16 AAD length).
pub const MAX_SERIALIZED_LEN: usize = u16::MAX as usize;

/// A validated serialized encryption context, borrowed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EncryptionContextRef<'a> {
    bytes: &'a [u8],
    count: u16,
}

impl core::fmt::Debug for EncryptionContextRef<'_> {
    /// Prints the keys only: values may be sensitive.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter().map(|(k, _)| k)).finish()
    }
}

impl<'a> EncryptionContextRef<'a> {
    /// The empty context.
    pub const EMPTY: EncryptionContextRef<'static> = EncryptionContextRef {
        bytes: &[],
        count: 0,
    };

    /// Validates a serialized context as found in a header's AAD field.
    ///
    /// # Errors
    /// [`Error::Format`] for a zero count with more bytes, entries not exactly filling the
    /// bytes, a duplicate key or invalid UTF-8.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        crate::work::event(crate::work::Event::ContextParse);
        if bytes.is_empty() {
            return Ok(Self::EMPTY);
        }
        let mut r = Reader::new(bytes);
        let count = r
            .u16()
            .map_err(|_| Error::format("encryption context", "count truncated"))?;
        if count == 0 {
            // Legacy writers emitted `00 00` for an empty context; accept exactly that.
            return if r.is_empty() {
                Ok(Self { bytes, count: 0 })
            } else {
                Err(Error::format(
                    "encryption context",
                    "zero count with trailing bytes",
                ))
            };
        }
        let mut sorted = true;
        let mut prev: Option<&[u8]> = None;
        for _ in 0..count {
            let (k, v) = read_entry(&mut r)?;
            if core::str::from_utf8(k).is_err() || core::str::from_utf8(v).is_err() {
                return Err(Error::format("encryption context", "invalid UTF-8"));
            }
            if let Some(p) = prev {
                crate::work::add(p.len().min(k.len()).saturating_add(1));
                if p >= k {
                    sorted = false;
                }
            }
            prev = Some(k);
        }
        if !r.is_empty() {
            return Err(Error::format(
                "encryption context",
                "bytes after the last entry",
            ));
        }
        let ec = Self { bytes, count };
        if !sorted && ec.has_duplicate_keys() {
            return Err(Error::format("encryption context", "duplicate key"));
        }
        Ok(ec)
    }

    /// A context over bytes the header parser already validated with [`Self::parse`].
    pub(crate) fn from_validated(bytes: &'a [u8], count: u16) -> Self {
        Self { bytes, count }
    }

    /// Whether two entries share a key, for a context whose keys are not in strictly increasing
    /// order (a sorted one has no duplicates).
    ///
    /// Without allocation and in O(n log n): the entry offsets are gathered in blocks of
    /// [`DUP_BLOCK`] into a fixed buffer on the stack (4 KiB), each block is sorted by key and
    /// checked for equal neighbours, and every later entry is looked up in it by binary search.
    /// The format allows at most 16,383 entries (4 bytes each at least), so there are at most
    /// 8 blocks: at most 8 passes of n binary searches over 2,048 keys.
    #[inline(never)]
    fn has_duplicate_keys(&self) -> bool {
        let key = |off: u16| entry_key(self.bytes, usize::from(off));
        let cmp = |a: &[u8], b: &[u8]| {
            crate::work::add(a.len().min(b.len()).saturating_add(1));
            a.cmp(b)
        };
        let mut offsets = [0u16; DUP_BLOCK];
        let mut next = 2usize;
        let mut left = usize::from(self.count);
        while left > 0 {
            let n = left.min(DUP_BLOCK);
            let block = offsets.get_mut(..n).unwrap_or_default();
            for slot in block.iter_mut() {
                *slot = u16::try_from(next).unwrap_or(u16::MAX);
                next = entry_end(self.bytes, next);
            }
            block.sort_unstable_by(|a, b| cmp(key(*a), key(*b)));
            if block
                .windows(2)
                .any(|w| matches!(w, [a, b] if cmp(key(*a), key(*b)).is_eq()))
            {
                return true;
            }
            left = left.saturating_sub(n);
            let mut later = next;
            for _ in 0..left {
                let k = entry_key(self.bytes, later);
                if block.binary_search_by(|o| cmp(key(*o), k)).is_ok() {
                    return true;
                }
                later = entry_end(self.bytes, later);
            }
        }
        false
    }

    /// The serialized bytes, exactly as given.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Number of pairs.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }
    /// Whether the context has no pairs.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Whether the serialization is canonical (sorted keys, empty context as zero bytes).
    pub fn is_canonical(&self) -> bool {
        if self.count == 0 {
            return self.bytes.is_empty();
        }
        let mut it = self.iter();
        let Some((mut prev, _)) = it.next() else {
            return true;
        };
        for (k, _) in it {
            if prev.as_bytes() >= k.as_bytes() {
                return false;
            }
            prev = k;
        }
        true
    }
    /// Writes the canonical serialization of this context (pairs sorted by key bytes) into
    /// `out`, without allocating: `pairs` is scratch space for at least [`len`](Self::len)
    /// pairs, and `out` needs [`as_bytes`](Self::as_bytes)`().len()` bytes (at most 65,535).
    /// Sorting costs O(n log n) comparisons.
    ///
    /// The format allows a writer to store pairs in any order, while the header tag and raw
    /// keyrings authenticate the canonical form: this is how a no-alloc caller gets it.
    ///
    /// # Errors
    /// [`UsageError::OutputTooSmall`] when `pairs` or `out` is too small.
    pub fn canonicalize_into<'o>(
        &self,
        pairs: &mut [(&'a str, &'a str)],
        out: &'o mut [u8],
    ) -> Result<EncryptionContextRef<'o>, Error> {
        let n = self.len();
        let pairs = pairs
            .get_mut(..n)
            .ok_or(Error::Usage(UsageError::OutputTooSmall { required: n }))?;
        for (slot, pair) in pairs.iter_mut().zip(self.iter()) {
            *slot = pair;
        }
        let len = serialize_pairs(pairs, out)?;
        let bytes = out
            .get(..len)
            .ok_or(Error::Internal("serialized past the output"))?;
        EncryptionContextRef::parse(bytes)
    }

    /// Iterates the pairs in serialized order.
    pub fn iter(&self) -> EncryptionContextIter<'a> {
        let mut r = Reader::new(self.bytes);
        let remaining = if self.count == 0 {
            0
        } else {
            // The count was validated by `parse`.
            let _ = r.u16();
            self.count
        };
        EncryptionContextIter {
            reader: r,
            remaining,
        }
    }
    /// Looks up the value of `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for EncryptionContextRef<'a> {
    type Item = (&'a str, &'a str);
    type IntoIter = EncryptionContextIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the pairs of an [`EncryptionContextRef`].
#[derive(Clone, Debug)]
pub struct EncryptionContextIter<'a> {
    reader: Reader<'a>,
    remaining: u16,
}

impl<'a> Iterator for EncryptionContextIter<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining = self.remaining.saturating_sub(1);
        let (k, v) = read_entry(&mut self.reader).ok()?;
        Some((core::str::from_utf8(k).ok()?, core::str::from_utf8(v).ok()?))
    }
}

/// Entries per block of the duplicate-key check (u16 offsets: 4 KiB of stack).
const DUP_BLOCK: usize = 2048;

/// The key of the (validated) entry starting at `at`.
fn entry_key(bytes: &[u8], at: usize) -> &[u8] {
    let len = be16_at(bytes, at);
    bytes
        .get(at.saturating_add(2)..at.saturating_add(2).saturating_add(len))
        .unwrap_or_default()
}

/// The offset after the (validated) entry starting at `at`.
fn entry_end(bytes: &[u8], at: usize) -> usize {
    let klen = be16_at(bytes, at);
    let vat = at.saturating_add(2).saturating_add(klen);
    vat.saturating_add(2).saturating_add(be16_at(bytes, vat))
}

fn be16_at(bytes: &[u8], at: usize) -> usize {
    match bytes.get(at..at.saturating_add(2)) {
        Some([a, b]) => usize::from(u16::from_be_bytes([*a, *b])),
        _ => 0,
    }
}

fn read_entry<'a>(r: &mut Reader<'a>) -> Result<(&'a [u8], &'a [u8]), Error> {
    let f = |_: Parse| Error::format("encryption context", "entry overruns the serialized length");
    let k = r.vec16().map_err(f)?;
    let v = r.vec16().map_err(f)?;
    Ok((k, v))
}

/// Serialized length of a set of pairs (which must already be free of duplicates).
///
/// # Errors
/// [`LimitKind::EncryptionContextLength`] if the result would exceed 65,535 bytes, or
/// [`LimitKind::FieldLength`] for a key or value over 65,535 bytes.
pub fn serialized_len<'p, I>(pairs: I) -> Result<usize, Error>
where
    I: IntoIterator<Item = (&'p str, &'p str)>,
{
    let mut total: usize = 0;
    let mut count: usize = 0;
    for (k, v) in pairs {
        for field in [k, v] {
            if field.len() > usize::from(u16::MAX) {
                return Err(Error::limit(
                    LimitKind::FieldLength,
                    u64::from(u16::MAX),
                    field.len() as u64,
                ));
            }
        }
        total = total
            .saturating_add(4)
            .saturating_add(k.len())
            .saturating_add(v.len());
        count = count.saturating_add(1);
    }
    if count == 0 {
        return Ok(0);
    }
    let total = total.saturating_add(2);
    if total > MAX_SERIALIZED_LEN || count > usize::from(u16::MAX) {
        return Err(Error::limit(
            LimitKind::EncryptionContextLength,
            MAX_SERIALIZED_LEN as u64,
            total as u64,
        ));
    }
    Ok(total)
}

/// Sorts `pairs` canonically (by key bytes) and serializes them into `out`.
///
/// Returns the number of bytes written (0 for an empty context).
///
/// # Errors
/// Duplicate keys ([`UsageError::InvalidInput`]), the length limits of [`serialized_len`], or an
/// output buffer that is too small.
pub fn serialize_pairs(pairs: &mut [(&str, &str)], out: &mut [u8]) -> Result<usize, Error> {
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if pairs.windows(2).any(|w| matches!(w, [a, b] if a.0 == b.0)) {
        return Err(Error::Usage(UsageError::InvalidInput(
            "duplicate encryption context key",
        )));
    }
    serialize_sorted(pairs.iter().copied(), out)
}

/// Serializes pairs that the caller guarantees are sorted by key bytes and unique.
pub(crate) fn serialize_sorted<'p, I>(pairs: I, out: &mut [u8]) -> Result<usize, Error>
where
    I: IntoIterator<Item = (&'p str, &'p str)> + Clone,
{
    let len = serialized_len(pairs.clone())?;
    if len == 0 {
        return Ok(0);
    }
    let count = pairs.clone().into_iter().count();
    let mut w = Writer::new(out);
    w.u16(u16::try_from(count).map_err(|_| {
        Error::limit(
            LimitKind::EncryptionContextLength,
            u64::from(u16::MAX),
            count as u64,
        )
    })?)?;
    for (k, v) in pairs {
        w.vec16(k.as_bytes())?;
        w.vec16(v.as_bytes())?;
    }
    Ok(w.pos())
}

#[cfg(feature = "alloc")]
mod owned {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::string::String;
    use alloc::vec::Vec;

    /// An owned encryption context. Iteration order is canonical (by key bytes).
    #[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct EncryptionContext(BTreeMap<String, String>);

    impl core::fmt::Debug for EncryptionContext {
        /// Prints the keys only: values may be sensitive.
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_set().entries(self.0.keys()).finish()
        }
    }

    impl EncryptionContext {
        /// An empty context.
        pub fn new() -> Self {
            Self::default()
        }
        /// Inserts a pair, returning the previous value of the key.
        pub fn insert(
            &mut self,
            key: impl Into<String>,
            value: impl Into<String>,
        ) -> Option<String> {
            self.0.insert(key.into(), value.into())
        }
        /// Removes a key.
        pub fn remove(&mut self, key: &str) -> Option<String> {
            self.0.remove(key)
        }
        /// Looks up a key.
        pub fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).map(String::as_str)
        }
        /// Whether the key is present.
        pub fn contains_key(&self, key: &str) -> bool {
            self.0.contains_key(key)
        }
        /// Number of pairs.
        pub fn len(&self) -> usize {
            self.0.len()
        }
        /// Whether there are no pairs.
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        /// Pairs in canonical order.
        pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
            self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
        }
        /// Keys in canonical order.
        pub fn keys(&self) -> impl Iterator<Item = &str> {
            self.0.keys().map(String::as_str)
        }
        /// Whether any key uses the reserved `aws-crypto-` prefix.
        pub fn has_reserved_key(&self) -> bool {
            self.0.keys().any(|k| k.starts_with(RESERVED_PREFIX))
        }
        /// The canonical serialization.
        ///
        /// # Errors
        /// The length limits of [`serialized_len`].
        pub fn serialize(&self) -> Result<Vec<u8>, Error> {
            let mut out = Vec::new();
            self.serialize_into(&mut out)?;
            Ok(out)
        }
        /// The canonical serialization, written into `out` (replacing its contents), and the
        /// validated view of it: nothing is parsed back, the pairs are known to be canonical.
        ///
        /// # Errors
        /// The length limits of [`serialized_len`].
        pub fn serialize_into<'o>(
            &self,
            out: &'o mut Vec<u8>,
        ) -> Result<EncryptionContextRef<'o>, Error> {
            self.serialize_filtered_into(|_| true, out)
        }
        /// As [`serialize_into`](Self::serialize_into), for the pairs whose keys satisfy
        /// `keep`.
        ///
        /// # Errors
        /// The length limits of [`serialized_len`].
        pub fn serialize_filtered_into<'o>(
            &self,
            keep: impl Fn(&str) -> bool,
            out: &'o mut Vec<u8>,
        ) -> Result<EncryptionContextRef<'o>, Error> {
            crate::work::event(crate::work::Event::ContextSerialize);
            let it = self.iter().filter(|(k, _)| keep(k));
            let len = serialized_len(it.clone())?;
            out.clear();
            out.resize(len, 0);
            serialize_sorted(it.clone(), out)?;
            // At most 16,383 pairs fit the length `serialized_len` allows.
            let count = u16::try_from(it.count())
                .map_err(|_| Error::Internal("pair count beyond the serialized length"))?;
            Ok(EncryptionContextRef::from_validated(out, count))
        }
        /// The canonical serialization of the pairs whose keys satisfy `keep`.
        ///
        /// # Errors
        /// The length limits of [`serialized_len`].
        pub fn serialize_filtered(&self, keep: impl Fn(&str) -> bool) -> Result<Vec<u8>, Error> {
            let mut out = Vec::new();
            self.serialize_filtered_into(keep, &mut out)?;
            Ok(out)
        }
        /// The underlying map.
        pub fn as_map(&self) -> &BTreeMap<String, String> {
            &self.0
        }
        /// Consumes the context into its map.
        pub fn into_map(self) -> BTreeMap<String, String> {
            self.0
        }
    }

    impl From<BTreeMap<String, String>> for EncryptionContext {
        fn from(m: BTreeMap<String, String>) -> Self {
            Self(m)
        }
    }

    impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
        fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
            Self(
                iter.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            )
        }
    }

    impl From<EncryptionContextRef<'_>> for EncryptionContext {
        fn from(r: EncryptionContextRef<'_>) -> Self {
            r.iter().collect()
        }
    }
}

#[cfg(feature = "alloc")]
pub use owned::EncryptionContext;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_round_trip_sorts_by_bytes() {
        let mut pairs = [("b", "2"), ("a", "1"), ("\u{e9}", "x"), ("Z", "0")];
        let mut out = [0u8; 64];
        let n = serialize_pairs(&mut pairs, &mut out).unwrap();
        let ec = EncryptionContextRef::parse(&out[..n]).unwrap();
        let keys: heapless::Vec<&str, 8> = ec.iter().map(|(k, _)| k).collect();
        assert_eq!(keys.as_slice(), ["Z", "a", "b", "\u{e9}"]);
        assert!(ec.is_canonical());
        assert_eq!(ec.get("b"), Some("2"));
        assert_eq!(&out[..2], &[0, 4]);
    }

    #[test]
    fn empty_forms() {
        assert!(EncryptionContextRef::parse(&[]).unwrap().is_empty());
        let legacy = EncryptionContextRef::parse(&[0, 0]).unwrap();
        assert!(legacy.is_empty() && !legacy.is_canonical());
        assert!(EncryptionContextRef::parse(&[0, 0, 0]).is_err());
        assert_eq!(serialize_pairs(&mut [], &mut []), Ok(0));
    }

    #[test]
    fn rejects_malformed() {
        // duplicate key, unsorted
        let dup = [0, 2, 0, 1, b'a', 0, 0, 0, 1, b'a', 0, 0];
        assert!(EncryptionContextRef::parse(&dup).is_err());
        // entries short of / past the length
        assert!(EncryptionContextRef::parse(&[0, 1, 0, 1, b'a', 0]).is_err());
        assert!(EncryptionContextRef::parse(&[0, 1, 0, 1, b'a', 0, 0, 7]).is_err());
        // bad UTF-8
        assert!(EncryptionContextRef::parse(&[0, 1, 0, 1, 0xff, 0, 0]).is_err());
        // unsorted but unique is accepted (the bytes are authenticated as they are)
        let unsorted = [0, 2, 0, 1, b'b', 0, 0, 0, 1, b'a', 0, 0];
        let ec = EncryptionContextRef::parse(&unsorted).unwrap();
        assert!(!ec.is_canonical());
        assert!(serialize_pairs(&mut [("a", "1"), ("a", "2")], &mut [0; 32]).is_err());
    }

    #[test]
    fn length_limit() {
        // count (2) + key length (2) + key + value length (2) must fit the u16 AAD length.
        let big = "x".repeat(65_529);
        assert_eq!(serialized_len([(big.as_str(), "")]), Ok(65_535));
        let big = "x".repeat(65_530);
        assert!(serialized_len([(big.as_str(), "")]).is_err());
    }
}
