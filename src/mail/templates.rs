//! Built-in e-mail templates (subject, plain text, HTML) rendered with minijinja; an admin may
//! override any of them (stored in `mail_templates`). HTML templates auto-escape every value.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::Serialize;

use crate::db::mail_entities::mail_template;
use crate::error::{Error, Result};

/// One template's three parts.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Template {
    /// Template name.
    pub name: String,
    /// Subject line (the `[TKT-…]` tag is added automatically).
    pub subject: String,
    /// Plain-text body.
    pub text_body: String,
    /// HTML body (placed inside the standard layout).
    pub html_body: String,
    /// Whether an admin changed it.
    pub overridden: bool,
}

/// (name, subject, text, html) of every built-in template.
const BUILT_IN: &[(&str, &str, &str, &str)] = &[
    (
        "ticket_created",
        "We received your request: {{ ticket.subject }}",
        "Hello {{ customer.name }},\n\nthank you for contacting us. Your request has been received as ticket {{ ticket.number }}; we will reply by e-mail.\n\nSubject: {{ ticket.subject }}\nPriority: {{ ticket.priority }}\n\nYou can follow it here: {{ ticket.url }}\nTo add information, simply reply to this e-mail.\n",
        "<p>Hello {{ customer.name }},</p><p>thank you for contacting us. Your request has been received as ticket <strong>{{ ticket.number }}</strong>; we will reply by e-mail.</p><p><em>{{ ticket.subject }}</em> · priority {{ ticket.priority }}</p><p><a href=\"{{ ticket.url }}\">Follow your ticket</a>. To add information, simply reply to this e-mail.</p>",
    ),
    (
        "ticket_created_team",
        "New ticket: {{ ticket.subject }}",
        "New {{ ticket.priority }} ticket {{ ticket.number }} in {{ ticket.category }} from {{ customer.name }} <{{ customer.email }}>:\n\n{{ ticket.description }}\n\nOpen it: {{ ticket.url }}\n",
        "<p>New <strong>{{ ticket.priority }}</strong> ticket {{ ticket.number }} in {{ ticket.category }} from {{ customer.name }} &lt;{{ customer.email }}&gt;:</p><blockquote style=\"white-space:pre-wrap\">{{ ticket.description }}</blockquote><p><a href=\"{{ ticket.url }}\">Open the ticket</a></p>",
    ),
    (
        "agent_reply",
        "Re: {{ ticket.subject }}",
        "{{ comment.body }}\n\n-- \n{{ agent.name }}\nTicket {{ ticket.number }} · {{ ticket.url }}\nReply to this e-mail to answer.\n",
        "<div style=\"white-space:pre-wrap\">{{ comment.body }}</div><p style=\"color:#555\">— {{ agent.name }}<br>Ticket {{ ticket.number }} · <a href=\"{{ ticket.url }}\">view online</a>. Reply to this e-mail to answer.</p>",
    ),
    (
        "customer_reply",
        "Re: {{ ticket.subject }}",
        "{{ customer.name }} replied on {{ ticket.number }} (status {{ ticket.status }}):\n\n{{ comment.body }}\n\nOpen it: {{ ticket.url }}\n",
        "<p>{{ customer.name }} replied on {{ ticket.number }} (status {{ ticket.status }}):</p><blockquote style=\"white-space:pre-wrap\">{{ comment.body }}</blockquote><p><a href=\"{{ ticket.url }}\">Open the ticket</a></p>",
    ),
    (
        "status_changed",
        "Status update: {{ ticket.subject }}",
        "Hello {{ customer.name }},\n\nyour ticket {{ ticket.number }} is now {{ status.new_label }} (was {{ status.old_label }}).\n{% if status.new == \"waiting\" %}We are waiting for information from you: please reply to this e-mail.\n{% endif %}\nFollow it here: {{ ticket.url }}\n",
        "<p>Hello {{ customer.name }},</p><p>your ticket {{ ticket.number }} is now <strong>{{ status.new_label }}</strong> (was {{ status.old_label }}).</p>{% if status.new == \"waiting\" %}<p>We are waiting for information from you: please reply to this e-mail.</p>{% endif %}<p><a href=\"{{ ticket.url }}\">Follow your ticket</a></p>",
    ),
    (
        "ticket_resolved",
        "Resolved: {{ ticket.subject }}",
        "Hello {{ customer.name }},\n\nwe have resolved your ticket {{ ticket.number }}.{% if ticket.resolution %}\n\n{{ ticket.resolution }}{% endif %}\n\nIf the problem is not solved, simply reply to this e-mail and the ticket reopens.\n{{ ticket.url }}\n{% if rate_url %}\nHow did we do? Rate us from 1 (poor) to 5 (excellent):\n{% for i in range(5, 0, -1) %}{{ i }}: {{ rate_url }}&score={{ i }}#rate\n{% endfor %}{% endif %}",
        "<p>Hello {{ customer.name }},</p><p>we have resolved your ticket {{ ticket.number }}.</p>{% if ticket.resolution %}<blockquote style=\"white-space:pre-wrap\">{{ ticket.resolution }}</blockquote>{% endif %}<p>If the problem is not solved, simply reply to this e-mail and the ticket reopens. <a href=\"{{ ticket.url }}\">View the ticket</a></p>{% if rate_url %}<p>How did we do?</p><p>{% for i in range(5, 0, -1) %}<a href=\"{{ rate_url }}&amp;score={{ i }}#rate\" style=\"display:inline-block;padding:6px 12px;margin:2px;border:1px solid #d0d7de;border-radius:6px;text-decoration:none\">{{ i }}{% if i == 5 %} · excellent{% elif i == 1 %} · poor{% endif %}</a>{% endfor %}</p>{% endif %}",
    ),
    (
        "ticket_assigned",
        "Assigned to you: {{ ticket.subject }}",
        "{{ agent.name }}, ticket {{ ticket.number }} ({{ ticket.priority }}, {{ ticket.category }}) from {{ customer.name }} is now yours.\n\n{{ ticket.description }}\n\nOpen it: {{ ticket.url }}\n",
        "<p>{{ agent.name }}, ticket {{ ticket.number }} ({{ ticket.priority }}, {{ ticket.category }}) from {{ customer.name }} is now yours.</p><blockquote style=\"white-space:pre-wrap\">{{ ticket.description }}</blockquote><p><a href=\"{{ ticket.url }}\">Open the ticket</a></p>",
    ),
    (
        "ticket_merged",
        "Merged into {{ merged_into.number }}: {{ ticket.subject }}",
        "Hello {{ customer.name }},\n\nyour request {{ ticket.number }} ({{ ticket.subject }}) is about the same matter as {{ merged_into.number }} ({{ merged_into.subject }}), so we have combined them. Its messages and files are now part of {{ merged_into.number }}; we will continue there.\n\nFollow it here: {{ merged_into.url }}\nReplies to earlier e-mails still reach us.\n",
        "<p>Hello {{ customer.name }},</p><p>your request {{ ticket.number }} (<em>{{ ticket.subject }}</em>) is about the same matter as <strong>{{ merged_into.number }}</strong> (<em>{{ merged_into.subject }}</em>), so we have combined them. Its messages and files are now part of {{ merged_into.number }}; we will continue there.</p><p><a href=\"{{ merged_into.url }}\">Follow {{ merged_into.number }}</a>. Replies to earlier e-mails still reach us.</p>",
    ),
    (
        "sla_warning",
        "SLA warning: {{ ticket.subject }}",
        "Ticket {{ ticket.number }} ({{ ticket.priority }}) from {{ customer.name }} is close to its {{ sla.clock }} due time: {{ sla.due_at }}.\n\nStatus: {{ ticket.status }}\nOpen it: {{ ticket.url }}\n",
        "<p>Ticket <strong>{{ ticket.number }}</strong> ({{ ticket.priority }}) from {{ customer.name }} is close to its {{ sla.clock }} due time: <strong>{{ sla.due_at }}</strong>.</p><p>Status: {{ ticket.status }}</p><p><a href=\"{{ ticket.url }}\">Open the ticket</a></p>",
    ),
    (
        "sla_breached",
        "SLA breached: {{ ticket.subject }}",
        "Ticket {{ ticket.number }} ({{ ticket.priority }}) from {{ customer.name }} missed its {{ sla.clock }} due time ({{ sla.due_at }}).\n\nStatus: {{ ticket.status }}\nAssignee: {{ agent.name }}\nOpen it: {{ ticket.url }}\n",
        "<p>Ticket <strong>{{ ticket.number }}</strong> ({{ ticket.priority }}) from {{ customer.name }} missed its {{ sla.clock }} due time ({{ sla.due_at }}).</p><p>Status: {{ ticket.status }} · assignee: {{ agent.name }}</p><p><a href=\"{{ ticket.url }}\">Open the ticket</a></p>",
    ),
    (
        "daily_summary",
        "Triage daily summary for {{ summary.date }}",
        "Summary for {{ summary.date }} (last 24 hours)\n\nNew tickets: {{ summary.created }}\nResolved: {{ summary.resolved }}\nOpen now: {{ summary.open }}\nUnassigned: {{ summary.unassigned }}\nPast their resolution due time: {{ summary.overdue }}\nFailed deliveries: {{ summary.dead_jobs }}\n\n{{ summary.url }}\n",
        "<h2>Summary for {{ summary.date }}</h2><table cellpadding=\"4\"><tr><td>New tickets</td><td>{{ summary.created }}</td></tr><tr><td>Resolved</td><td>{{ summary.resolved }}</td></tr><tr><td>Open now</td><td>{{ summary.open }}</td></tr><tr><td>Unassigned</td><td>{{ summary.unassigned }}</td></tr><tr><td>Past resolution due</td><td>{{ summary.overdue }}</td></tr><tr><td>Failed deliveries</td><td>{{ summary.dead_jobs }}</td></tr></table><p><a href=\"{{ summary.url }}\">Open Triage</a></p>",
    ),
    (
        "password_reset",
        "Reset your password",
        "Hello {{ user.name }},\n\nsomeone (hopefully you) asked to reset the password of your account. Open this link within one hour to choose a new one:\n\n{{ reset_url }}\n\nIf it was not you, ignore this e-mail; your password stays as it is.\n",
        "<p>Hello {{ user.name }},</p><p>someone (hopefully you) asked to reset the password of your account. <a href=\"{{ reset_url }}\">Choose a new password</a> within one hour.</p><p>If it was not you, ignore this e-mail; your password stays as it is.</p>",
    ),
];

