//! Chat message shapes: Discord embeds (colour by priority, emoji by category) and Slack
//! blocks, for one event or a digest of many. Pure functions over the stored event data.

use serde_json::{Value, json};

/// Discord embed colour of a priority.
pub fn priority_colour(priority: &str) -> u32 {
    match priority {
        "urgent" => 0xE0_31_31,
        "high" => 0xF0_8C_00,
        "medium" => 0x1C_7E_D6,
        _ => 0x86_8E_96,
    }
}

/// Emoji for a category slug.
pub fn category_emoji(category: &str) -> &'static str {
    match category {
        "bug" => "🐛",
        "feature_request" => "✨",
        "question" => "❓",
        "account" => "👤",
        "billing" => "💳",
        "technical" => "🔧",
        "general" => "📨",
        _ => "📌",
    }
}

fn headline(event: &str, data: &Value) -> String {
    let actor = data["actor"]["name"].as_str().unwrap_or("someone");
    match event {
        "ticket.created" => "New ticket".into(),
        "ticket.updated" => format!("Updated by {actor}"),
        "ticket.status_changed" => format!(
            "Status {} → {}",
            data["from"].as_str().unwrap_or("?"),
            data["to"].as_str().unwrap_or("?")
        ),
        "ticket.assigned" => match data["ticket"]["assignee"]["name"].as_str() {
            Some(n) => format!("Assigned to {n}"),
            None => "Unassigned".into(),
        },
        "comment.created" => format!("Reply from {actor}"),
        "sla.warning" => "SLA warning".into(),
        "sla.breached" => "SLA breached".into(),
        "ticket.merged" => format!(
            "Merged into {}",
            data["into_number"].as_str().unwrap_or("?")
        ),
        "ticket.rated" => format!("Rated {}/5", data["score"].as_i64().unwrap_or(0)),
        other => other.to_string(),
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

fn summary_text(event: &str, data: &Value) -> String {
    let body = if event == "comment.created" {
        data["comment"]["body"].as_str()
    } else {
        data["ticket"]["description"].as_str()
    };
    cut(body.unwrap_or(""), 1000)
}

/// One Discord embed for one event.
pub fn discord_embed(event: &str, data: &Value) -> Value {
    let t = &data["ticket"];
    let cat = t["category"].as_str().unwrap_or("");
    let prio = t["priority"].as_str().unwrap_or("");
    json!({
        "title": cut(&format!("{} [{}] {}", category_emoji(cat), t["number"].as_str().unwrap_or(""), t["subject"].as_str().unwrap_or("")), 256),
        "url": data["url"],
        "description": format!("**{}**\n{}", headline(event, data), summary_text(event, data)),
        "color": priority_colour(prio),
        "fields": [
            {"name": "Priority", "value": prio, "inline": true},
            {"name": "Status", "value": t["status"], "inline": true},
            {"name": "Category", "value": format!("{} {}", category_emoji(cat), cat), "inline": true},
        ],
        "footer": {"text": event},
    })
}

/// A Discord message for one or more events (at most 10 embeds; more are listed as lines).
pub fn discord_message(events: &[(String, Value)]) -> Value {
    if events.len() == 1 {
        let (e, d) = &events[0];
        return json!({"username": "Triage", "embeds": [discord_embed(e, d)]});
    }
    if events.len() <= 10 {
        return json!({
            "username": "Triage",
            "content": format!("{} updates", events.len()),
            "embeds": events.iter().map(|(e, d)| discord_embed(e, d)).collect::<Vec<_>>(),
        });
    }
    let lines: Vec<String> = events.iter().map(|(e, d)| line(e, d)).collect();
    json!({
        "username": "Triage",
        "content": format!("{} updates", events.len()),
        "embeds": [{"title": "Digest", "description": cut(&lines.join("\n"), 4000), "color": 0x1C_7E_D6}],
    })
}

fn line(event: &str, data: &Value) -> String {
    let t = &data["ticket"];
    format!(
        "{} {} — {} ({})",
        category_emoji(t["category"].as_str().unwrap_or("")),
        t["number"].as_str().unwrap_or(""),
        headline(event, data),
        cut(t["subject"].as_str().unwrap_or(""), 80)
    )
}

/// A Slack message (Block Kit) for one or more events.
pub fn slack_message(events: &[(String, Value)]) -> Value {
    let mut blocks = Vec::new();
    if events.len() > 1 {
        blocks.push(json!({"type": "header", "text": {"type": "plain_text", "text": format!("{} updates", events.len())}}));
    }
    for (e, d) in events.iter().take(20) {
        let t = &d["ticket"];
        let cat = t["category"].as_str().unwrap_or("");
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&format!("{} *<{}|{}>* {}\n*{}*\n{}",
                category_emoji(cat), d["url"].as_str().unwrap_or(""), t["number"].as_str().unwrap_or(""),
                t["subject"].as_str().unwrap_or(""), headline(e, d), summary_text(e, d)), 2900)},
            "fields": [
                {"type": "mrkdwn", "text": format!("*Priority*\n{}", t["priority"].as_str().unwrap_or(""))},
                {"type": "mrkdwn", "text": format!("*Status*\n{}", t["status"].as_str().unwrap_or(""))},
            ],
        }));
    }
    if events.len() > 20 {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("and {} more", events.len() - 20)}]}));
    }
    let fallback = events
        .iter()
        .map(|(e, d)| line(e, d))
        .collect::<Vec<_>>()
        .join("\n");
    json!({"text": cut(&fallback, 3000), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(prio: &str, cat: &str) -> (String, Value) {
        (
            "ticket.created".into(),
            json!({"ticket": {"number": "TKT-1", "subject": "Down", "priority": prio, "category": cat, "status": "open", "description": "x"}, "url": "http://x/t"}),
        )
    }

    #[test]
    fn discord_colours_and_emoji() {
        let m = discord_message(&[ev("urgent", "bug")]);
        assert_eq!(m["embeds"][0]["color"], 0xE03131);
        assert!(
            m["embeds"][0]["title"]
                .as_str()
                .unwrap()
                .starts_with("🐛 [TKT-1]")
        );
        let many: Vec<_> = (0..12).map(|_| ev("low", "question")).collect();
        let d = discord_message(&many);
        assert_eq!(d["embeds"].as_array().unwrap().len(), 1);
        assert_eq!(d["content"], "12 updates");
    }

    #[test]
    fn slack_blocks() {
        let m = slack_message(&[ev("high", "billing"), ev("low", "general")]);
        assert_eq!(m["blocks"][0]["type"], "header");
        assert_eq!(m["blocks"].as_array().unwrap().len(), 3);
        assert!(m["text"].as_str().unwrap().contains("💳 TKT-1"));
    }
}
