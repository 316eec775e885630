//! Encrypts a file with the sans-IO core API, then decrypts it back and checks the round trip.
//!
//! ```text
//! cargo run -p esdk-core --example sans_io_file [FILE]
//! ```
//!
//! Without `FILE`, a built-in sample is written to the temporary directory and used. The
//! ciphertext goes to `FILE.esdk`. Everything here is the caller's job in a sans-IO design:
//!
//! * **materials**: a local raw AES-256 wrapping key (`RawAesKey`); `RawAesKey::wrap` makes the
//!   encrypted data key, and the decryptor's `NeedMaterials` is answered with
//!   `RawAesKey::unwrap_any` over the header's encrypted data keys;
//! * **encryption**: the file is read one frame at a time straight into the content region of a
//!   fixed-size record buffer and sealed in place (`seal_frame_in_place`, no copy); one record of
//!   look-ahead tells which chunk is the last, which goes to `finish` with the footer;
//! * **decryption**: a fixed-size input buffer behind a `SliceInput` (which applies the discards
//!   and compacts), refilled when the decryptor asks for input; plaintext is compared with the
//!   original as it is released.
//!
//! The suite is the default, 0x0578 (AES-256-GCM, key commitment, ECDSA P-384). Regular frames
//! of a signed message are released before the signature at the end is checked: a real caller
//! must discard everything it wrote if decryption fails later.
//!
//! Exits 0 when the round trip matches, 1 on a mismatch, and with an error on I/O or
//! decryption failures.
#![allow(clippy::print_stdout)]

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::encryption_context::{EncryptionContextRef, PUBLIC_KEY_FIELD, serialize_pairs};
use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
use esdk_core::{
    CommitmentPolicy, DataKey, DecryptConfig, DecryptState, DecryptionMaterialsRef, Decryptor,
    EncryptConfig, EncryptionMaterialsRef, Encryptor, RawAesKey, SigningKey, SliceInput,
};
use rand_core::OsRng;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

type Result<T> = core::result::Result<T, Box<dyn core::error::Error>>;

const FRAME_LENGTH: usize = 4096;
/// The decryptor's fixed input buffer: room for the header or two frames.
const DECRYPT_BUFFER_LEN: usize = 16 * 1024;
/// Raw AES keyring identity and key. A real application loads the key from a secret store.
const NAMESPACE: &str = "example-namespace";
const KEY_NAME: &[u8] = b"example-aes-256-key";
const WRAPPING_KEY: [u8; 32] = *b"an example 256-bit wrapping key!";

fn main() -> Result<()> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => write_sample()?,
    };
    let mut encrypted = path.clone().into_os_string();
    encrypted.push(".esdk");
    let encrypted = PathBuf::from(encrypted);

    let (plain_len, frames) = encrypt_file(&path, &encrypted)?;
    let cipher_len = std::fs::metadata(&encrypted)?.len();
    println!("plaintext  {plain_len:>10} bytes  {}", path.display());
    println!(
        "ciphertext {cipher_len:>10} bytes  {} ({frames} frames of {FRAME_LENGTH}, overhead {} bytes)",
        encrypted.display(),
        cipher_len - plain_len
    );

    match decrypt_and_compare(&encrypted, &path)? {
        Ok(n) => {
            println!("decrypted  {n:>10} bytes, identical to the original");
            Ok(())
        }
        Err(why) => {
            eprintln!("round trip MISMATCH: {why}");
            std::process::exit(1);
        }
    }
}

