//! Threading identifiers Triage writes into mail and recognises when it comes back: signed
//! Message-IDs, the per-ticket thread anchor, signed reply-to plus-addresses and the
//! `[TKT-…]` subject tag. Message-IDs are handled without angle brackets.

use crate::auth::tokens::Keys;
use crate::tickets::number;

const TAG_LEN: usize = 16;
const PLUS_TAG_LEN: usize = 10;

/// A fresh Message-ID for one outgoing message about a ticket; `nonce` makes it unique
/// (derived from the delivery key, so a re-delivery reuses it).
pub fn message_id(keys: &Keys, domain: &str, ticket_id: i64, nonce: &str) -> String {
    let nonce: String = nonce
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect::<String>()
        .to_ascii_lowercase();
    let tag = keys.short_tag(&format!("mid:{ticket_id}.{nonce}"), TAG_LEN);
    format!("triage.{ticket_id}.{nonce}.{tag}@{domain}")
}

/// The ticket's thread anchor: referenced by every message about it so clients keep one thread.
pub fn anchor(keys: &Keys, domain: &str, ticket_id: i64) -> String {
    message_id(keys, domain, ticket_id, "t")
}

/// The ticket a Message-ID made by Triage belongs to, if its signature checks out.
pub fn verify(keys: &Keys, id: &str) -> Option<i64> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let local = id.split('@').next()?;
    let mut parts = local.split('.');
    if parts.next()? != "triage" {
        return None;
    }
    let ticket: i64 = parts.next()?.parse().ok()?;
    let nonce = parts.next()?;
    let tag = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    keys.verify_short_tag(&format!("mid:{ticket}.{nonce}"), tag)
        .then_some(ticket)
}

/// `support+tkt-20261121-7k2m9qxd.<tag>@example.com`: replies to it reach the ticket even when a
/// client drops every threading header. Lower case, because some servers fold the local part.
pub fn reply_address(keys: &Keys, support: &str, ticket_number: &str) -> Option<String> {
    let (local, domain) = support.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    let n = ticket_number.to_ascii_lowercase();
    let tag = keys.short_tag(&format!("plus:{n}"), PLUS_TAG_LEN);
    Some(format!("{local}+{n}.{tag}@{domain}"))
}

/// A ticket number carried by a plus-address, and whether its signature is valid.
pub fn parse_reply_address(keys: &Keys, prefix: &str, addr: &str) -> Option<(String, bool)> {
    let local = addr.rsplit_once('@')?.0;
    let (_, detail) = local.split_once('+')?;
    let (n, tag) = match detail.rsplit_once('.') {
        Some((n, tag)) => (n, Some(tag)),
        None => (detail, None),
    };
    let number = n.to_ascii_uppercase();
    if !number::looks_like(prefix, &number) {
        return None;
    }
    let signed =
        tag.is_some_and(|t| keys.verify_short_tag(&format!("plus:{}", n.to_ascii_lowercase()), t));
    Some((number, signed))
}

/// The ticket number in a `[PREFIX-…]` subject tag, if any.
pub fn subject_tag(prefix: &str, subject: &str) -> Option<String> {
    let mut rest = subject;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inner = after[..close].trim().to_ascii_uppercase();
        if number::looks_like(prefix, &inner) {
            return Some(inner);
        }
        rest = &after[close..];
    }
    None
}

/// The subject of outgoing mail: the ticket subject with its tag in front (kept once).
pub fn tagged_subject(number: &str, subject: &str) -> String {
    let tag = format!("[{number}]");
    if subject.contains(&tag) {
        subject.to_string()
    } else {
        format!("{tag} {subject}")
    }
}