fn built_in(name: &str) -> Option<Template> {
    BUILT_IN
        .iter()
        .find(|t| t.0 == name)
        .map(|(n, s, t, h)| Template {
            name: n.to_string(),
            subject: s.to_string(),
            text_body: t.to_string(),
            html_body: h.to_string(),
            overridden: false,
        })
}

/// Names of every template.
pub fn names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|t| t.0).collect()
}

/// The template in force: the admin's override, else the built-in.
pub async fn load(conn: &impl ConnectionTrait, name: &str) -> Result<Template> {
    let base = built_in(name).ok_or(Error::NotFound("template"))?;
    Ok(
        match mail_template::Entity::find_by_id(name).one(conn).await? {
            Some(o) => Template {
                name: base.name,
                subject: o.subject,
                text_body: o.text_body,
                html_body: o.html_body,
                overridden: true,
            },
            None => base,
        },
    )
}

/// A rendered message.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// Full HTML document.
    pub html: String,
}

/// Renders a template; an admin override that fails to render falls back to the built-in.
pub fn render(t: &Template, ctx: &serde_json::Value) -> Result<Rendered> {
    match render_parts(t, ctx) {
        Ok(r) => Ok(r),
        Err(e) if t.overridden => {
            tracing::warn!(template = %t.name, error = %e, "override failed to render; using the built-in");
            let base = built_in(&t.name).ok_or(Error::NotFound("template"))?;
            render_parts(&base, ctx).map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))
        }
        Err(e) => Err(Error::Internal(anyhow::anyhow!("{e}"))),
    }
}

