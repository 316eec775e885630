//! Independent oracles, written from the message-format description without `esdk-core`'s
//! codec: parsers for the serialized encryption context and EDK list, a header-body
//! serializer, and the raw AES provider-info rule.

/// One EDK entry: provider id, provider info, ciphertext.
pub type Edk<'a> = (&'a str, &'a [u8], &'a [u8]);

struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(b[0]) << 8 | usize::from(b[1]))
    }
    fn field(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// The pairs of a serialized encryption context, or `None` if it must be rejected:
/// empty input = empty context; `00 00` alone = empty (legacy form); otherwise a non-zero
/// count of UTF-8 key/value pairs that exactly fill the bytes, with no repeated key.
pub fn encryption_context(bytes: &[u8]) -> Option<Vec<(&str, &str)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut c = Cur(bytes);
    let count = c.u16()?;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for _ in 0..count {
        let k = core::str::from_utf8(c.field()?).ok()?;
        let v = core::str::from_utf8(c.field()?).ok()?;
        if pairs.iter().any(|(k2, _)| *k2 == k) {
            return None;
        }
        pairs.push((k, v));
    }
    if !c.0.is_empty() {
        return None;
    }
    Some(pairs)
}

/// The entries of an EDK section (`count ‖ entries`), or `None` if it must be rejected:
/// count 0, count over `max`, a provider id that is not UTF-8, a truncated entry or bytes left.
pub fn edk_list(bytes: &[u8], max: u16) -> Option<Vec<Edk<'_>>> {
    let mut c = Cur(bytes);
    let count = c.u16()?;
    if count == 0 || count > usize::from(max) {
        return None;
    }
    let mut out = Vec::new();
    for _ in 0..count {
        let id = core::str::from_utf8(c.field()?).ok()?;
        let info = c.field()?;
        let ct = c.field()?;
        out.push((id, info, ct));
    }
    if !c.0.is_empty() {
        return None;
    }
    Some(out)
}

/// What a header body holds.
#[derive(Clone, Debug)]
pub struct HeaderFields<'a> {
    /// 1 or 2.
    pub version: u8,
    /// The suite id.
    pub suite_id: u16,
    /// 16 or 32 bytes.
    pub message_id: &'a [u8],
    /// The stored AAD field, raw.
    pub aad: &'a [u8],
    /// The EDKs.
    pub edks: Vec<Edk<'a>>,
    /// 1 non-framed, 2 framed.
    pub content_type: u8,
    /// Frame length (0 for non-framed).
    pub frame_length: u32,
    /// v2: the key commitment.
    pub suite_data: &'a [u8],
}

fn put16(out: &mut Vec<u8>, data: &[u8]) {
    let n = u16::try_from(data.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(data);
}

/// Serializes a header body (everything the header tag authenticates).
pub fn header_body(f: &HeaderFields<'_>) -> Vec<u8> {
    let mut h = vec![f.version];
    if f.version == 1 {
        h.push(0x80);
    }
    h.extend_from_slice(&f.suite_id.to_be_bytes());
    h.extend_from_slice(f.message_id);
    put16(&mut h, f.aad);
    let count = u16::try_from(f.edks.len()).unwrap_or(u16::MAX);
    h.extend_from_slice(&count.to_be_bytes());
    for (id, info, ct) in &f.edks {
        put16(&mut h, id.as_bytes());
        put16(&mut h, info);
        put16(&mut h, ct);
    }
    h.push(f.content_type);
    if f.version == 1 {
        h.extend_from_slice(&[0, 0, 0, 0, 12]);
    }
    h.extend_from_slice(&f.frame_length.to_be_bytes());
    if f.version == 2 {
        h.extend_from_slice(f.suite_data);
    }
    h
}

/// Serializes pairs in the order given (canonical when they are sorted and unique).
pub fn encryption_context_bytes(pairs: &[(&str, &str)]) -> Vec<u8> {
    if pairs.is_empty() {
        return Vec::new();
    }
    let mut out = u16::try_from(pairs.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes()
        .to_vec();
    for (k, v) in pairs {
        put16(&mut out, k.as_bytes());
        put16(&mut out, v.as_bytes());
    }
    out
}

/// The raw AES keyring's provider-info rule: the EDK is `(namespace, key_name)`'s when the
/// provider id is the namespace and the info is `key_name ‖ 00 00 00 80 ‖ 00 00 00 0C ‖ iv`.
pub fn raw_aes_iv(namespace: &str, key_name: &[u8], edk: Edk<'_>) -> Option<[u8; 12]> {
    let (id, info, _) = edk;
    if id != namespace {
        return None;
    }
    let rest = info.strip_prefix(key_name)?;
    let iv = rest.strip_prefix(&[0, 0, 0, 0x80, 0, 0, 0, 12])?;
    iv.try_into().ok()
}
