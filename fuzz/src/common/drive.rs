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
use esdk_core::{AlgorithmSuite, DecryptConfig, Decryptor, Error, VecInput};

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
///
/// The input loop is core's [`VecInput`] (it applies discards and compacts), so the fuzzer also
/// drives the helper every other driver uses. The decryptor's discard contract is still checked
/// on every call, which is the point of this driver: each state's discard is read back as the
/// drop in [`VecInput::buffered`] across the step (the helper leaves it pending until the next
/// step), and a discard past the end of the input surfaces as the helper's
/// `Error::Internal`, which fails the run.
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
    let mut input = VecInput::new(usize::MAX);
    let mut fed = 0usize;
    if feed.sizes.is_empty() {
        push(&mut input, msg);
        fed = msg.len();
    }
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
        if eof {
            input.set_eof();
        }
        let buffered = input.buffered();
        let log_before = log.borrow().len();
        let mut wants: Option<usize> = None;
        let mut finished = false;
        // What the state says its discard must be: exactly, or more than.
        let mut discard_is: Option<usize> = None;
        let mut discard_above: Option<usize> = None;
        match input.process(&mut dec) {
            Ok(DecryptState::NeedInput { min_len }) => {
                assert!(!eof, "NeedInput after end of input");
                assert!(min_len > buffered, "min_len {min_len} <= {buffered}");
                discard_is = Some(0);
                wants = Some(min_len);
            }
            Ok(DecryptState::NeedMaterials(req)) => {
                assert!(!out.states.contains(&St::Header), "materials after header");
                discard_is = Some(0);
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
                discard_is = Some(h.len());
                assert_eq!(Some(h.suite()), suite);
                out.states.push(St::Header);
            }
            Ok(DecryptState::Plaintext(p)) => {
                assert!(out.states.contains(&St::Header), "plaintext before header");
                discard_above = Some(p.len());
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
                discard_is = Some(0);
                out.states.push(St::Done);
                finished = true;
            }
            Ok(_) => panic!("unknown state"),
            Err(e) => {
                assert!(
                    !matches!(e, Error::Internal(_)),
                    "input bookkeeping broke (a discard past the input?): {e:?}"
                );
                discard_is = Some(0);
                out.result = Err(e);
                finished = true;
            }
        }
        // The state's discard, pending in the helper until the next step.
        let discard = buffered - input.buffered();
        if let Some(d) = discard_is {
            assert_eq!(discard, d, "discard of {:?}", out.states.last());
        }
        if let Some(len) = discard_above {
            assert!(discard > len, "a frame is longer than its plaintext");
        }
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
        let left = buffered - discard;
        let n = match wants {
            Some(min_len) => chunk(&mut next_size, min_len - left).max(1),
            None if feed.eager && remaining > 0 => chunk(&mut next_size, 1),
            None => 0,
        }
        .min(remaining);
        push(&mut input, &msg[fed..fed + n]);
        fed += n;
    }
    // Sticky errors, final Done (the helper first applies the last discard: one past the end
    // of the input would show here as `Error::Internal`).
    let eof = fed == msg.len();
    {
        let left = input.buffered();
        let again = input.process(&mut dec);
        match (&out.result, again) {
            (Ok(()), Err(Error::Usage(UsageError::AlreadyDone))) => {}
            (Err(e), Err(e2)) => assert_eq!(*e, e2, "error not sticky"),
            (r, s) => panic!("after {r:?}: {:?}", s.err()),
        }
        assert_eq!(input.buffered(), left, "a refused step discarded input");
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
        assert!(input.buffered() == 0 && eof, "Done with bytes left");
    }
    out
}

/// Appends `data` to the input (the buffer is unbounded here, so this cannot fail).
fn push(input: &mut VecInput, data: &[u8]) {
    if let Err(e) = input.push(data) {
        panic!("unbounded input refused {} bytes: {e:?}", data.len());
    }
}
