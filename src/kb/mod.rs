//! Knowledge base: help articles (Markdown, category, published flag), ranked full-text search
//! for the help pages and the support form's suggestions, and links from tickets.

pub mod links;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use serde::{Deserialize, Serialize};

use crate::auth::Actor;
use crate::clock::rfc3339;
use crate::context::Ctx;
use crate::db::desk_entities::article;
use crate::db::entities::category;
use crate::error::{Error, FieldErrors, Result, push};
use crate::tickets::access;

/// Words too common to say anything about a question.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "you", "your", "with", "this", "that", "have", "has", "are", "was", "not",
    "but", "can", "cannot", "how", "what", "why", "when", "where", "from", "our", "out", "any",
    "all", "get", "got", "its", "it's", "too", "very", "just", "into", "been", "does", "did",
    "hello", "please", "thanks", "thank", "help", "need", "want", "would", "could",
];

/// An article as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ArticleView {
    /// Id.
    pub id: i64,
    /// URL name: `/help/{slug}`.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// Category slug, if any.
    pub category: Option<String>,
    /// Visible to everyone.
    pub published: bool,
    /// First 200 characters of the body, as plain text.
    pub excerpt: String,
    /// Last change, RFC 3339.
    pub updated_at: String,
}

/// Fields to create an article, or to change (absent fields stay).
#[derive(Debug, Deserialize, utoipa::ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ArticleInput {
    /// Title, 3–200 characters.
    pub title: Option<String>,
    /// URL name (a-z, 0-9, -); made from the title when absent.
    pub slug: Option<String>,
    /// Markdown body, 10–50000 characters.
    pub body: Option<String>,
    /// Category slug; empty for none.
    pub category: Option<String>,
    /// Visible to everyone.
    pub published: Option<bool>,
}

fn excerpt(body: &str) -> String {
    let plain: String = body
        .chars()
        .filter(|c| !matches!(c, '#' | '*' | '_' | '`' | '>' | '[' | ']'))
        .collect();
    let words = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() <= 200 {
        words
    } else {
        words.chars().take(199).collect::<String>() + "…"
    }
}

impl From<article::Model> for ArticleView {
    fn from(a: article::Model) -> Self {
        ArticleView {
            excerpt: excerpt(&a.body),
            id: a.id,
            slug: a.slug,
            title: a.title,
            body: a.body,
            category: a.category,
            published: a.published,
            updated_at: rfc3339(a.updated_at),
        }
    }
}

/// A URL name from a title: lower-case ASCII words joined by `-`.
pub fn slugify(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(80).collect()
}

/// Search words of a question: no syntax, no stop words, at least two letters.
pub fn search_words(q: &str) -> Vec<String> {
    crate::search::tokens(&q.chars().take(2000).collect::<String>())
        .into_iter()
        .filter(|w| w.chars().count() >= 2 && !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// Articles ranked by how well they match any of the words of `q` (title counts most).
async fn ranked(
    conn: &impl ConnectionTrait,
    q: &str,
    unpublished: bool,
    limit: u64,
) -> Result<Vec<article::Model>> {
    let words = search_words(q);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let cols = "a.id, a.slug, a.title, a.body, a.category, a.published, a.created_by, a.created_at, a.updated_at";
    let backend = conn.get_database_backend();
    let stmt = match backend {
        DatabaseBackend::Postgres => {
            let query = words
                .iter()
                .map(|w| format!("{w}:*"))
                .collect::<Vec<_>>()
                .join(" | ");
            Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT {cols} FROM articles a, to_tsquery('english', $1) query \
                     WHERE a.search @@ query AND (a.published OR $2) \
                     ORDER BY ts_rank(a.search, query) DESC, a.id LIMIT $3"
                ),
                [query.into(), unpublished.into(), (limit as i64).into()],
            )
        }
        _ => {
            let query = words
                .iter()
                .map(|w| format!("\"{w}\"*"))
                .collect::<Vec<_>>()
                .join(" OR ");
            Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT {cols} FROM articles a JOIN articles_fts f ON f.rowid = a.id \
                     WHERE articles_fts MATCH $1 AND (a.published OR $2) \
                     ORDER BY bm25(articles_fts, 5.0, 1.0), a.id LIMIT $3"
                ),
                [query.into(), unpublished.into(), (limit as i64).into()],
            )
        }
    };
    Ok(article::Entity::find().from_raw_sql(stmt).all(conn).await?)
}

/// Published articles (admins may include drafts), optionally in one category, best matches of
/// `q` first when given, else by title.
pub async fn list(
    ctx: &Ctx,
    include_drafts: bool,
    category: Option<&str>,
    q: Option<&str>,
    limit: u64,
) -> Result<Vec<ArticleView>> {
    let limit = limit.clamp(1, 100);
    let category = category.map(str::trim).filter(|c| !c.is_empty());
    let rows = match q.map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => ranked(&ctx.db.read, q, include_drafts, limit * 2)
            .await?
            .into_iter()
            .filter(|a| category.is_none_or(|c| a.category.as_deref() == Some(c)))
            .take(limit as usize)
            .collect(),
        None => {
            let mut query = article::Entity::find();
            if !include_drafts {
                query = query.filter(article::Column::Published.eq(true));
            }
            if let Some(c) = category {
                query = query.filter(article::Column::Category.eq(c));
            }
            query
                .order_by_asc(article::Column::Title)
                .limit(limit)
                .all(&ctx.db.read)
                .await?
        }
    };
    Ok(rows.into_iter().map(ArticleView::from).collect())
}

