//! `esdk inspect`: the header of a message as JSON, without any key, and the exact plaintext
//! length read from the body's length fields (frames are skipped, not decrypted).

use crate::error::{CliError, escape};
use crate::metadata::{header_auth_json, header_json, parse_header, to_python_json};
use crate::streams::SkipWhitespace;
use base64::engine::general_purpose::STANDARD as B64;
use esdk_core::ContentType;
use serde_json::{Value, json};
use std::io::{self, Read};

/// Largest header accepted (bytes).
const MAX_HEADER: usize = 64 << 20;
const CHUNK: usize = 64 * 1024;

/// Prints one JSON line per message; fails (exit 1) if any could not be read.
pub fn run(files: &[String], decode: bool) -> Result<(), CliError> {
    let mut failed = 0;
    for f in files {
        let shown = escape(f, 512);
        let reader: Box<dyn Read> = if f == "-" {
            Box::new(io::stdin().lock())
        } else {
            match std::fs::File::open(f) {
                Ok(file) => Box::new(io::BufReader::with_capacity(CHUNK, file)),
                Err(e) => {
                    eprintln!("esdk: error: {shown}: {e}");
                    failed += 1;
                    continue;
                }
            }
        };
        let reader: Box<dyn Read> = if decode {
            Box::new(base64::read::DecoderReader::new(
                SkipWhitespace(reader),
                &B64,
            ))
        } else {
            reader
        };
        match inspect_one(reader) {
            Ok(mut v) => {
                if let Some(o) = v.as_object_mut() {
                    o.insert("input".into(), Value::String(f.clone()));
                }
                println!("{}", to_python_json(&v));
            }
            Err(e) => {
                eprintln!("esdk: error: {shown}: {}", escape(&e, 1024));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(CliError::Failed(failed));
    }
    Ok(())
}

fn read_exact_or(r: &mut dyn Read, buf: &mut [u8], what: &str) -> Result<(), String> {
    r.read_exact(buf)
        .map_err(|e| format!("message ends inside the {what} ({e})"))
}

fn skip(r: &mut dyn Read, n: u64, what: &str) -> Result<(), String> {
    let got = io::copy(&mut r.take(n), &mut io::sink()).map_err(|e| e.to_string())?;
    if got != n {
        return Err(format!("message ends inside the {what}"));
    }
    Ok(())
}

fn inspect_one(mut r: Box<dyn Read>) -> Result<Value, String> {
    // Read until the header parses (or fails for another reason than missing bytes).
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    let (header, auth, hlen, content_type, frame_len, signed) = loop {
        match parse_header(&buf) {
            Ok((h, len)) => {
                break (
                    header_json(&h),
                    header_auth_json(&h),
                    len,
                    h.content_type(),
                    h.frame_length(),
                    h.suite().signature().is_some(),
                );
            }
            Err(esdk_core::Error::Truncated) if buf.len() < MAX_HEADER => {}
            Err(e) => return Err(format!("not a valid message header: {e}")),
        }
        let n = r.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("message ends inside the header".into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    // The body starts after the header; keep the bytes already read.
    let rest = buf.split_off(hlen);
    let mut body: Box<dyn Read> = Box::new(io::Cursor::new(rest).chain(r));
    let plaintext_len: u64 = match content_type {
        ContentType::NonFramed => {
            let mut iv_len = [0u8; 20];
            read_exact_or(&mut body, &mut iv_len, "body header")?;
            let mut len = [0u8; 8];
            len.copy_from_slice(iv_len.get(12..20).unwrap_or(&[0; 8]));
            let n = u64::from_be_bytes(len);
            skip(&mut body, n.saturating_add(16), "body")?;
            n
        }
        ContentType::Framed => {
            let mut total = 0u64;
            let mut expected_seq = 1u32;
            loop {
                let mut seq = [0u8; 4];
                read_exact_or(&mut body, &mut seq, "frame")?;
                let seq = u32::from_be_bytes(seq);
                if seq == u32::MAX {
                    let mut fin = [0u8; 20];
                    read_exact_or(&mut body, &mut fin, "final frame")?;
                    let mut len = [0u8; 4];
                    len.copy_from_slice(fin.get(16..20).unwrap_or(&[0; 4]));
                    let n = u32::from_be_bytes(len);
                    if n > frame_len {
                        return Err("final frame longer than the frame length".into());
                    }
                    skip(&mut body, u64::from(n) + 16, "final frame")?;
                    total += u64::from(n);
                    break;
                }
                if seq != expected_seq {
                    return Err(format!("frame {seq} where frame {expected_seq} belongs"));
                }
                expected_seq = expected_seq.wrapping_add(1);
                skip(&mut body, 12 + u64::from(frame_len) + 16, "frame")?;
                total += u64::from(frame_len);
            }
            total
        }
    };
    if signed {
        let mut len = [0u8; 2];
        read_exact_or(&mut body, &mut len, "footer")?;
        skip(&mut body, u64::from(u16::from_be_bytes(len)), "footer")?;
    }
    let mut extra = [0u8; 1];
    let trailing = body.read(&mut extra).map_err(|e| e.to_string())? != 0;
    Ok(json!({
        "header": header,
        "header_auth": auth,
        "header_length": hlen,
        "signed": signed,
        "plaintext_length": plaintext_len,
        "trailing_data": trailing,
        "verified": false,
    }))
}
