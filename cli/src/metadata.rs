//! Metadata records: one JSON object per line, with the fields, encodings and formatting of
//! aws-encryption-cli 4.3 (`json.dumps(..., sort_keys=True)`: sorted keys, `", "` and `": "`
//! separators, non-ASCII escaped).

use crate::args::algorithm_name;
use crate::error::CliError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use esdk_core::header::ParseOptions;
use esdk_core::{CommitmentPolicy, ContentType, DecryptLimits, HeaderRef, SignaturePolicy};
use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Mutex;

/// Serializes like Python's `json.dumps(value, sort_keys=True)`.
pub fn to_python_json(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                if let Some(x) = m.get(k) {
                    write_value(out, x);
                }
            }
            out.push('}');
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(B64.encode(bytes))
}

/// Parses a complete serialized header (with its authentication) at the start of `bytes`,
/// accepting every suite: the caller has already applied its policy.
pub fn parse_header(bytes: &[u8]) -> Result<(HeaderRef<'_>, usize), esdk_core::Error> {
    let opts = ParseOptions {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        signature_policy: SignaturePolicy::AllowSigned,
        limits: DecryptLimits::default(),
    };
    HeaderRef::parse(bytes, &opts)
}

/// The `header` object of a metadata record.
pub fn header_json(h: &HeaderRef<'_>) -> Value {
    let suite = h.suite();
    let v1 = h.version() == esdk_core::suite::MessageFormatVersion::V1;
    let mut edks: Vec<(Vec<u8>, Value)> = h
        .encrypted_data_keys()
        .iter()
        .map(|e| {
            let mut sort_key = e.provider_id.as_bytes().to_vec();
            sort_key.extend_from_slice(e.provider_info);
            let v = json!({
                "encrypted_data_key": b64(e.ciphertext),
                "key_provider": {
                    "key_info": b64(e.provider_info),
                    "provider_id": b64(e.provider_id.as_bytes()),
                },
            });
            (sort_key, v)
        })
        .collect();
    edks.sort_by(|a, b| a.0.cmp(&b.0));
    let mut ec = Map::new();
    for (k, v) in h.encryption_context().iter() {
        ec.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    json!({
        "algorithm": algorithm_name(suite.id()),
        "commitment_key": if v1 { Value::Null } else { b64(h.suite_data()) },
        "content_type": match h.content_type() { ContentType::Framed => 2, ContentType::NonFramed => 1 },
        "encrypted_data_keys": edks.into_iter().map(|e| e.1).collect::<Vec<_>>(),
        "encryption_context": ec,
        "frame_length": h.frame_length(),
        "header_iv_length": if v1 { json!(12) } else { Value::Null },
        "message_id": b64(h.message_id()),
        "type": if v1 { json!(128) } else { Value::Null },
        "version": if v1 { "1.0" } else { "2.0" },
    })
}

/// The `header_auth` object of a decrypt record.
pub fn header_auth_json(h: &HeaderRef<'_>) -> Value {
    json!({ "iv": b64(h.auth_iv()), "tag": b64(h.auth_tag()) })
}

/// Where metadata records go.
#[derive(Debug)]
pub enum MetadataSink {
    /// `-S`.
    Suppressed,
    /// `--metadata-output -`.
    Stdout,
    /// `--metadata-output FILE`.
    File(Mutex<File>),
}

impl MetadataSink {
    /// Opens the sink (append, or truncate with `--overwrite-metadata`).
    pub fn open(target: Option<&str>, overwrite: bool) -> Result<Self, CliError> {
        match target {
            None => Ok(Self::Suppressed),
            Some("-") => Ok(Self::Stdout),
            Some(path) => {
                let f = OpenOptions::new()
                    .create(true)
                    .append(!overwrite)
                    .write(true)
                    .truncate(overwrite)
                    .open(path)
                    .map_err(|e| {
                        CliError::bad(format!("cannot open metadata output {path:?}: {e}"))
                    })?;
                Ok(Self::File(Mutex::new(f)))
            }
        }
    }

    /// Writes one record as one line (whole lines only, also with several jobs).
    pub fn write(&self, record: &Value) -> Result<(), CliError> {
        let mut line = to_python_json(record);
        line.push('\n');
        let res = match self {
            Self::Suppressed => Ok(()),
            Self::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes()).and_then(|()| out.flush())
            }
            Self::File(f) => match f.lock() {
                Ok(mut f) => f.write_all(line.as_bytes()),
                Err(_) => Ok(()),
            },
        };
        res.map_err(|e| CliError::bad(format!("cannot write metadata: {e}")))
    }

    /// Whether records are written at all.
    pub fn enabled(&self) -> bool {
        !matches!(self, Self::Suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_formatting() {
        let v = json!({"b": [1, "x"], "a": {"z": null, "é": "\u{1F600}\n"}});
        assert_eq!(
            to_python_json(&v),
            r#"{"a": {"z": null, "\u00e9": "\ud83d\ude00\n"}, "b": [1, "x"]}"#
        );
    }
}