async fn find(conn: &impl ConnectionTrait, key: &str) -> Result<article::Model> {
    let by = match key.parse::<i64>() {
        Ok(id) => article::Column::Id.eq(id),
        Err(_) => article::Column::Slug.eq(key.trim().to_lowercase()),
    };
    article::Entity::find()
        .filter(by)
        .one(conn)
        .await?
        .ok_or(Error::NotFound("article"))
}

/// One article by id or slug; drafts only for admins (others get 404).
pub async fn get(ctx: &Ctx, key: &str, include_drafts: bool) -> Result<ArticleView> {
    let a = find(&ctx.db.read, key).await?;
    if !a.published && !include_drafts {
        return Err(Error::NotFound("article"));
    }
    Ok(a.into())
}

async fn check(
    ctx: &Ctx,
    title: &str,
    slug: &str,
    body: &str,
    category: Option<&str>,
    except: Option<i64>,
) -> Result<()> {
    let mut errors = FieldErrors::new();
    let n = title.chars().count();
    if !(3..=200).contains(&n) {
        push(&mut errors, "title", "must be 3 to 200 characters");
    }
    let n = body.chars().count();
    if !(10..=50_000).contains(&n) {
        push(&mut errors, "body", "must be 10 to 50000 characters");
    }
    let slug_ok = !slug.is_empty()
        && slug.len() <= 80
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && slug.parse::<i64>().is_err();
    if !slug_ok {
        push(
            &mut errors,
            "slug",
            "must be 1 to 80 of a-z, 0-9 and -, not only digits",
        );
    } else {
        let mut taken = article::Entity::find().filter(article::Column::Slug.eq(slug));
        if let Some(id) = except {
            taken = taken.filter(article::Column::Id.ne(id));
        }
        if taken.count(&ctx.db.read).await? > 0 {
            push(&mut errors, "slug", "is used by another article");
        }
    }
    if let Some(c) = category
        && category::Entity::find()
            .filter(category::Column::Slug.eq(c))
            .count(&ctx.db.read)
            .await?
            == 0
    {
        push(&mut errors, "category", "no such category");
    }
    Error::check(errors)
}

fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Creates an article (admin).
pub async fn create(ctx: &Ctx, actor: &Actor, input: ArticleInput) -> Result<ArticleView> {
    access::require_admin(actor)?;
    let title = input.title.unwrap_or_default().trim().to_string();
    let body = input.body.unwrap_or_default().trim().to_string();
    let slug = clean(input.slug).unwrap_or_else(|| slugify(&title));
    let category = clean(input.category);
    check(ctx, &title, &slug, &body, category.as_deref(), None).await?;
    let now = ctx.clock.now_micros();
    let row = article::ActiveModel {
        slug: Set(slug),
        title: Set(title),
        body: Set(body),
        category: Set(category),
        published: Set(input.published.unwrap_or(false)),
        created_by: Set(Some(actor.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?;
    Ok(row.into())
}

/// Changes an article (admin).
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    input: ArticleInput,
) -> Result<ArticleView> {
    access::require_admin(actor)?;
    let a = find(&ctx.db.read, key).await?;
    let title = input
        .title
        .map(|t| t.trim().to_string())
        .unwrap_or(a.title.clone());
    let body = input
        .body
        .map(|b| b.trim().to_string())
        .unwrap_or(a.body.clone());
    let slug = clean(input.slug).unwrap_or(a.slug.clone());
    let category = match input.category {
        Some(c) => clean(Some(c)),
        None => a.category.clone(),
    };
    check(ctx, &title, &slug, &body, category.as_deref(), Some(a.id)).await?;
    let published = input.published.unwrap_or(a.published);
    let mut am: article::ActiveModel = a.into();
    am.title = Set(title);
    am.body = Set(body);
    am.slug = Set(slug);
    am.category = Set(category);
    am.published = Set(published);
    am.updated_at = Set(ctx.clock.now_micros());
    Ok(am.update(&ctx.db.write).await?.into())
}

/// Deletes an article (admin); its ticket links go with it.
pub async fn delete(ctx: &Ctx, actor: &Actor, key: &str) -> Result<()> {
    access::require_admin(actor)?;
    let a = find(&ctx.db.read, key).await?;
    article::Entity::delete_by_id(a.id)
        .exec(&ctx.db.write)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_search_words() {
        assert_eq!(
            slugify("  How do I reset my Password? "),
            "how-do-i-reset-my-password"
        );
        assert_eq!(slugify("VPN: drops (again)!"), "vpn-drops-again");
        assert_eq!(
            search_words("Hello, how can I reset the password for my VPN?"),
            vec!["reset", "password", "my", "vpn"]
        );
        assert!(search_words("the and * ?").is_empty());
    }

    #[test]
    fn excerpts_are_plain_and_short() {
        assert_eq!(excerpt("# Title\n\n**Bold** `code`"), "Title Bold code");
        assert_eq!(excerpt(&"word ".repeat(100)).chars().count(), 200);
    }
}
