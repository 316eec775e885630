//! One operation on one message, for instruction counting under callgrind (noise-free, unlike
//! wall time on a shared machine): run it once with the operation and once with `none`, and
//! the difference is the operation's cost.
//!
//! ```text
//! cargo build -p esdk-std --example pass_count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/debug/examples/pass_count oneshot-encrypt 0478 65536 4
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/debug/examples/pass_count stream-decrypt 0478 65536 4 1048576
//! ```
//! Arguments: operation, suite id in hex, frame length, MiB of plaintext, and for the
//! decrypting readers the size of the buffer given to each `read` (default 1 MiB). Operations:
//! - `none`: only the setup every operation shares (plaintext, keyring, client, and the
//!   ciphertext the decrypt operations read), so it cancels out of the difference;
//! - `oneshot-encrypt`, `oneshot-decrypt`: `Client::encrypt` / `Client::decrypt`;
//! - `stream-encrypt`: `EncryptingWriter` into a sink, 1 MiB writes;
//! - `stream-decrypt`: the std::io `DecryptingReader`;
//! - `stream-decrypt-writer`: `DecryptingWriter` into a sink, 64 KiB writes;
//! - `stream-decrypt-tokio`: the tokio `AsyncDecryptingReader` (with the `tokio` feature).
//!
//! Backend: the default (aws-lc unless built without it).

use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{DecryptingReader, DecryptingWriter, EncryptingWriter};
use esdk_std::{AlgorithmSuite, Client, CommitmentPolicy, DecryptOptions, EncryptOptions};
use std::io::{Read, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let op = arg(1, "oneshot-encrypt");
    let suite = AlgorithmSuite::from_id(u16::from_str_radix(&arg(2, "0478"), 16)?)?;
    let frame: u32 = arg(3, "65536").parse()?;
    let mib: usize = arg(4, "4").parse()?;
    let read_size: usize = arg(5, "1048576").parse::<usize>()?.max(1);
    let data: Vec<u8> = (0..mib << 20)
        .map(|i| (i * 31 % 251).to_le_bytes()[0])
        .collect();
    let keyring = RawAesKeyring::new("bench", "aes-256", &[7u8; 32])?;
    let client = Client::builder()
        .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build();
    let enc = EncryptOptions::keyring(&keyring)
        .suite(suite)
        .frame_length(frame);
    let dec = DecryptOptions::keyring(&keyring);
    // The ciphertext for the decrypt operations is made in every run (`none` included), so it
    // cancels out of the difference.
    let ct = client.encrypt(&data, &enc)?.ciphertext;
    let n = match op.as_str() {
        "none" => 0,
        "oneshot-encrypt" => client.encrypt(&data, &enc)?.ciphertext.len(),
        "oneshot-decrypt" => client.decrypt(&ct, &dec)?.plaintext.len(),
        "stream-encrypt" => {
            let mut w = EncryptingWriter::new(&client, &enc, std::io::sink())?;
            for c in data.chunks(1 << 20) {
                w.write_all(c)?;
            }
            w.finish()?;
            data.len()
        }
        "stream-decrypt" => {
            let mut r = DecryptingReader::new(&client, &dec, &ct[..])?;
            let mut out = vec![0u8; read_size];
            let mut n = 0;
            loop {
                match r.read(&mut out)? {
                    0 => break,
                    k => n += k,
                }
            }
            n
        }
        "stream-decrypt-writer" => {
            let mut w = DecryptingWriter::new(&client, &dec, std::io::sink());
            for c in ct.chunks(64 << 10) {
                w.write_all(c)?;
            }
            w.finish()?;
            data.len()
        }
        #[cfg(feature = "tokio")]
        "stream-decrypt-tokio" => {
            use tokio::io::AsyncReadExt;
            let rt = tokio::runtime::Builder::new_current_thread().build()?;
            rt.block_on(async {
                let mut r =
                    esdk_std::stream::tokio::AsyncDecryptingReader::new(&client, &dec, &ct[..])
                        .await?;
                let mut out = vec![0u8; read_size];
                let mut n = 0;
                loop {
                    match r.read(&mut out).await? {
                        0 => break,
                        k => n += k,
                    }
                }
                Ok::<usize, Box<dyn std::error::Error>>(n)
            })?
        }
        other => return Err(format!("unknown operation {other}").into()),
    };
    println!("{op} {n}");
    Ok(())
}
