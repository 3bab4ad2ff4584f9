//! Canned replies ("templates" in the API): admin-managed Markdown snippets, grouped by
//! category, with variables such as `{{customer.name}}` filled in from the ticket when used.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::clock::rfc3339;
use crate::context::Ctx;
use crate::db::desk_entities::reply_template;
use crate::db::entities::{category, ticket, user};
use crate::error::{Error, FieldErrors, Result, push};
use crate::tickets::{access, tracking};

/// Longest template body, in characters (a comment may be 20,000; leave room to edit).
const MAX_BODY: usize = 10_000;

/// The variables a template may use, listed on the admin page and in the API docs.
pub const VARIABLES: &[&str] = &[
    "customer.name",
    "customer.first_name",
    "customer.email",
    "ticket.number",
    "ticket.subject",
    "ticket.status",
    "ticket.priority",
    "ticket.category",
    "ticket.url",
    "agent.name",
    "agent.first_name",
    "agent.email",
];

/// A template as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    /// Id.
    pub id: i64,
    /// Name shown in the picker.
    pub name: String,
    /// Category slug it belongs to; `null` for every category.
    pub category: Option<String>,
    /// Markdown body with `{{ variables }}`.
    pub body: String,
    /// Last change, RFC 3339.
    pub updated_at: String,
}

/// Fields to create a template, or to change (absent fields stay; `category: ""` clears).
#[derive(Debug, Deserialize, utoipa::ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TemplateInput {
    /// Name, 1–100 characters.
    pub name: Option<String>,
    /// Category slug, or empty for all categories.
    pub category: Option<String>,
    /// Markdown body, 1–10000 characters.
    pub body: Option<String>,
}

impl From<reply_template::Model> for TemplateView {
    fn from(t: reply_template::Model) -> Self {
        TemplateView {
            id: t.id,
            name: t.name,
            category: t.category,
            body: t.body,
            updated_at: rfc3339(t.updated_at),
        }
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // A misspelt variable must fail loudly when saved, not send "Hello ," to a customer.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env
}

/// Renders a body against variables (no HTML escaping: the result is Markdown, sanitised
/// when displayed, and plain text in e-mail).
pub fn render_body(body: &str, vars: &Value) -> std::result::Result<String, String> {
    environment()
        .render_str(body, minijinja::value::Serde(vars))
        .map(|s| s.trim().to_string())
        .map_err(|e| {
            let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
            format!("{}{detail}", e.kind())
        })
}

fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or("").to_string()
}

/// Variables for a ticket, its requester and the agent using the template.
pub fn variables(
    ctx: &Ctx,
    t: &ticket::Model,
    requester: &user::Model,
    agent: &user::Model,
) -> Value {
    json!({
        "customer": {"name": requester.name, "first_name": first_name(&requester.name), "email": requester.email},
        "ticket": {"number": t.number, "subject": t.subject, "status": t.status.replace('_', " "),
                   "priority": t.priority, "category": t.category, "url": tracking::url(ctx, t)},
        "agent": {"name": agent.name, "first_name": first_name(&agent.name), "email": agent.email},
    })
}

fn sample() -> Value {
    json!({
        "customer": {"name": "Ada Lovelace", "first_name": "Ada", "email": "ada@example.com"},
        "ticket": {"number": "TKT-20260101-ABCDEFGH", "subject": "Sample", "status": "open",
                   "priority": "medium", "category": "general", "url": "https://example.com/track"},
        "agent": {"name": "Sam Agent", "first_name": "Sam", "email": "sam@example.com"},
    })
}

async fn check(
    conn: &impl ConnectionTrait,
    name: &str,
    category: Option<&str>,
    body: &str,
) -> Result<()> {
    let mut errors = FieldErrors::new();
    if name.is_empty() || name.chars().count() > 100 {
        push(&mut errors, "name", "must be 1 to 100 characters");
    }
    if body.is_empty() || body.chars().count() > MAX_BODY {
        push(
            &mut errors,
            "body",
            format!("must be 1 to {MAX_BODY} characters"),
        );
    } else if let Err(e) = render_body(body, &sample()) {
        push(
            &mut errors,
            "body",
            format!("does not render ({e}); variables: {}", VARIABLES.join(", ")),
        );
    }
    if let Some(slug) = category
        && category::Entity::find()
            .filter(category::Column::Slug.eq(slug))
            .one(conn)
            .await?
            .is_none()
    {
        push(&mut errors, "category", "no such category");
    }
    Error::check(errors)
}

fn clean_category(raw: Option<String>) -> Option<String> {
    raw.map(|c| c.trim().to_string()).filter(|c| !c.is_empty())
}

