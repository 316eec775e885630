//! Big-endian cursor reading and writing without panics.
//!
//! [`Reader`] distinguishes "not enough bytes yet" ([`Parse::Incomplete`], carrying how many
//! bytes in total are needed) from "the bytes are wrong" ([`Parse::Invalid`]); a streaming parser
//! waits on the first and fails on the second.

// Input paths: no unchecked arithmetic, nothing public by accident, every error documented.
#![warn(
    clippy::arithmetic_side_effects,
    unreachable_pub,
    clippy::missing_errors_doc
)]

use crate::error::{Error, LimitKind, UsageError};

/// Outcome of a parse step that is not a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parse {
    /// At least this many bytes (counted from the start of the reader's slice) are needed.
    Incomplete(usize),
    /// The bytes are invalid.
    Invalid(Error),
}

impl From<Error> for Parse {
    fn from(e: Error) -> Self {
        Self::Invalid(e)
    }
}

/// A cursor over a byte slice.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// No field may end past this offset; checked when the field's end is known, whether or
    /// not its bytes are there yet, so the outcome does not depend on how much is buffered.
    limit: usize,
    limit_kind: LimitKind,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            limit: usize::MAX,
            limit_kind: LimitKind::FieldLength,
        }
    }
    /// A reader that fails with `kind` as soon as a field would end past `limit`.
    #[cfg(test)]
    pub(crate) fn with_limit(buf: &'a [u8], limit: usize, kind: LimitKind) -> Self {
        Self {
            buf,
            pos: 0,
            limit,
            limit_kind: kind,
        }
    }
    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    /// Bytes left.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// Takes `n` bytes, or reports how many bytes in total would be needed.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Parse> {
        let end = self.pos.saturating_add(n);
        if end > self.limit {
            return Err(Error::limit(self.limit_kind, self.limit as u64, end as u64).into());
        }
        match self.buf.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                crate::work::add(n);
                Ok(s)
            }
            None => Err(Parse::Incomplete(end)),
        }
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Parse> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }
    #[cfg(test)]
    pub(crate) fn u8(&mut self) -> Result<u8, Parse> {
        Ok(u8::from_be_bytes(self.array()?))
    }
    pub(crate) fn u16(&mut self) -> Result<u16, Parse> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, Parse> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    /// A u16-length-prefixed field.
    pub(crate) fn vec16(&mut self) -> Result<&'a [u8], Parse> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// A cursor writing into a caller's slice. Nothing is written past its end.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) -> Result<(), Error> {
        let end = self.pos.checked_add(b.len()).ok_or(too_small(usize::MAX))?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(too_small(end))?;
        dst.copy_from_slice(b);
        self.pos = end;
        Ok(())
    }
    pub(crate) fn u8(&mut self, v: u8) -> Result<(), Error> {
        self.bytes(&[v])
    }
    pub(crate) fn u16(&mut self, v: u16) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }
    pub(crate) fn u32(&mut self, v: u32) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }
    /// A u16-length-prefixed field; fails if `b` is longer than 65,535 bytes.
    pub(crate) fn vec16(&mut self, b: &[u8]) -> Result<(), Error> {
        let n = u16::try_from(b.len()).map_err(|_| {
            Error::limit(LimitKind::FieldLength, u64::from(u16::MAX), b.len() as u64)
        })?;
        self.u16(n)?;
        self.bytes(b)
    }
}

pub(crate) fn too_small(required: usize) -> Error {
    Error::Usage(UsageError::OutputTooSmall { required })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_needed_length() {
        let mut r = Reader::new(&[0, 3, 1, 2]);
        assert_eq!(r.vec16(), Err(Parse::Incomplete(5)));
        let mut r = Reader::new(&[0, 2, 1, 2, 9]);
        assert_eq!(r.vec16(), Ok(&[1u8, 2][..]));
        assert_eq!(r.u32(), Err(Parse::Incomplete(8)));
        assert_eq!(r.u8(), Ok(9));
        assert!(r.is_empty());
        let mut r = Reader::new(&[]);
        assert_eq!(r.take(usize::MAX), Err(Parse::Incomplete(usize::MAX)));
        // A limit is enforced from the length alone, with or without the bytes.
        for buf in [&[0u8, 9][..], &[0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]] {
            let mut r = Reader::with_limit(buf, 10, LimitKind::HeaderLength);
            assert_eq!(
                r.vec16(),
                Err(Parse::Invalid(Error::limit(
                    LimitKind::HeaderLength,
                    10,
                    11
                )))
            );
        }
    }

    #[test]
    fn writer_never_overflows() {
        let mut b = [0u8; 3];
        let mut w = Writer::new(&mut b);
        assert!(w.u16(0x0102).is_ok());
        assert_eq!(w.u16(1), Err(too_small(4)));
        assert!(w.u8(3).is_ok());
        assert_eq!(b, [1, 2, 3]);
    }
}
