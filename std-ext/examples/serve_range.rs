//! Serve a byte range of a large encrypted file: decrypt plaintext bytes `[start, end)` by
//! reading only the header and the frames that hold them.
//!
//! ```sh
//! # self-contained demo: writes a 64 MiB encrypted file to a temp dir, serves ranges of it
//! cargo run --release -p esdk-std --example serve_range
//! # a real file encrypted with a raw AES-256 key (namespace/name "serve"/"range", key as hex)
//! cargo run --release -p esdk-std --example serve_range -- FILE START END KEY_HEX > part.bin
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

use esdk_std::keyring::RawAesKeyring;
use esdk_std::ranged::RangeOptions;
use esdk_std::stream::io::EncryptingWriter;
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;

/// Counts what is read from the file, to show how little a range costs.
struct Counting<R> {
    inner: R,
    read: u64,
    seeks: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.seeks += 1;
        self.inner.seek(to)
    }
}

/// Writes plaintext bytes `range` of the encrypted `file` to `out`; returns bytes read.
fn serve_range(
    client: &Client,
    keyring: &RawAesKeyring,
    file: &std::path::Path,
    range: Range<u64>,
    out: &mut impl Write,
) -> esdk_std::Result<(u64, Range<u64>)> {
    let mut src = Counting {
        inner: std::io::BufReader::with_capacity(16 * 1024, std::fs::File::open(file)?),
        read: 0,
        seeks: 0,
    };
    let written = client.decrypt_range_to(
        &mut src,
        range,
        &DecryptOptions::keyring(keyring),
        &RangeOptions::new(),
        out,
    )?;
    Ok((src.read, written.range))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let client = Client::builder().build();
    if let [file, start, end, key_hex] = args.as_slice() {
        let key = hex::decode(key_hex)?;
        let keyring = RawAesKeyring::new("serve", "range", &key)?;
        let mut out = BufWriter::new(std::io::stdout().lock());
        let (read, range) = serve_range(
            &client,
            &keyring,
            file.as_ref(),
            start.parse()?..end.parse()?,
            &mut out,
        )?;
        out.flush()?;
        eprintln!("served {range:?}, read {read} bytes of the file");
        return Ok(());
    }

    // Demo: a 64 MiB file of 64 KiB frames (unsigned, committing suite: ranges need no opt-in).
    let keyring = RawAesKeyring::new("serve", "range", &[42u8; 32])?;
    let dir = std::env::temp_dir().join(format!("esdk-serve-range-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("large.esdk");
    let total: u64 = 64 << 20;
    let byte_at = |i: u64| (i.wrapping_mul(2_654_435_761) >> 7) as u8;
    {
        let file = BufWriter::new(std::fs::File::create(&path)?);
        let opts = EncryptOptions::keyring(&keyring)
            .suite(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY)
            .frame_length(64 * 1024)
            .parallelism(2);
        let mut w = EncryptingWriter::new(&client, &opts, file)?;
        let mut chunk = vec![0u8; 1 << 20];
        for c in 0..total / chunk.len() as u64 {
            for (i, b) in chunk.iter_mut().enumerate() {
                *b = byte_at(c * (1 << 20) + i as u64);
            }
            w.write_all(&chunk)?;
        }
        w.finish()?.flush()?;
    }
    let size = std::fs::metadata(&path)?.len();
    println!("encrypted file: {size} bytes ({total} bytes of plaintext, 64 KiB frames)");
    for range in [
        10_000_000..10_001_024,
        (1 << 20) - 512..(1 << 20) + 512,
        total - 100..total + 100,
        total + 5..total + 10,
    ] {
        let mut out = Vec::new();
        let (read, served) = serve_range(&client, &keyring, &path, range.clone(), &mut out)?;
        assert!(served.clone().map(byte_at).eq(out.iter().copied()));
        println!(
            "range {range:?}: served {served:?} ({} bytes, verified), read {read} bytes of the file ({:.3}%)",
            out.len(),
            read as f64 * 100.0 / size as f64
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