/// Checks an admin's template by rendering it against sample data; errors name the part.
pub fn check(t: &Template) -> Result<()> {
    let sample = serde_json::json!({
        "ticket": {"number": "TKT-20260101-ABCDEFGH", "subject": "Sample", "description": "Text",
                   "status": "open", "priority": "medium", "category": "general", "url": "https://x", "resolution": ""},
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "agent": {"name": "Sam"}, "comment": {"body": "Hello"},
        "status": {"old": "open", "new": "waiting", "old_label": "open", "new_label": "waiting"},
        "summary": {}, "user": {"name": "Ada"}, "reset_url": "https://x",
        "sla": {"clock": "resolution", "due_at": "2026-01-02T10:00:00Z"},
        "merged_into": {"number": "TKT-20260101-ZZZZZZZZ", "subject": "Other", "url": "https://x"}
    });
    let mut errors = crate::error::FieldErrors::new();
    for (field, src, html) in [
        ("subject", &t.subject, false),
        ("text_body", &t.text_body, false),
        ("html_body", &t.html_body, true),
    ] {
        if let Err(e) = render_one(src, html, &sample) {
            crate::error::push(&mut errors, field, format!("does not render: {e}"));
        }
    }
    Error::check(errors)
}

fn render_parts(
    t: &Template,
    ctx: &serde_json::Value,
) -> std::result::Result<Rendered, minijinja::Error> {
    let subject = render_one(&t.subject, false, ctx)?
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let text = render_one(&t.text_body, false, ctx)?;
    let inner = render_one(&t.html_body, true, ctx)?;
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:system-ui,sans-serif;font-size:15px;line-height:1.5;color:#1a1a1a;max-width:640px\">{inner}</body></html>"
    );
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

fn render_one(
    src: &str,
    html: bool,
    ctx: &serde_json::Value,
) -> std::result::Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(move |_| {
        if html {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.render_str(src, minijinja::value::Serde(ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_renders_and_html_escapes() {
        let ctx = serde_json::json!({
            "ticket": {"number": "TKT-1", "subject": "<script>alert(1)</script>", "url": "https://x/t"},
            "customer": {"name": "Ada & Co"}, "comment": {"body": "<b>hi</b>"}
        });
        for name in names() {
            let t = built_in(name).unwrap();
            let r = render(&t, &ctx).unwrap();
            assert!(!r.subject.is_empty(), "{name}");
            assert!(!r.html.contains("<script>"), "{name}: {}", r.html);
        }
        let r = render(&built_in("agent_reply").unwrap(), &ctx).unwrap();
        assert!(r.text.contains("<b>hi</b>"), "plain text is not escaped");
        assert!(r.html.contains("&lt;b&gt;hi"));
        assert!(!r.html.contains("<b>hi"));
    }

    #[test]
    fn broken_overrides_are_refused_and_fall_back() {
        let mut t = built_in("ticket_created").unwrap();
        t.text_body = "{% if %}".into();
        assert!(check(&t).is_err());
        t.overridden = true;
        let r = render(&t, &serde_json::json!({"ticket": {"number": "N"}})).unwrap();
        assert!(r.text.contains("ticket N"));
    }
}