/// A subject with reply/forward prefixes (in several languages) and ticket tags removed.
pub fn clean_subject(prefix: &str, subject: &str) -> String {
    let mut s = subject.trim().to_string();
    if let Some(n) = subject_tag(prefix, &s) {
        let lower = s.to_ascii_uppercase();
        if let Some(i) = lower.find(&format!("[{n}]")) {
            s.replace_range(i..i + n.len() + 2, "");
        }
    }
    const PREFIXES: &[&str] = &[
        "re:", "fw:", "fwd:", "aw:", "wg:", "sv:", "vs:", "tr:", "rif:", "r:", "回复:", "答复:",
        "转发:",
    ];
    loop {
        let trimmed = s.trim_start();
        let cut = PREFIXES.iter().find_map(|p| {
            let n = p.chars().count();
            let head: String = trimmed.chars().take(n).collect();
            (head.to_lowercase() == *p).then_some(head.len())
        });
        match cut {
            Some(bytes) => s = trimmed[bytes..].to_string(),
            None => break,
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The domain for Message-IDs: the sender's, else the support address's, else the base URL's host.
pub fn domain(mail_from: &str, support: &str, base_url: &str) -> String {
    let from_addr = |s: &str| {
        let s = s.trim();
        let s = match (s.rfind('<'), s.rfind('>')) {
            (Some(a), Some(b)) if b > a => &s[a + 1..b],
            _ => s,
        };
        s.rsplit_once('@')
            .map(|(_, d)| d.trim().to_ascii_lowercase())
    };
    if let Some(d) = from_addr(mail_from).or_else(|| from_addr(support)) {
        return d;
    }
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if host.is_empty() {
        "triage.localhost".into()
    } else {
        host.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new("test-secret")
    }

    #[test]
    fn own_message_ids_verify_and_forgeries_do_not() {
        let k = keys();
        let id = message_id(&k, "example.com", 42, "5f1c-77aa");
        assert!(id.starts_with("triage.42.5f1c77aa."), "{id}");
        assert_eq!(verify(&k, &id), Some(42));
        assert_eq!(verify(&k, &format!("<{id}>")), Some(42));
        let forged = id.replacen("triage.42.", "triage.43.", 1);
        assert_eq!(verify(&k, &forged), None);
        assert_eq!(verify(&Keys::new("other"), &id), None);
        assert_eq!(verify(&k, "CAFoo123@mail.gmail.com"), None);
        assert_eq!(verify(&k, "triage.1.x@y"), None);
        assert_eq!(anchor(&k, "d", 7), anchor(&k, "d", 7));
    }

    #[test]
    fn plus_addresses_round_trip_in_any_case() {
        let k = keys();
        let a = reply_address(&k, "help+old@example.com", "TKT-20261121-7K2M9QXD").unwrap();
        assert!(a.starts_with("help+tkt-20261121-7k2m9qxd."), "{a}");
        let parsed = parse_reply_address(&k, "TKT", &a).unwrap();
        assert_eq!(parsed, ("TKT-20261121-7K2M9QXD".into(), true));
        let upper = parse_reply_address(&k, "TKT", &a.to_ascii_uppercase()).unwrap();
        assert!(upper.1);
        let unsigned = parse_reply_address(&k, "TKT", "help+tkt-20261121-7k2m9qxd@example.com");
        assert_eq!(unsigned, Some(("TKT-20261121-7K2M9QXD".into(), false)));
        assert_eq!(
            parse_reply_address(&k, "TKT", "help+sales@example.com"),
            None
        );
    }

    #[test]
    fn subject_tags_are_found_and_cleaned() {
        let s = "Re: AW: [tkt-20261121-7K2M9QXD] Printer on fire";
        assert_eq!(
            subject_tag("TKT", s).as_deref(),
            Some("TKT-20261121-7K2M9QXD")
        );
        assert_eq!(subject_tag("TKT", "[urgent] [TKT-1] hi"), None);
        assert_eq!(clean_subject("TKT", s), "Printer on fire");
        assert_eq!(clean_subject("TKT", "Fwd: RE: Invoice"), "Invoice");
        assert_eq!(
            tagged_subject("TKT-20261121-7K2M9QXD", "Hi"),
            "[TKT-20261121-7K2M9QXD] Hi"
        );
    }

    #[test]
    fn domain_prefers_the_sender() {
        assert_eq!(domain("Help <help@Acme.test>", "", ""), "acme.test");
        assert_eq!(domain("", "s@b.test", ""), "b.test");
        assert_eq!(
            domain("", "", "https://desk.example.org:8443/x"),
            "desk.example.org"
        );
        assert_eq!(domain("", "", ""), "triage.localhost");
    }
}
