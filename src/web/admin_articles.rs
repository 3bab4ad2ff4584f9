//! `/admin/articles`: write, publish and retire help articles.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeMap;

use super::agent::urlencode;
use super::form::WebForm;
use super::session::Viewer;
use super::{Layout, Need, page, require, said, see_other};
use crate::app::AppState;
use crate::error::Result;
use crate::kb::{self, ArticleInput, ArticleView};
use crate::tickets::categories::{self, CategoryView};

/// `/admin/articles`.
#[derive(askama::Template)]
#[template(path = "admin_articles.html")]
pub struct ArticlesPage {
    l: Layout,
    articles: Vec<ArticleView>,
    categories: Vec<CategoryView>,
}

fn flash_to(msg: &str) -> Response {
    see_other(&format!("/admin/articles?flash={}", urlencode(msg)))
}

/// GET `/admin/articles`.
pub async fn articles_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    require!(v, "/admin/articles", Need::Admin);
    let mut l = Layout::new(&v, "Help articles", "admin-articles");
    l.flash = p.get("flash").cloned();
    let view = ArticlesPage {
        l,
        articles: kb::list(&s.ctx, true, None, None, 100).await?,
        categories: categories::list(&s.ctx, true).await?,
    };
    Ok(page(&v, 200, &view))
}

/// Article form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ArticleForm {
    title: String,
    slug: String,
    category: String,
    body: String,
    published: String,
}

/// POST `/admin/articles` (create) and `/admin/articles/{id}` (change).
pub async fn save_article(
    State(s): State<AppState>,
    v: Viewer,
    id: Option<Path<i64>>,
    WebForm { body: f, .. }: WebForm<ArticleForm>,
) -> Result<Response> {
    let a = require!(v, "/admin/articles", Need::Admin);
    let input = ArticleInput {
        title: Some(f.title),
        slug: Some(f.slug),
        body: Some(f.body),
        category: Some(f.category),
        published: Some(f.published == "true"),
    };
    let result = match id {
        Some(Path(id)) => kb::update(&s.ctx, &a, &id.to_string(), input).await,
        None => kb::create(&s.ctx, &a, input).await,
    };
    Ok(flash_to(&said(result, |x| {
        if x.published {
            format!("Saved and published {}.", x.title)
        } else {
            format!("Saved {} as a draft.", x.title)
        }
    })?))
}

/// POST `/admin/articles/{id}/delete`.
pub async fn delete_article(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    WebForm { .. }: WebForm<BTreeMap<String, String>>,
) -> Result<Response> {
    let a = require!(v, "/admin/articles", Need::Admin);
    let done = kb::delete(&s.ctx, &a, &id.to_string()).await;
    Ok(flash_to(&said(done, |_| "Article deleted.".to_string())?))
}
