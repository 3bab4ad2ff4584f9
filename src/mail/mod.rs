//! E-mail in and out. Intake (`inbound`) threads replies by, in order: In-Reply-To/References
//! against stored Message-IDs, Triage's own signed Message-ID, the signed plus-address, and
//! the subject tag (only from the requester or staff). Automatic mail never opens tickets.

pub mod classify;
pub mod ids;
pub mod imap;

pub mod inbound;
mod opening;
pub mod outbound;
pub mod parse;
pub mod quote;
pub mod templates;

use crate::context::Ctx;

/// The domain used in Triage's Message-IDs.
pub fn domain(ctx: &Ctx) -> String {
    let c = &ctx.config;
    ids::domain(&c.mail_from, &c.support_address, &c.public_base_url())
}

/// The bare address of `TRIAGE_MAIL_FROM` (which may be `Name <addr>`), lower case.
pub fn bare_address(s: &str) -> Option<String> {
    let s = s.trim();
    let s = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if b > a => &s[a + 1..b],
        _ => s,
    };
    s.contains('@').then(|| s.trim().to_ascii_lowercase())
}

/// Runs every pure step of intake on raw bytes (parse, classify, split quotes, read threading
/// identifiers, sniff attachments) without touching storage: the fuzz target's entry point.
pub fn examine(
    raw: &[u8],
    keys: &crate::auth::tokens::Keys,
    prefix: &str,
) -> Option<classify::Kind> {
    let mut p = parse::parse(raw)?;
    p.facts.own_message_id = p
        .message_id
        .as_deref()
        .is_some_and(|m| ids::verify(keys, m).is_some());
    let kind = classify::classify(&p.facts);
    let split = quote::split(&p.text);
    debug_assert!(split.reply.len() <= p.text.len() + 1);
    let _ = ids::subject_tag(prefix, &p.subject);
    let _ = ids::clean_subject(prefix, &p.subject);
    for r in &p.recipients {
        let _ = ids::parse_reply_address(keys, prefix, r);
    }
    for id in p.in_reply_to.iter().chain(p.references.iter()) {
        let _ = ids::verify(keys, id);
    }
    for a in &p.attachments {
        let _ = crate::attachments::sniff(&a.bytes, &a.filename);
        let _ = parse::sanitize_filename(&a.filename);
    }
    Some(kind)
}
