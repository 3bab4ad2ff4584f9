//! Drafting through an OpenAI-compatible chat-completions endpoint. Any failure (network,
//! timeout, status, unusable answer) is an error the caller turns into the offline fallback.

use std::time::Duration;

use serde_json::{Value, json};

use super::classify::{ChatMessage, Draft};
use crate::config::Config;

const INSTRUCTIONS: &str = "You turn a support chat into a ticket draft. Answer with one JSON object \
and nothing else: {\"title\": a short subject (at most 80 characters), \"description\": a summary \
of the problem, what was tried and what is needed (2 to 6 sentences, not a copy of the chat), \
\"priority\": one of low, medium, high, urgent, \"category\": one of the given categories}.";

/// Asks the model; `categories` are the allowed slugs.
pub async fn draft(
    config: &Config,
    messages: &[ChatMessage],
    categories: &[String],
) -> Result<Draft, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(config.llm_timeout_ms.max(100)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let transcript = messages
        .iter()
        .map(|m| format!("{}: {}", m.role, m.content))
        .collect::<Vec<_>>()
        .join("\n");
    let body = json!({
        "model": config.llm_model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": format!("{INSTRUCTIONS} Categories: {}.", categories.join(", "))},
            {"role": "user", "content": transcript},
        ],
    });
    let url = format!("{}/chat/completions", config.llm_url.trim_end_matches('/'));
    let mut req = http.post(url).json(&body);
    if !config.llm_api_key.is_empty() {
        req = req.bearer_auth(&config.llm_api_key);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("model answered {}", resp.status()));
    }
    let v: Value = resp.json().await.map_err(|e| format!("not JSON: {e}"))?;
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .ok_or("no choices[0].message.content")?;
    parse(content, categories)
}

/// Reads and checks the model's JSON answer (tolerating a Markdown code fence around it).
pub fn parse(content: &str, categories: &[String]) -> Result<Draft, String> {
    let trimmed = content
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    let d: Draft = serde_json::from_str(trimmed).map_err(|e| format!("unusable draft: {e}"))?;
    let title = d.title.trim().to_string();
    let description = d.description.trim().to_string();
    let priority = d.priority.trim().to_lowercase();
    let category = d.category.trim().to_lowercase();
    if !(3..=200).contains(&title.chars().count()) {
        return Err("title out of bounds".into());
    }
    if !(10..=5000).contains(&description.chars().count()) {
        return Err("description out of bounds".into());
    }
    if !["low", "medium", "high", "urgent"].contains(&priority.as_str()) {
        return Err(format!("unknown priority {priority:?}"));
    }
    if !categories.contains(&category) {
        return Err(format!("unknown category {category:?}"));
    }
    Ok(Draft {
        title,
        description,
        priority,
        category,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked() {
        let cats = vec!["bug".to_string(), "billing".to_string()];
        let ok = parse(
            "```json\n{\"title\":\"Export fails\",\"description\":\"Export gives a 500 error.\",\"priority\":\"High\",\"category\":\"bug\"}\n```",
            &cats,
        )
        .unwrap();
        assert_eq!(
            (ok.priority.as_str(), ok.category.as_str()),
            ("high", "bug")
        );
        assert!(parse("{\"title\":\"x\"}", &cats).is_err());
        assert!(parse("{\"title\":\"Export\",\"description\":\"long enough text\",\"priority\":\"asap\",\"category\":\"bug\"}", &cats).is_err());
        assert!(parse("{\"title\":\"Export\",\"description\":\"long enough text\",\"priority\":\"low\",\"category\":\"space\"}", &cats).is_err());
        assert!(parse("I think it is a bug", &cats).is_err());
    }
}
