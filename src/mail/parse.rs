//! Turns raw RFC 822 bytes into what intake needs (mail-parser does the MIME and charset work).

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::classify::Facts;

/// One attached file.
#[derive(Debug, Clone)]
pub struct ParsedAttachment {
    /// File name (a generated one when the part has none).
    pub filename: String,
    /// Declared MIME type.
    pub content_type: String,
    /// Content-ID of an inline part (an image a `multipart/related` HTML body shows).
    pub inline_cid: Option<String>,
    /// Decoded bytes.
    pub bytes: Vec<u8>,
}

/// A parsed inbound message.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids.
    pub in_reply_to: Vec<String>,
    /// References ids, oldest first.
    pub references: Vec<String>,
    /// Sender (name, address lower case): From, or Reply-To when From is a no-reply address.
    pub sender: Option<(String, String)>,
    /// Every recipient address (To and Cc), lower case.
    pub recipients: Vec<String>,
    /// Subject (empty when missing).
    pub subject: String,
    /// Plain-text body (HTML-only mail converted to text).
    pub text: String,
    /// Attachments and inline images.
    pub attachments: Vec<ParsedAttachment>,
    /// What the classifier looks at.
    pub facts: Facts,
    /// Message-IDs quoted inside the body (a bounce names the message that failed).
    pub body_message_ids: Vec<String>,
    /// A bounce's status and diagnostic lines.
    pub diagnostic: String,
}

/// Parses a message; `None` when the bytes are not a message at all.
pub fn parse(raw: &[u8]) -> Option<Parsed> {
    // mail-parser 0.11 has a debug assertion that malformed MIME can reach (found by the fuzz
    // target): whatever a parser panics on is unreadable mail, not a crashed intake.
    let msg = std::panic::catch_unwind(|| MessageParser::default().parse(raw)).ok()??;
    if msg.headers().is_empty() {
        return None;
    }
    let addr = |a: Option<&mail_parser::Address>| {
        a.and_then(|a| a.first()).and_then(|a| {
            let email = a.address()?.trim().to_ascii_lowercase();
            email
                .contains('@')
                .then(|| (a.name().unwrap_or("").trim().to_string(), email))
        })
    };
    let from = addr(msg.from());
    let reply_to = addr(msg.reply_to());
    let sender = match (&from, reply_to) {
        (Some((_, f)), Some(r)) if super::classify::is_no_reply(f) => Some(r),
        (Some(f), _) => Some(f.clone()),
        (None, r) => r,
    };
    let mut recipients = Vec::new();
    for list in [msg.to(), msg.cc()].into_iter().flatten() {
        for a in list.iter() {
            if let Some(e) = a.address() {
                recipients.push(e.trim().to_ascii_lowercase());
            }
        }
    }
    let ids = |v: &mail_parser::HeaderValue| -> Vec<String> {
        match v {
            mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
            mail_parser::HeaderValue::TextList(l) => l.iter().map(|s| s.to_string()).collect(),
            _ => Vec::new(),
        }
    };
    let mut text_parts = Vec::new();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            let t = t.trim();
            if !t.is_empty() {
                text_parts.push(t.to_string());
            }
        }
    }
    let mut attachments = Vec::new();
    for (n, part) in msg.attachments().enumerate() {
        let bytes = match &part.body {
            PartType::Message(m) => m.raw_message().to_vec(),
            _ => part.contents().to_vec(),
        };
        let content_type = part
            .content_type()
            .map(|ct| match &ct.c_subtype {
                Some(st) => format!("{}/{}", ct.c_type, st).to_ascii_lowercase(),
                None => ct.c_type.to_ascii_lowercase(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let filename = part
            .attachment_name()
            .map(sanitize_filename)
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| format!("attachment-{}{}", n + 1, extension_for(&content_type)));
        attachments.push(ParsedAttachment {
            filename,
            content_type,
            inline_cid: part
                .content_id()
                .map(|c| c.trim_matches(['<', '>']).to_string()),
            bytes,
        });
    }
    let root_ct = msg.root_part().content_type();
    let facts = Facts {
        headers: msg
            .headers_raw()
            .map(|(n, v)| (n.to_ascii_lowercase(), unfold(v)))
            .collect(),
        from: from.as_ref().map(|f| f.1.clone()).unwrap_or_default(),
        subject: msg.subject().unwrap_or("").trim().to_string(),
        content_type: root_ct
            .map(|ct| {
                format!("{}/{}", ct.c_type, ct.c_subtype.as_deref().unwrap_or(""))
                    .to_ascii_lowercase()
            })
            .unwrap_or_else(|| "text/plain".into()),
        report_type: root_ct.and_then(|ct| ct.attribute("report-type").map(str::to_string)),
        own_message_id: false,
    };
    let body = &raw[raw.len().min(msg.root_part().raw_body_offset() as usize)..];
    let (body_message_ids, diagnostic) = scan_body(body);
    Some(Parsed {
        message_id: msg
            .message_id()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        sender,
        recipients,
        subject: facts.subject.clone(),
        text: text_parts.join("\n\n"),
        attachments,
        facts,
        body_message_ids,
        diagnostic,
    })
}

fn unfold(v: &str) -> String {
    v.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Message-IDs and DSN status lines found in a body (bounces quote the failed message).
fn scan_body(body: &[u8]) -> (Vec<String>, String) {
    let text = String::from_utf8_lossy(body);
    let mut ids = Vec::new();
    let mut diag = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("message-id:") {
            let start = l.len() - v.len();
            let id = l[start..].trim().trim_matches(['<', '>']).to_string();
            if !id.is_empty() && !ids.contains(&id) {
                ids.push(id);
            }
        }
        for key in ["status:", "diagnostic-code:", "final-recipient:", "action:"] {
            if lower.starts_with(key) && diag.len() < 8 {
                diag.push(l.to_string());
            }
        }
    }
    (ids, diag.join("\n"))
}

/// A safe file name: no directories, no control characters, at most 200 bytes.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut out: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | '|' | '*' | '?' | ':'))
        .collect();
    out = out.trim().trim_start_matches('.').to_string();
    while out.len() > 200 {
        out.pop();
    }
    out
}

fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "application/pdf" => ".pdf",
        "text/plain" => ".txt",
        "message/rfc822" => ".eml",
        _ => ".bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_specials() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\x\\report.pdf"), "report.pdf");
        assert_eq!(sanitize_filename("a\u{0}b?.txt"), "ab.txt");
        assert_eq!(sanitize_filename(".hidden"), "hidden");
    }

    #[test]
    fn garbage_is_not_a_message() {
        assert!(parse(b"").is_none());
    }

    #[test]
    fn fuzz_findings_do_not_panic() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz");
        for entry in std::fs::read_dir(dir).unwrap() {
            let raw = std::fs::read(entry.unwrap().path()).unwrap();
            let _ = parse(&raw);
        }
    }
}