/// Writes a built-in sample (a little over 25 frames) to the temporary directory.
fn write_sample() -> Result<PathBuf> {
    let path = std::env::temp_dir().join("esdk-sans-io-sample.txt");
    let mut out = BufWriter::new(File::create(&path)?);
    for i in 0..2000 {
        writeln!(
            out,
            "line {i:5}: the sans-IO engine never reads, writes or allocates on its own"
        )?;
    }
    out.flush()?;
    Ok(path)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Encrypts `src` into `dst`; returns the plaintext length and the number of frames.
fn encrypt_file(src: &Path, dst: &Path) -> Result<(u64, u64)> {
    let provider = RustCrypto;
    let mut rng = OsRng;
    let policy = CommitmentPolicy::RequireEncryptRequireDecrypt;
    let suite = policy.default_suite();

    // Keys: a fresh data key per message, and for a signed suite a fresh signing key whose public
    // half goes into the encryption context.
    let data_key = DataKey::generate(suite, &mut rng)?;
    let signing_key = suite
        .signature()
        .map(|alg| SigningKey::generate(&provider, alg, &mut rng))
        .transpose()?;
    let mut b64 = [0u8; MAX_PUBLIC_KEY_B64_LEN];
    let file_name = src.file_name().and_then(|n| n.to_str()).unwrap_or("input");
    let mut pairs = vec![("purpose", "sans-io example"), ("file", file_name)];
    if let Some(sk) = &signing_key {
        pairs.push((
            PUBLIC_KEY_FIELD,
            sk.public_key(&provider)?.to_base64(&mut b64),
        ));
    }
    let mut context = [0u8; 1024];
    let context_len = serialize_pairs(&mut pairs, &mut context)?;
    let context = EncryptionContextRef::parse(&context[..context_len])?;

    // The encrypted data key: the data key wrapped under the local AES key.
    let key = RawAesKey::new(NAMESPACE, KEY_NAME, &WRAPPING_KEY)?;
    let mut wrapped = [0u8; 128];
    let edks = [key.wrap(&provider, &context, &data_key, &mut rng, &mut wrapped)?];

    let config = EncryptConfig::default()
        .with_commitment_policy(policy)
        .with_suite(Some(suite))
        .with_frame_length(u32::try_from(FRAME_LENGTH)?);
    let materials = EncryptionMaterialsRef::new(suite, &data_key, &edks)
        .with_encryption_context(context)
        .with_signing_key(signing_key.as_ref());
    let ready = Encryptor::new(provider, config)?.provide(materials, &mut rng)?;

    let mut input = File::open(src)?;
    let mut output = BufWriter::new(File::create(dst)?);
    let mut header = vec![0u8; ready.header_len()];
    let (mut frames, n) = ready.write_header(&mut header)?;
    output.write_all(&header[..n])?;

    // Two fixed records: the one being filled and the one read ahead. A record's content region
    // is [16 .. 16 + frame length]: the file is read straight into it.
    const CONTENT: core::ops::Range<usize> = 16..16 + FRAME_LENGTH;
    let mut current = vec![0u8; frames.sealed_frame_len()];
    let mut ahead = vec![0u8; frames.sealed_frame_len()];
    let mut last = vec![0u8; frames.finish_len(FRAME_LENGTH)];
    let mut filled = read_full(&mut input, &mut current[CONTENT])?;
    let (mut total, mut count) = (filled as u64, 0u64);
    loop {
        // A short chunk is the last; a full one is the last if nothing follows it.
        let next = if filled == FRAME_LENGTH {
            read_full(&mut input, &mut ahead[CONTENT])?
        } else {
            0
        };
        if next == 0 {
            let n = frames.finish(&current[16..16 + filled], &mut last, &mut rng)?;
            output.write_all(&last[..n])?;
            count += 1;
            break;
        }
        let n = frames.seal_frame_in_place(&mut current)?;
        output.write_all(&current[..n])?;
        count += 1;
        core::mem::swap(&mut current, &mut ahead);
        filled = next;
        total += next as u64;
    }
    output.flush()?;
    Ok((total, count))
}

/// Decrypts `encrypted` through a fixed buffer and compares the plaintext with `original`.
/// The outer error is a failure (I/O, decryption); the inner one a mismatch.
fn decrypt_and_compare(
    encrypted: &Path,
    original: &Path,
) -> Result<core::result::Result<u64, String>> {
    let provider = RustCrypto;
    let mut input = File::open(encrypted)?;
    let mut expected = File::open(original)?;
    let mut compare = vec![0u8; FRAME_LENGTH];
    let mut buf = vec![0u8; DECRYPT_BUFFER_LEN];
    // The input helper owns the buffer bookkeeping: discards, compaction, end of input.
    let mut ciphertext = SliceInput::new(&mut buf);
    let mut released = 0u64;
    let mut decryptor = Decryptor::new(provider, DecryptConfig::default());
    loop {
        let mut need_input = false;
        {
            match ciphertext.process(&mut decryptor)? {
                DecryptState::NeedInput { .. } => need_input = true,
                DecryptState::NeedMaterials(request) => {
                    // Find the EDK this key wrapped. The context is not authenticated yet; it is
                    // the AAD of the unwrap, and the header tag checks it right after.
                    let suite = request.suite();
                    let context = request.encryption_context_unverified();
                    let key = RawAesKey::new(NAMESPACE, KEY_NAME, &WRAPPING_KEY)?;
                    let data_key =
                        key.unwrap_any(&provider, &context, request.encrypted_data_keys())?;
                    let Some(data_key) = data_key else {
                        request.abort();
                        return Err("no encrypted data key for this wrapping key".into());
                    };
                    request.provide(&DecryptionMaterialsRef::new(suite, &data_key))?;
                }
                DecryptState::HeaderVerified(header) => {
                    println!(
                        "header     verified: suite {:04x}, frame length {}",
                        header.suite().id(),
                        header.frame_length()
                    );
                }
                DecryptState::Plaintext(chunk) => {
                    let want = &mut compare[..chunk.len()];
                    if read_full(&mut expected, want)? != chunk.len() || *want != *chunk {
                        return Ok(Err(format!(
                            "plaintext differs in the chunk at offset {released}"
                        )));
                    }
                    released += chunk.len() as u64;
                }
                DecryptState::Done => {
                    return Ok(if read_full(&mut expected, &mut compare[..1])? == 0 {
                        Ok(released)
                    } else {
                        Err(format!(
                            "the original is longer than the {released} bytes decrypted"
                        ))
                    });
                }
                _ => {}
            }
        }
        if need_input {
            // Room to read into (the helper fails if the message needs a larger buffer).
            let n = input.read(ciphertext.spare()?)?;
            if n == 0 {
                ciphertext.set_eof();
            } else {
                ciphertext.commit(n);
            }
        }
    }
}
