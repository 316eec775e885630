//! A decrypt driver that checks the decryptor's contract on every call.
//!
//! Checked on every run, whatever the input:
//! * `NeedInput` only before end of input, with `min_len` above what is buffered and nothing to
//!   discard; `discard` never exceeds the input;
//! * states come in order: materials (once, or again after a defer), header verified (once,
//!   discarding exactly the header), plaintext, done (only at end of input);
//! * every released plaintext is exactly the output of the provider's last open, which
//!   succeeded; no plaintext at all after an open or a signature check failed; for signed
//!   suites `Done` only after a signature verified;
//! * errors are sticky, `Done` is final, and the machine makes progress (a bounded number of
//!   calls per input byte);
//! * the statistics agree with what was released and discarded.

use super::provider::{Event, Logged};
use esdk_core::crypto::CryptoProvider;
use esdk_core::decrypt::{DecryptState, MaterialsRequest};
use esdk_core::error::UsageError;
use esdk_core::{AlgorithmSuite, DecryptConfig, Decryptor, Error};

/// The non-`NeedInput` states, in the order they came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum St {
    /// `NeedMaterials`.
    Materials,
    /// `HeaderVerified`.
    Header,
    /// `Plaintext`.
    Plaintext,
    /// `Done`.
    Done,
}

/// What a decryption produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// All released plaintext.
    pub plaintext: Vec<u8>,
    /// States in order.
    pub states: Vec<St>,
    /// `Ok` at `Done`, else the (sticky) error.
    pub result: Result<(), Error>,
}

/// How input is handed to the decryptor.
#[derive(Clone, Debug)]
pub struct Feed<'a> {
    /// Chunk sizes, used in turn (cycled); empty means "everything at once". A size of 0 means
    /// "exactly what `min_len` asks for".
    pub sizes: &'a [u8],
    /// Also append the next chunk after states other than `NeedInput`.
    pub eager: bool,
}

impl Feed<'_> {
    /// The whole message at once.
    pub fn all() -> Feed<'static> {
        Feed {
            sizes: &[],
            eager: false,
        }
    }
}

/// How to answer `NeedMaterials`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defer {
    /// Answer at once.
    Never,
    /// Defer the first request, answer the second.
    Once,
}

