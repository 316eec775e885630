//! A small JSON tree with duplicate-key detection, and a cursor over it that
//! remembers where it is, so every error names the file and the field.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value. Objects keep their members in file order; duplicate
/// member names are rejected while parsing (serde_json's own `Value` would
/// silently keep the last one, hiding a duplicated test id).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Int(_) | Json::Float(_) => "a number",
            Json::Str(_) => "a string",
            Json::Arr(_) => "an array",
            Json::Obj(_) => "an object",
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Int(i128::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut seen = BTreeSet::new();
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            // With serde_json's `arbitrary_precision` feature (possibly enabled
            // by another crate of the build) numbers arrive as this one-member map.
            if members.is_empty() && key == "$serde_json::private::Number" {
                let text = map.next_value::<String>()?;
                return Ok(match text.parse::<i128>() {
                    Ok(i) => Json::Int(i),
                    Err(_) => Json::Float(text.parse::<f64>().map_err(de::Error::custom)?),
                });
            }
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!(
                    "duplicate object member {key:?}"
                )));
            }
            let value = map.next_value::<Json>()?;
            members.push((key, value));
        }
        Ok(Json::Obj(members))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Parses JSON text; `source` names the text in errors.
pub(crate) fn parse_text(text: &str, source: &str) -> Result<Json> {
    serde_json::from_str::<Json>(text).map_err(|e| anyhow!("{source}: invalid JSON: {e}"))
}

/// Reads and parses a JSON file.
pub(crate) fn read_file(path: &Path) -> Result<Json> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read file", path.display()))?;
    parse_text(&text, &path.display().to_string())
}

/// The absolute, symlink-free form of an existing file's path.
pub(crate) fn canonical_file(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("{}: cannot resolve path", path.display()))
}

/// The absolute, symlink-free directory that contains `path`.
pub(crate) fn base_dir(path: &Path) -> Result<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::canonicalize(&parent)
        .with_context(|| format!("{}: cannot resolve its directory", path.display()))
}

/// A position in a parsed document: the value, the file it came from and
/// the path of keys/indices that leads to it.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    pub(crate) v: &'a Json,
    file: &'a str,
    path: String,
}

impl<'a> Node<'a> {
    /// The top of a document read from `file`.
    pub(crate) fn root(v: &'a Json, file: &'a str) -> Self {
        Node {
            v,
            file,
            path: String::new(),
        }
    }

    /// Human-readable location inside the document.
    pub(crate) fn location(&self) -> &str {
        if self.path.is_empty() {
            "(top level)"
        } else {
            &self.path
        }
    }

    /// An error located at this node.
    pub(crate) fn err(&self, msg: impl fmt::Display) -> anyhow::Error {
        anyhow!("{}: {}: {}", self.file, self.location(), msg)
    }