/// Templates, optionally for one category (those for every category included) and matching
/// `q` in name or body; those for every category first, then by category and name.
pub async fn list(ctx: &Ctx, category: Option<&str>, q: Option<&str>) -> Result<Vec<TemplateView>> {
    let mut query = reply_template::Entity::find();
    if let Some(c) = category.filter(|c| !c.trim().is_empty()) {
        query = query.filter(
            Condition::any()
                .add(reply_template::Column::Category.eq(c.trim()))
                .add(reply_template::Column::Category.is_null()),
        );
    }
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let like = format!("%{}%", q.replace(['%', '_'], ""));
        query = query.filter(
            Condition::any()
                .add(reply_template::Column::Name.like(&like))
                .add(reply_template::Column::Body.like(&like)),
        );
    }
    let mut rows = query.all(&ctx.db.read).await?;
    // Sorted here: SQLite and PostgreSQL place NULL categories differently.
    rows.sort_by(|a, b| (&a.category, &a.name).cmp(&(&b.category, &b.name)));
    Ok(rows.into_iter().map(TemplateView::from).collect())
}

async fn find(ctx: &Ctx, id: i64) -> Result<reply_template::Model> {
    reply_template::Entity::find_by_id(id)
        .one(&ctx.db.read)
        .await?
        .ok_or(Error::NotFound("template"))
}

/// One template.
pub async fn get(ctx: &Ctx, id: i64) -> Result<TemplateView> {
    Ok(find(ctx, id).await?.into())
}

/// Creates a template (admin).
pub async fn create(ctx: &Ctx, actor: &Actor, input: TemplateInput) -> Result<TemplateView> {
    access::require_admin(actor)?;
    let name = input.name.unwrap_or_default().trim().to_string();
    let body = input.body.unwrap_or_default().trim().to_string();
    let category = clean_category(input.category);
    check(&ctx.db.read, &name, category.as_deref(), &body).await?;
    let now = ctx.clock.now_micros();
    let row = reply_template::ActiveModel {
        name: Set(name),
        category: Set(category),
        body: Set(body),
        created_by: Set(Some(actor.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?;
    Ok(row.into())
}

/// Changes a template (admin).
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: TemplateInput,
) -> Result<TemplateView> {
    access::require_admin(actor)?;
    let row = find(ctx, id).await?;
    let name = input
        .name
        .map(|n| n.trim().to_string())
        .unwrap_or(row.name.clone());
    let body = input
        .body
        .map(|b| b.trim().to_string())
        .unwrap_or(row.body.clone());
    let category = match input.category {
        Some(c) => clean_category(Some(c)),
        None => row.category.clone(),
    };
    check(&ctx.db.read, &name, category.as_deref(), &body).await?;
    let mut am: reply_template::ActiveModel = row.into();
    am.name = Set(name);
    am.body = Set(body);
    am.category = Set(category);
    am.updated_at = Set(ctx.clock.now_micros());
    Ok(am.update(&ctx.db.write).await?.into())
}

/// Deletes a template (admin).
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> Result<()> {
    access::require_admin(actor)?;
    let res = reply_template::Entity::delete_by_id(id)
        .exec(&ctx.db.write)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound("template"));
    }
    Ok(())
}

/// Renders a template for a ticket the agent may see, ready to edit and send.
pub async fn render_for(ctx: &Ctx, actor: &Actor, id: i64, ticket_key: &str) -> Result<String> {
    access::require_staff(actor)?;
    let t = access::load(&ctx.db, actor, ticket_key).await?;
    let tpl = find(ctx, id)
        .await
        .map_err(|_| Error::field("template_id", "no such template"))?;
    let people = user::Entity::find()
        .filter(user::Column::Id.is_in([t.requester_id, actor.id]))
        .all(&ctx.db.read)
        .await?;
    let person = |id: i64| {
        people
            .iter()
            .find(|u| u.id == id)
            .cloned()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("user {id} vanished")))
    };
    let vars = variables(ctx, &t, &person(t.requester_id)?, &person(actor.id)?);
    render_body(&tpl.body, &vars)
        .map_err(|e| Error::field("template_id", format!("does not render: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_fill_in_and_nothing_is_escaped_or_evaluated_twice() {
        let vars = json!({"customer": {"name": "Ada & <Co>", "first_name": "Ada"},
                          "ticket": {"number": "TKT-1"}, "agent": {"name": "{{ agent.name }}"}});
        let out = render_body("Hi {{customer.first_name}}, re {{ ticket.number }} for {{ customer.name }} — {{ agent.name }}", &vars).unwrap();
        assert_eq!(out, "Hi Ada, re TKT-1 for Ada & <Co> — {{ agent.name }}");
    }

    #[test]
    fn misspelt_variables_and_bad_syntax_are_errors() {
        assert!(render_body("Hello {{ custmer.name }}", &sample()).is_err());
        assert!(render_body("Hello {{ customer.name ", &sample()).is_err());
        assert!(render_body("{% for x in %}", &sample()).is_err());
        assert_eq!(
            render_body("{{ customer.first_name }}", &sample()).unwrap(),
            "Ada"
        );
    }
}
