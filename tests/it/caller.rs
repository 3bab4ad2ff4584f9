//! A ticket read and a list page carry the caller's account in the same statement on
//! PostgreSQL, chosen by a hint (a JWT's role, or an API token's account last time). The live
//! account must decide every time: a role changed after the token was issued or last used
//! applies to the very next read, and a deactivated account is refused.

use crate::both_backends;
use crate::harness::*;
use serde_json::{Value, json};
use triage::tickets::model::Role;

/// The ids of the tickets `token` lists with `query`, walking every page of two.
async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<i64> {
    app.all_pages(token, query, 2).await
}

async fn set_role(app: &TestApp, admin: &str, id: i64, role: &str) {
    let r = app
        .patch(&format!("/api/v1/users/{id}"), admin, json!({"role": role}))
        .await;
    assert_eq!(r.ok(200)["role"], role);
}

both_backends!(
    a_role_change_applies_to_the_next_read_whatever_the_credential_says,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Hint Admin").await;
        let (other, _) = app.user(Role::Agent, "Hint Other").await;
        let (jwt_id, jwt) = app.user_jwt(Role::Agent, "Hint Jwt").await;
        let (tok_id, tok) = app.user(Role::Agent, "Hint Token").await;
        let (_, customer) = app.user(Role::Customer, "Hint Customer").await;
        let open = app.ticket(&customer, "Unassigned one", "high").await;
        let taken = app.ticket(&customer, "Someone else's", "low").await;
        app.assign(&admin, &taken, other).await;
        let own = app
            .ticket(&tok, "The token agent's own request", "medium")
            .await;
        let id = |t: &Value| t["id"].as_i64().unwrap();
        let taken_path = format!("/api/v1/tickets/{}", id(&taken));

        // As agents: the ticket assigned to another agent is not theirs to see. The token is
        // read twice so the second read goes with a remembered account.
        for token in [&jwt, &tok, &tok] {
            app.get(&taken_path, token).await.err(404, "NOT_FOUND");
            let got = app
                .get(&format!("/api/v1/tickets/{}", id(&open)), token)
                .await;
            assert_eq!(got.ok(200)["subject"], "Unassigned one");
        }
        assert_eq!(listed(&app, &jwt, "").await, vec![id(&open), id(&own)]);
        assert_eq!(listed(&app, &tok, "").await, vec![id(&open), id(&own)]);

        // Promoted to admin: the JWT still says agent, the token was last seen as an agent.
        set_role(&app, &admin, jwt_id, "admin").await;
        set_role(&app, &admin, tok_id, "admin").await;
        for token in [&jwt, &tok] {
            let got = app.get(&taken_path, token).await;
            assert_eq!(got.ok(200)["subject"], "Someone else's");
            assert_eq!(
                listed(&app, token, "").await,
                vec![id(&open), id(&own), id(&taken)],
                "sorted by priority, then oldest first"
            );
            assert_eq!(
                listed(&app, token, "&sort=-created_at").await,
                vec![id(&own), id(&taken), id(&open)]
            );
        }

        // "me" in a filter is whoever the live account is.
        app.assign(&admin, &taken, jwt_id).await;
        assert_eq!(listed(&app, &jwt, "&assignee=me").await, vec![id(&taken)]);
        assert_eq!(listed(&app, &tok, "&assignee=me").await, Vec::<i64>::new());
        assert_eq!(
            listed(&app, &tok, "&assignee=none&priority=high,medium").await,
            vec![id(&open), id(&own)]
        );

        // Demoted to customer: only what they asked for themselves.
        set_role(&app, &admin, jwt_id, "customer").await;
        set_role(&app, &admin, tok_id, "customer").await;
        for token in [&jwt, &tok] {
            app.get(&taken_path, token).await.err(404, "NOT_FOUND");
            app.get(&format!("/api/v1/tickets/{}", id(&open)), token)
                .await
                .err(404, "NOT_FOUND");
        }
        assert_eq!(listed(&app, &jwt, "").await, Vec::<i64>::new());
        assert_eq!(listed(&app, &tok, "").await, vec![id(&own)]);
        let got = app
            .get(&format!("/api/v1/tickets/{}", id(&own)), &tok)
            .await;
        assert_eq!(got.ok(200)["subject"], "The token agent's own request");

        // Deactivated: refused, before any question about the request itself.
        for uid in [jwt_id, tok_id] {
            app.delete(&format!("/api/v1/users/{uid}"), &admin)
                .await
                .ok(204);
        }
        for token in [&jwt, &tok] {
            app.get(&format!("/api/v1/tickets/{}", id(&own)), token)
                .await
                .err(401, "UNAUTHORIZED");
            app.get("/api/v1/tickets/999999", token)
                .await
                .err(401, "UNAUTHORIZED");
            app.get("/api/v1/tickets", token)
                .await
                .err(401, "UNAUTHORIZED");
            app.get("/api/v1/tickets?status=nonsense", token)
                .await
                .err(401, "UNAUTHORIZED");
        }
    }
);

both_backends!(
    an_unknown_or_revoked_token_gets_401_not_the_query_errors,
    |app: TestApp| async move {
        let (_, admin) = app.user(Role::Admin, "Revoke Admin").await;
        let t = app.ticket(&admin, "Still here", "low").await;
        let path = format!("/api/v1/tickets/{}", t["id"]);
        for bad in ["trg_not-a-real-token", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"] {
            app.get(&path, bad).await.err(401, "UNAUTHORIZED");
            app.get("/api/v1/tickets", bad)
                .await
                .err(401, "UNAUTHORIZED");
            app.get("/api/v1/tickets?priority=whenever&cursor=%%%", bad)
                .await
                .err(401, "UNAUTHORIZED");
        }
        // A valid caller gets the query's own errors, and 404 for what is not there.
        app.get("/api/v1/tickets?priority=whenever", &admin)
            .await
            .err(400, "VALIDATION_ERROR");
        app.get("/api/v1/tickets/999999", &admin)
            .await
            .err(404, "NOT_FOUND");

        // A revoked token stops working at once, though this process remembers its account.
        let (_, jwt) = app.user_jwt(Role::Agent, "Revoke Agent").await;
        let made = app
            .post("/api/v1/auth/tokens", &jwt, json!({"name": "short-lived"}))
            .await;
        let made = made.ok(201);
        let token = made["token"].as_str().unwrap().to_string();
        app.get(&path, &token).await.ok(200);
        app.get("/api/v1/tickets", &token).await.ok(200);
        app.delete(&format!("/api/v1/auth/tokens/{}", made["id"]), &jwt)
            .await
            .ok(204);
        app.get(&path, &token).await.err(401, "UNAUTHORIZED");
        app.get("/api/v1/tickets", &token)
            .await
            .err(401, "UNAUTHORIZED");
    }
);
