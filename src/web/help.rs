//! Public help centre: `/help` (search and browse) and `/help/{slug}` (one article).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use std::collections::BTreeMap;

use super::session::Viewer;
use super::{Layout, page};
use crate::app::AppState;
use crate::error::Result;
use crate::kb::{self, ArticleView};

/// `/help`.
#[derive(askama::Template)]
#[template(path = "help.html")]
pub struct HelpPage {
    l: Layout,
    q: String,
    articles: Vec<ArticleView>,
}

/// GET `/help?q=`.
pub async fn index(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let q = p.get("q").cloned().unwrap_or_default();
    let articles = kb::list(&s.ctx, false, None, Some(&q), 100).await?;
    let view = HelpPage {
        l: Layout::new(&v, "Help centre", "help"),
        q,
        articles,
    };
    Ok(page(&v, 200, &view))
}

/// `/help/{slug}`.
#[derive(askama::Template)]
#[template(path = "help_article.html")]
pub struct ArticlePage {
    l: Layout,
    a: ArticleView,
    body_html: String,
}

/// GET `/help/{slug}`: published articles only (admins preview drafts from their page).
pub async fn article(
    State(s): State<AppState>,
    v: Viewer,
    Path(slug): Path<String>,
) -> Result<Response> {
    let admin = v.actor.as_ref().is_some_and(|a| a.is_admin());
    let a = kb::get(&s.ctx, &slug, admin).await?;
    let view = ArticlePage {
        l: Layout::new(&v, a.title.clone(), "help-article"),
        body_html: super::markdown::render(&a.body),
        a,
    };
    Ok(page(&v, 200, &view))
}
