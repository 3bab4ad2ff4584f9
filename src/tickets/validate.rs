//! Field rules for tickets, shared by the API and the pages; every error is collected.

use crate::error::{FieldErrors, push};

use super::model::Priority;

/// Checks and trims a subject (3–200 chars).
pub fn subject(errors: &mut FieldErrors, raw: &str) -> String {
    let s = raw.trim();
    let n = s.chars().count();
    if !(3..=200).contains(&n) {
        push(errors, "subject", "must be 3 to 200 characters");
    }
    s.to_string()
}

/// Checks and trims a description (10–5000 chars); `field` names it in errors.
pub fn description(errors: &mut FieldErrors, field: &str, raw: &str) -> String {
    let s = raw.trim();
    let n = s.chars().count();
    if !(10..=5000).contains(&n) {
        push(errors, field, "must be 10 to 5000 characters");
    }
    s.to_string()
}

/// Parses a priority, defaulting to medium when absent.
pub fn priority(errors: &mut FieldErrors, raw: Option<&str>) -> Priority {
    match raw {
        None => Priority::Medium,
        Some(p) => Priority::parse(p.trim()).unwrap_or_else(|| {
            push(
                errors,
                "priority",
                format!("must be one of: {}", Priority::choices()),
            );
            Priority::Medium
        }),
    }
}

/// Checks a category slug against the active categories.
pub fn category(errors: &mut FieldErrors, raw: &str, active: &[String]) -> String {
    let c = raw.trim().to_lowercase();
    if !active.contains(&c) {
        push(
            errors,
            "category",
            format!("must be one of: {}", active.join(", ")),
        );
    }
    c
}

/// Normalises tags: trimmed, lower-cased, de-duplicated; 1–50 chars of letters, digits, `-_.:`; at most 20.
pub fn tags(errors: &mut FieldErrors, raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = t.trim().to_lowercase();
        let ok = (1..=50).contains(&t.chars().count())
            && t.chars().all(|c| c.is_alphanumeric() || "-_.:".contains(c));
        if !ok {
            push(
                errors,
                "tags",
                format!("invalid tag {t:?}: 1 to 50 letters, digits or -_.:"),
            );
        } else if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > 20 {
        push(errors, "tags", "at most 20 tags");
    }
    out
}

/// Checks an optional free-text context field (page URL, browser info) against a length cap.
pub fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Option<String> {
    let s = raw.map(str::trim).filter(|s| !s.is_empty())?;
    if s.chars().count() > max {
        push(errors, field, format!("must be at most {max} characters"));
    }
    Some(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_exact() {
        let mut e = FieldErrors::new();
        assert_eq!(subject(&mut e, "  abc "), "abc");
        description(&mut e, "description", &"x".repeat(10));
        description(&mut e, "description", &"x".repeat(5000));
        subject(&mut e, &"é".repeat(200));
        assert!(e.is_empty(), "{e:?}");
        subject(&mut e, "ab");
        subject(&mut e, &"x".repeat(201));
        description(&mut e, "description", "123456789");
        description(&mut e, "description", &"x".repeat(5001));
        assert_eq!(e["subject"].len(), 2);
        assert_eq!(e["description"].len(), 2);
    }

    #[test]
    fn tags_normalise() {
        let mut e = FieldErrors::new();
        let t = tags(&mut e, &["VPN".into(), "vpn ".into(), "billing-2".into()]);
        assert_eq!(t, vec!["vpn", "billing-2"]);
        tags(&mut e, &["has space".into()]);
        assert!(e.contains_key("tags"));
    }

    #[test]
    fn priority_default_and_errors() {
        let mut e = FieldErrors::new();
        assert_eq!(priority(&mut e, None), Priority::Medium);
        assert_eq!(priority(&mut e, Some("urgent")), Priority::Urgent);
        priority(&mut e, Some("critical"));
        assert!(e.contains_key("priority"));
    }
}
