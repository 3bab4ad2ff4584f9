//! Splits a reply into what the sender wrote and the quoted history, so the thread shows the
//! new text and keeps the rest collapsed. Handles top-posting (Outlook, Gmail, Apple Mail),
//! bottom-posting and interleaved `>` quoting.

/// A reply's new text and the collapsed quoted history (`None` when nothing was quoted).
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    /// What the sender wrote.
    pub reply: String,
    /// The quoted earlier messages.
    pub quoted: Option<String>,
}

/// Splits `text`; when everything looks quoted, the whole text is kept as the reply.
pub fn split(text: &str) -> Split {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    if let Some(cut) = header_block_start(&lines) {
        let reply = tidy(&lines[..cut]);
        let quoted = tidy(&lines[cut..]);
        if !reply.is_empty() {
            return Split {
                reply,
                quoted: (!quoted.is_empty()).then_some(quoted),
            };
        }
    }
    let mut reply = Vec::new();
    let mut quoted = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let span = attribution_span(&lines, i);
        if span > 0
            && lines
                .get(i + span)
                .is_some_and(|l| is_quote(l) || l.trim().is_empty())
        {
            quoted.extend_from_slice(&lines[i..i + span]);
            i += span;
            continue;
        }
        if is_quote(lines[i]) {
            quoted.push(lines[i]);
        } else {
            reply.push(lines[i]);
        }
        i += 1;
    }
    let (reply, quoted) = (tidy(&reply), tidy(&quoted));
    if reply.is_empty() || quoted.is_empty() {
        return Split {
            reply: tidy(&lines),
            quoted: None,
        };
    }
    Split {
        reply,
        quoted: Some(quoted),
    }
}

fn is_quote(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Lines (1 or 2) of an attribution such as "On Tue, … Ada <a@b> wrote:" starting at `i`.
fn attribution_span(lines: &[&str], i: usize) -> usize {
    const OPENS: &[&str] = &["On ", "Am ", "Le ", "El ", "Il ", "Op ", "Em ", "W dniu "];
    const VERBS: &[&str] = &[
        "wrote",
        "schrieb",
        "a écrit",
        "escribió",
        "ha scritto",
        "schreef",
        "escreveu",
        "napisał",
        "写道",
    ];
    let says = |s: &str| {
        let s = s.trim_end();
        (s.ends_with(':') || s.ends_with('：')) && VERBS.iter().any(|v| s.contains(v))
    };
    let first = lines[i].trim();
    if says(first) && (OPENS.iter().any(|o| first.starts_with(o)) || first.ends_with("wrote:")) {
        return 1;
    }
    if !OPENS.iter().any(|o| first.starts_with(o)) {
        return 0;
    }
    match lines.get(i + 1) {
        Some(next) if says(next) && !is_quote(next) => 2,
        _ => 0,
    }
}

/// Where an Outlook-style quoted header block ("-----Original Message-----", or From:/Sent:/
/// Subject: lines) begins; everything from there on is history.
fn header_block_start(lines: &[&str]) -> Option<usize> {
    for (i, raw) in lines.iter().enumerate() {
        let l = raw.trim();
        let lower = l.to_lowercase();
        if lower.starts_with("-----original message-----")
            || lower.starts_with("----- original message -----")
            || lower == "-------- original message --------"
        {
            return Some(i);
        }
        let is_from = ["from:", "von:", "de:", "van:", "da:"]
            .iter()
            .any(|p| lower.starts_with(p));
        if is_from {
            let window: Vec<String> = lines[i + 1..lines.len().min(i + 6)]
                .iter()
                .map(|s| s.trim().to_lowercase())
                .collect();
            let has = |keys: &[&str]| window.iter().any(|w| keys.iter().any(|k| w.starts_with(k)));
            if has(&[
                "sent:",
                "gesendet:",
                "envoyé :",
                "envoyé:",
                "date:",
                "datum:",
            ]) && has(&["subject:", "betreff:", "objet :", "objet:", "asunto:"])
            {
                let start = if i > 0
                    && lines[i - 1].trim().chars().all(|c| c == '_')
                    && !lines[i - 1].trim().is_empty()
                {
                    i - 1
                } else {
                    i
                };
                return Some(start);
            }
        }
    }
    None
}

fn tidy(lines: &[&str]) -> String {
    let start = lines.iter().position(|l| !l.trim().is_empty());
    let end = lines.iter().rposition(|l| !l.trim().is_empty());
    match (start, end) {
        (Some(s), Some(e)) => lines[s..=e]
            .iter()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_top_posting() {
        let s = split(
            "Thanks, that worked!\n\nOn Tue, Nov 17, 2026 at 10:00 AM Support <s@x.com> wrote:\n> Try restarting.\n> Regards",
        );
        assert_eq!(s.reply, "Thanks, that worked!");
        assert!(s.quoted.unwrap().contains("Try restarting."));
    }

    #[test]
    fn wrapped_attribution_and_bottom_posting() {
        let s = split(
            "On Tue, Nov 17, 2026 at 10:00 AM Support Team <\nsupport@x.com> wrote:\n> Did that help?\n\nNo, still broken.",
        );
        assert_eq!(s.reply, "No, still broken.");
        assert!(s.quoted.unwrap().starts_with("On Tue"));
    }

    #[test]
    fn interleaved_answers_keep_both_sides_apart() {
        let s = split("> What version?\n2.3\n> Which OS?\nLinux");
        assert_eq!(s.reply, "2.3\nLinux");
        assert_eq!(s.quoted.unwrap(), "> What version?\n> Which OS?");
    }

    #[test]
    fn outlook_header_block() {
        let s = split(
            "Still failing.\n\n________________________________\nFrom: Support <s@x.com>\nSent: Monday, November 16, 2026 9:00 AM\nTo: Ada\nSubject: RE: [TKT-1] VPN\n\nPlease try again.",
        );
        assert_eq!(s.reply, "Still failing.");
        assert!(s.quoted.unwrap().starts_with("______"));
    }

    #[test]
    fn german_and_original_message_markers() {
        let s = split("Danke!\n\nAm 17.11.2026 um 10:00 schrieb Support <s@x.com>:\n> Hallo");
        assert_eq!(s.reply, "Danke!");
        let s = split("ok\n-----Original Message-----\nFrom: a\nold text");
        assert_eq!(s.reply, "ok");
    }

    #[test]
    fn unquoted_text_is_untouched() {
        let s = split("Hello,\n\nmy printer is on fire.\n\nAda");
        assert_eq!(s.reply, "Hello,\n\nmy printer is on fire.\n\nAda");
        assert_eq!(s.quoted, None);
        let only = split("> just a quote");
        assert_eq!(only.reply, "> just a quote");
    }
}
