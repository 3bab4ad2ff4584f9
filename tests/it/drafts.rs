//! Conversations → drafts: stored transcripts, the offline classifier through the API, the
//! link to the created ticket, and the OpenAI-compatible path against a local server.

use crate::both_backends;
use crate::harness::{Backend, TestApp, pg_url};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use triage::tickets::model::Role;

fn chat() -> Value {
    json!([
        {"role": "user", "content": "Our whole site is down since the deploy, customers see a blank page. Urgent!"},
        {"role": "assistant", "content": "Sorry about that. Did you roll back the deploy?"},
        {"role": "user", "content": "Rolled back, still an error 500 on every page."}
    ])
}

both_backends!(
    transcripts_draft_tickets_and_link_them,
    |app: TestApp| async move {
        let (_, ada) = app.user(Role::Customer, "Ada").await;
        let (_, eve) = app.user(Role::Customer, "Eve").await;
        let (_, agent) = app.user(Role::Agent, "Sam").await;
        let bad = app
            .post(
                "/api/v1/conversations",
                &ada,
                json!({"messages": [{"role": "robot", "content": ""}]}),
            )
            .await;
        let errs = bad.err(400, "VALIDATION_ERROR")["errors"]["messages"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(errs, 3, "role, content and no user message: {}", bad.text);
        let conv = app
            .post("/api/v1/conversations", &ada, json!({"messages": chat()}))
            .await;
        let id = conv.ok(201)["id"].as_i64().unwrap();
        assert_eq!(conv.body["messages"], 3);

        let d = app
            .post(
                "/api/v1/tickets/draft",
                &ada,
                json!({"conversation_id": id}),
            )
            .await;
        let d = d.ok(200);
        assert_eq!(d["source"], "classifier");
        assert_eq!(
            d["ticket"]["title"],
            "Our whole site is down since the deploy, customers see a blank page"
        );
        assert_eq!(
            (
                d["ticket"]["priority"].as_str(),
                d["ticket"]["category"].as_str()
            ),
            (Some("urgent"), Some("bug"))
        );
        let desc = d["ticket"]["description"].as_str().unwrap();
        assert!(desc.contains("Then added: Rolled back, still an error 500 on every page."));
        assert!(desc.contains("Already suggested: Sorry about that."));
        app.post(
            "/api/v1/tickets/draft",
            &eve,
            json!({"conversation_id": id}),
        )
        .await
        .err(404, "NOT_FOUND");
        app.post(
            "/api/v1/tickets/draft",
            &agent,
            json!({"conversation_id": id}),
        )
        .await
        .ok(200);
        let direct = app
            .post(
                "/api/v1/tickets/draft",
                &eve,
                json!({"messages": [{"role": "user", "content": "How do I export my data?"}]}),
            )
            .await;
        assert_eq!(direct.ok(200)["ticket"]["category"], "question");
        app.post("/api/v1/tickets/draft", &eve, json!({}))
            .await
            .err(400, "VALIDATION_ERROR");

        // Edit and submit: the ticket points at the conversation, and the conversation is used up.
        let t = &d["ticket"];
        let body = json!({"subject": t["title"], "description": t["description"], "priority": t["priority"],
                      "category": t["category"], "conversation_id": id});
        app.post("/api/v1/tickets", &eve, body.clone())
            .await
            .err(400, "VALIDATION_ERROR");
        let created = app.post("/api/v1/tickets", &ada, body.clone()).await;
        assert_eq!(created.ok(201)["conversation_id"], id);
        let again = app.post("/api/v1/tickets", &ada, body).await;
        assert!(
            again.err(400, "VALIDATION_ERROR")["errors"]["conversation_id"][0]
                .as_str()
                .unwrap()
                .contains("already")
        );
        let tickets = app.get("/api/v1/tickets", &ada).await;
        assert_eq!(
            tickets.ok(200)["data"].as_array().unwrap().len(),
            1,
            "the refused create left nothing behind"
        );
    }
);

/// Requests the fake model saw: the Authorization header and the JSON body.
type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A local stand-in for an OpenAI-compatible server: answers per `mode`, records requests.
struct FakeModel {
    base: String,
    mode: Arc<Mutex<&'static str>>,
    seen: Seen,
}

async fn fake_model() -> FakeModel {
    use axum::routing::post;
    let mode = Arc::new(Mutex::new("ok"));
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let (m, s) = (mode.clone(), seen.clone());
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
            let (m, s) = (m.clone(), s.clone());
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
                s.lock().unwrap().push((auth, body.0));
                let mode = *m.lock().unwrap();
                let content = match mode {
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        "{}".to_string()
                    }
                    "fail" => return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom".to_string()),
                    "nonsense" => json!({"title": "Outage", "description": "The site is down for everyone.", "priority": "critical", "category": "outages"}).to_string(),
                    _ => json!({"title": "Site down after deploy", "description": "Since the last deploy every page answers 500; rolling back did not help.", "priority": "urgent", "category": "technical"}).to_string(),
                };
                let answer = json!({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]});
                (axum::http::StatusCode::OK, answer.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    FakeModel {
        base: format!("http://{addr}/v1"),
        mode,
        seen,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_model_is_asked_first_and_the_classifier_catches_its_failures() {
    let model = fake_model().await;
    let url = model.base.clone();
    let app = TestApp::spawn_with(Backend::Sqlite, move |c| {
        c.llm_url = url;
        c.llm_api_key = "sk-local".into();
        c.llm_model = "tiny-model".into();
        c.llm_timeout_ms = 1000;
    })
    .await;
    let (_, ada) = app.user(Role::Customer, "Ada").await;
    let ask = || async {
        app.post("/api/v1/tickets/draft", &ada, json!({"messages": chat()}))
            .await
    };
    let d = ask().await;
    assert_eq!(d.ok(200)["source"], "llm");
    assert_eq!(d.body["ticket"]["title"], "Site down after deploy");
    assert_eq!(d.body["ticket"]["category"], "technical");
    {
        let seen = model.seen.lock().unwrap();
        let (auth, body) = &seen[0];
        assert_eq!(auth.as_deref(), Some("Bearer sk-local"));
        assert_eq!(body["model"], "tiny-model");
        assert!(
            body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("feature_request"),
            "allowed categories are listed"
        );
        assert!(
            body["messages"][1]["content"]
                .as_str()
                .unwrap()
                .contains("user: Our whole site is down")
        );
    }
    for mode in ["fail", "nonsense", "slow"] {
        *model.mode.lock().unwrap() = mode;
        let started = std::time::Instant::now();
        let d = ask().await;
        assert_eq!(d.ok(200)["source"], "classifier", "{mode}");
        assert_eq!(d.body["ticket"]["priority"], "urgent", "{mode}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{mode}: the timeout bounds the wait"
        );
    }
    assert_eq!(model.seen.lock().unwrap().len(), 4);
}
