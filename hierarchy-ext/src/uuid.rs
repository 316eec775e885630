//! Version 4 UUIDs (branch key ids and versions) and their 16-byte form (the version field of
//! hierarchical EDKs), and the key store's ISO 8601 timestamps.

use rand_core::{OsRng, RngCore as _};

/// A fresh random (version 4, RFC 4122 variant) UUID in its canonical lower-case text form.
pub fn new_v4() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format(&b)
}

/// `8-4-4-4-12` lower-case hex.
pub fn format(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Parses the canonical `8-4-4-4-12` form (either case) into 16 bytes; `None` otherwise.
pub fn parse(s: &str) -> Option<[u8; 16]> {
    let s = s.as_bytes();
    if s.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut n = 0usize;
    let mut hi: Option<u8> = None;
    for (i, &c) in s.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        match hi.take() {
            None => hi = Some(v),
            Some(h) => {
                *out.get_mut(n)? = (h << 4) | v;
                n += 1;
            }
        }
    }
    (n == 16).then_some(out)
}

/// Now, as the key store writes it: ISO 8601 in UTC to the microsecond,
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn timestamp_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    timestamp(d.as_secs(), d.subsec_micros())
}

/// `secs` since the Unix epoch (UTC) plus `micros`, formatted like [`timestamp_now`].
pub fn timestamp(secs: u64, micros: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of `days` after 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_round_trip_and_v4_bits() {
        for _ in 0..100 {
            let u = new_v4();
            let b = parse(&u).unwrap();
            assert_eq!(b[6] >> 4, 4);
            assert_eq!(b[8] >> 6, 2);
            assert_eq!(format(&b), u);
        }
        assert_eq!(
            parse("83EEC007-5659-4554-BF11-699B90F41AC6")
                .map(|b| format(&b))
                .as_deref(),
            Some("83eec007-5659-4554-bf11-699b90f41ac6")
        );
        for bad in [
            "",
            "83eec007-5659-4554-bf11-699b90f41ac",
            "83eec007-5659-4554-bf11-699b90f41ac6x",
            "83eec007x5659-4554-bf11-699b90f41ac6",
            "83eec007-5659-4554-bf11-699b90f41ag6",
            "83eec007-5659-4554-bf11-699b90f41aé",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            timestamp(1_685_818_909, 358_000),
            "2023-06-03T19:01:49.358000Z"
        );
        assert_eq!(timestamp(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
        assert_eq!(
            timestamp(4_102_444_799, 999_999),
            "2099-12-31T23:59:59.999999Z"
        );
    }
}
