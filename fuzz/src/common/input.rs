//! Decoding structured values from fuzz input. Reading past the end yields zeros / empty
//! slices, so every input decodes to something.

/// A cursor over fuzz input.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// One byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A byte string whose length is one byte modulo `max_len + 1`.
    pub fn short_bytes(&mut self, max_len: usize) -> &'a [u8] {
        let n = usize::from(self.u8()) % (max_len + 1);
        self.bytes(n)
    }

    /// A string of at most `max_len` bytes of input (invalid UTF-8 replaced).
    pub fn string(&mut self, max_len: usize) -> String {
        String::from_utf8_lossy(self.short_bytes(max_len)).into_owned()
    }

    /// Everything left.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }

    /// Bytes left.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// A 64-bit FNV-1a hash, to seed deterministic randomness from an input.
pub fn seed_of(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