    fn child(&self, v: &'a Json, segment: fmt::Arguments<'_>, dotted: bool) -> Node<'a> {
        let mut path = self.path.clone();
        if dotted && !path.is_empty() {
            path.push('.');
        }
        fmt::Write::write_fmt(&mut path, segment).expect("writing to a String cannot fail");
        Node {
            v,
            file: self.file,
            path,
        }
    }

    fn wrong_type(&self, expected: &str) -> anyhow::Error {
        self.err(format_args!("expected {expected}, found {}", self.v.kind()))
    }

    pub(crate) fn obj(&self) -> Result<Obj<'a>> {
        match self.v {
            Json::Obj(members) => Ok(Obj {
                node: self.clone(),
                members,
            }),
            _ => Err(self.wrong_type("an object")),
        }
    }

    pub(crate) fn str(&self) -> Result<&'a str> {
        match self.v {
            Json::Str(s) => Ok(s),
            _ => Err(self.wrong_type("a string")),
        }
    }

    /// A string that must not be empty.
    pub(crate) fn non_empty_str(&self) -> Result<&'a str> {
        let s = self.str()?;
        if s.is_empty() {
            return Err(self.err("must not be an empty string"));
        }
        Ok(s)
    }

    pub(crate) fn bool(&self) -> Result<bool> {
        match self.v {
            Json::Bool(b) => Ok(*b),
            _ => Err(self.wrong_type("a boolean")),
        }
    }

    pub(crate) fn u64(&self) -> Result<u64> {
        match self.v {
            Json::Int(i) => u64::try_from(*i)
                .map_err(|_| self.err(format_args!("{i} is not a non-negative 64-bit integer"))),
            Json::Float(f) => Err(self.err(format_args!("{f} is not an integer"))),
            _ => Err(self.wrong_type("a non-negative integer")),
        }
    }

    pub(crate) fn u32(&self) -> Result<u32> {
        let n = self.u64()?;
        u32::try_from(n).map_err(|_| self.err(format_args!("{n} does not fit in 32 bits")))
    }

    pub(crate) fn array(&self) -> Result<Vec<Node<'a>>> {
        match self.v {
            Json::Arr(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| self.child(v, format_args!("[{i}]"), false))
                .collect()),
            _ => Err(self.wrong_type("an array")),
        }
    }

    /// An object whose members all have string values (an encryption context).
    pub(crate) fn string_map(&self) -> Result<BTreeMap<String, String>> {
        let obj = self.obj()?;
        let mut out = BTreeMap::new();
        for (k, v) in obj.entries() {
            out.insert(k.to_owned(), v.str()?.to_owned());
        }
        Ok(out)
    }

    /// An array of strings.
    pub(crate) fn string_list(&self) -> Result<Vec<String>> {
        self.array()?
            .iter()
            .map(|n| n.str().map(str::to_owned))
            .collect()
    }

    /// Standard (padded) base64 text decoded to bytes.
    pub(crate) fn base64(&self) -> Result<Vec<u8>> {
        let s = self.str()?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| self.err(format_args!("invalid base64: {e}")))
    }

    /// Base64 with surrounding ASCII whitespace ignored (the commitment KATs'
    /// case 27 `header` starts with a space).
    pub(crate) fn base64_trimmed(&self) -> Result<Vec<u8>> {
        let s = self.str()?.trim_ascii();
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| self.err(format_args!("invalid base64: {e}")))
    }

    /// Base64 that must decode to exactly `len` bytes.
    pub(crate) fn base64_len(&self, len: usize) -> Result<Vec<u8>> {
        let bytes = self.base64()?;
        if bytes.len() != len {
            return Err(self.err(format_args!(
                "decodes to {} bytes, expected {len}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// An algorithm suite id written as four hex digits (`"0478"`).
    pub(crate) fn suite_id(&self) -> Result<u16> {
        let s = self.str()?;
        parse_suite_id(s).ok_or_else(|| {
            self.err(format_args!(
                "{s:?} is not an algorithm suite id (four hex digits)"
            ))
        })
    }

    /// A `file://` URI resolved against `base`.
    pub(crate) fn file_uri(&self, base: &Path) -> Result<PathBuf> {
        let s = self.str()?;
        super::resolve_file_uri(base, s).map_err(|e| self.err(e))
    }
}

/// Parses four hex digits into a suite id.
pub(crate) fn parse_suite_id(s: &str) -> Option<u16> {
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(s, 16).ok()
}

/// A JSON object with its location.
#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    node: Node<'a>,
    members: &'a [(String, Json)],
}

impl<'a> Obj<'a> {
    /// An error located at this object.
    pub(crate) fn err(&self, msg: impl fmt::Display) -> anyhow::Error {
        self.node.err(msg)
    }

    /// Rejects members whose names are not in `allowed`.
    pub(crate) fn allow_only(&self, allowed: &[&str]) -> Result<()> {
        for (k, _) in self.members {
            if !allowed.contains(&k.as_str()) {
                return Err(self.err(format_args!(
                    "unexpected field {k:?} (known fields: {})",
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// True when the member exists (even if `null`).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.members.iter().any(|(k, _)| k == key)
    }

    /// The member, or `None` when absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<Node<'a>> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .filter(|(_, v)| !matches!(v, Json::Null))
            .map(|(k, v)| self.node.child(v, format_args!("{k}"), true))
    }

    /// The member; an error when absent or `null`.
    pub(crate) fn req(&self, key: &str) -> Result<Node<'a>> {
        self.get(key)
            .ok_or_else(|| self.err(format_args!("missing required field {key:?}")))
    }

    pub(crate) fn req_str(&self, key: &str) -> Result<&'a str> {
        self.req(key)?.str()
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>> {
        self.get(key).map(|n| n.str()).transpose()
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key).map(|n| n.bool()).transpose()
    }

    pub(crate) fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        self.get(key).map(|n| n.u32()).transpose()
    }

    pub(crate) fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        self.get(key).map(|n| n.u64()).transpose()
    }

    /// The members as (name, node) pairs, for objects used as maps; the
    /// child locations are written `parent["name"]`.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'a str, Node<'a>)> + '_ {
        self.members.iter().map(|(k, v)| {
            (
                k.as_str(),
                self.node.child(v, format_args!("[{k:?}]"), false),
            )
        })
    }

    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }
}

/// The `manifest` header common to framework manifests.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) kind: String,
    pub(crate) version: Option<u64>,
}

/// Reads `manifest.type` and `manifest.version` (the version may be absent:
/// the legacy python manifests have none).
pub(crate) fn header(root: &Obj<'_>) -> Result<Header> {
    let m = root.req("manifest")?.obj()?;
    Ok(Header {
        kind: m.req_str("type")?.to_owned(),
        version: m.opt_u64("version")?,
    })
}

/// Checks the `manifest` header of a document: the type must be `kind` and
/// the version one of `versions`. Returns the version.
pub(crate) fn expect_header(root: &Obj<'_>, kind: &str, versions: &[u64]) -> Result<u64> {
    let h = header(root)?;
    let m = root.req("manifest")?;
    if h.kind != kind {
        return Err(m.err(format_args!(
            "manifest type is {:?}, expected {kind:?}",
            h.kind
        )));
    }
    let version = h
        .version
        .ok_or_else(|| m.err("missing required field \"version\""))?;
    if !versions.contains(&version) {
        return Err(m.err(format_args!(
            "unsupported {kind} manifest version {version} (supported: {versions:?})"
        )));
    }
    Ok(version)
}
