//! Ticket numbers: `PREFIX-YYYYMMDD-XXXXXXXX` with 8 random Crockford base32 characters.

use chrono::{DateTime, Utc};
use rand::Rng;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh number for a ticket created at `at`.
pub fn generate(prefix: &str, at: DateTime<Utc>, rng: &mut impl Rng) -> String {
    let mut out = format!("{}-{}-", prefix, at.format("%Y%m%d"));
    for _ in 0..8 {
        out.push(CROCKFORD[rng.random_range(0..32)] as char);
    }
    out
}

/// True when `s` has the shape of a ticket number with this prefix.
pub fn looks_like(prefix: &str, s: &str) -> bool {
    let Some(rest) = s.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    let bytes = rest.as_bytes();
    bytes.len() == 17
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'-'
        && bytes[9..].iter().all(|b| CROCKFORD.contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn numbers_have_the_spec_shape() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let mut rng = rand::rng();
        let n = generate("TKT", at, &mut rng);
        assert!(n.starts_with("TKT-20261121-"), "{n}");
        assert_eq!(n.len(), "TKT-20261121-".len() + 8);
        assert!(looks_like("TKT", &n));
        assert!(!n.contains(['I', 'L', 'O', 'U']));
        assert!(!looks_like("TKT", "TKT-2026112-ABCDEFGH"));
        assert!(!looks_like("TKT", "TKT-20261121-ABCDEFGU"));
        assert!(!looks_like("HD", &n));
    }

    #[test]
    fn numbers_are_random() {
        let at = Utc::now();
        let mut rng = rand::rng();
        let set: std::collections::HashSet<_> =
            (0..1000).map(|_| generate("TKT", at, &mut rng)).collect();
        assert_eq!(set.len(), 1000);
    }
}