/// Decrypts `msg` with `provider`, checking the contract; `answer` handles each materials
/// request that is not deferred (provide, abort or drop).
pub fn decrypt<P: CryptoProvider>(
    provider: P,
    config: DecryptConfig,
    msg: &[u8],
    feed: &Feed<'_>,
    defer: Defer,
    answer: impl Fn(MaterialsRequest<'_, Logged<P>>),
) -> Outcome {
    let (provider, log) = Logged::new(provider);
    let mut dec = Decryptor::new(provider, config);
    let mut buf: Vec<u8> = if feed.sizes.is_empty() {
        msg.to_vec()
    } else {
        Vec::new()
    };
    let mut fed = buf.len();
    let mut next_size = 0usize;
    let mut out = Outcome {
        plaintext: Vec::new(),
        states: Vec::new(),
        result: Ok(()),
    };
    let mut suite: Option<AlgorithmSuite> = None;
    let mut deferred = false;
    let mut discarded = 0u64;
    let mut calls = 0usize;
    let max_calls = msg.len().saturating_mul(2).saturating_add(16);
    loop {
        calls += 1;
        assert!(calls <= max_calls, "decryptor makes no progress");
        let eof = fed == msg.len();
        let buffered = buf.len();
        let log_before = log.borrow().len();
        let mut wants: Option<usize> = None;
        let mut finished = false;
        let discard = {
            let st = dec.process(&mut buf, eof);
            let discard = st.discard;
            assert!(discard <= buffered, "discard {discard} > input {buffered}");
            match st.state {
                Ok(DecryptState::NeedInput { min_len }) => {
                    assert!(!eof, "NeedInput after end of input");
                    assert!(min_len > buffered, "min_len {min_len} <= {buffered}");
                    assert_eq!(discard, 0);
                    wants = Some(min_len);
                }
                Ok(DecryptState::NeedMaterials(req)) => {
                    assert!(!out.states.contains(&St::Header), "materials after header");
                    assert_eq!(discard, 0);
                    let n = out.states.iter().filter(|s| **s == St::Materials).count();
                    assert!(n == 0 || (n == 1 && deferred), "materials asked twice");
                    out.states.push(St::Materials);
                    suite = Some(req.suite());
                    if defer == Defer::Once && !deferred {
                        deferred = true;
                        req.defer();
                    } else {
                        answer(req);
                    }
                }
                Ok(DecryptState::HeaderVerified(h)) => {
                    assert_eq!(
                        out.states.last(),
                        Some(&St::Materials),
                        "header out of order"
                    );
                    assert_eq!(discard, h.len(), "header discard");
                    assert_eq!(Some(h.suite()), suite);
                    out.states.push(St::Header);
                }
                Ok(DecryptState::Plaintext(p)) => {
                    assert!(out.states.contains(&St::Header), "plaintext before header");
                    assert!(discard > p.len(), "a frame is longer than its plaintext");
                    let log = log.borrow();
                    assert!(
                        log.iter().all(|e| match e {
                            Event::Open { ok, .. } | Event::Verify { ok } => *ok,
                        }),
                        "plaintext released after a failed authentication: {log:?}"
                    );
                    match log.get(log_before..).and_then(<[Event]>::last) {
                        Some(Event::Open {
                            ok: true,
                            plaintext,
                        }) => {
                            assert_eq!(plaintext.as_slice(), &*p, "released bytes differ")
                        }
                        other => panic!("plaintext released without an open: {other:?}"),
                    }
                    out.states.push(St::Plaintext);
                    out.plaintext.extend_from_slice(&p);
                }
                Ok(DecryptState::Done) => {
                    assert!(eof, "Done before end of input");
                    assert!(
                        out.states.last() == Some(&St::Plaintext),
                        "Done without plaintext"
                    );
                    assert_eq!(discard, 0);
                    out.states.push(St::Done);
                    finished = true;
                }
                Ok(_) => panic!("unknown state"),
                Err(e) => {
                    assert_eq!(discard, 0);
                    out.result = Err(e);
                    finished = true;
                }
            }
            discard
        };
        buf.drain(..discard);
        discarded += discard as u64;
        if finished {
            break;
        }
        let remaining = msg.len() - fed;
        let chunk = |next: &mut usize, min: usize| -> usize {
            let Some(&s) = feed.sizes.get(*next % feed.sizes.len().max(1)) else {
                return remaining;
            };
            *next += 1;
            if s == 0 { min } else { usize::from(s) }
        };
        let n = match wants {
            Some(min_len) => chunk(&mut next_size, min_len - buf.len()).max(1),
            None if feed.eager && remaining > 0 => chunk(&mut next_size, 1),
            None => 0,
        }
        .min(remaining);
        buf.extend_from_slice(&msg[fed..fed + n]);
        fed += n;
    }
    // Sticky errors, final Done.
    let eof = fed == msg.len();
    {
        let again = dec.process(&mut buf, eof);
        assert_eq!(again.discard, 0);
        match (&out.result, again.state) {
            (Ok(()), Err(Error::Usage(UsageError::AlreadyDone))) => {}
            (Err(e), Err(e2)) => assert_eq!(*e, e2, "error not sticky"),
            (r, s) => panic!("after {r:?}: {:?}", s.err()),
        }
    }
    // Statistics and the log agree with what was seen.
    let stats = dec.stats();
    let released = out.states.iter().filter(|s| **s == St::Plaintext).count();
    assert_eq!(stats.released, out.plaintext.len() as u64);
    assert_eq!(stats.frames, released as u64);
    assert_eq!(stats.consumed, discarded);
    let log = log.borrow();
    let opened = log
        .iter()
        .filter(|e| matches!(e, Event::Open { ok: true, .. }))
        .count();
    assert_eq!(opened, released, "opens and releases differ");
    if out.result.is_ok() {
        assert!(log.iter().all(|e| match e {
            Event::Open { ok, .. } | Event::Verify { ok } => *ok,
        }));
        let verified = log.contains(&Event::Verify { ok: true });
        let signed = suite.is_some_and(|s| s.is_signed());
        assert_eq!(verified, signed, "signature checked iff the suite signs");
        assert!(buf.is_empty() && eof, "Done with bytes left");
    }
    out
}
