//! `/admin/templates`: reply templates (canned replies) by category.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeMap;

use super::agent::urlencode;
use super::form::WebForm;
use super::session::Viewer;
use super::{Layout, Need, page, require, said, see_other};
use crate::app::AppState;
use crate::canned::{self, TemplateInput, TemplateView};
use crate::error::Result;
use crate::tickets::categories::{self, CategoryView};

/// `/admin/templates`.
#[derive(askama::Template)]
#[template(path = "admin_templates.html")]
pub struct TemplatesPage {
    l: Layout,
    templates: Vec<TemplateView>,
    categories: Vec<CategoryView>,
    variables: &'static [&'static str],
}

fn flash_to(msg: &str) -> Response {
    see_other(&format!("/admin/templates?flash={}", urlencode(msg)))
}

/// GET `/admin/templates`.
pub async fn templates_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(p): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    require!(v, "/admin/templates", Need::Admin);
    let mut l = Layout::new(&v, "Reply templates", "admin-templates");
    l.flash = p.get("flash").cloned();
    let view = TemplatesPage {
        l,
        templates: canned::list(&s.ctx, None, None).await?,
        categories: categories::list(&s.ctx, true).await?,
        variables: canned::VARIABLES,
    };
    Ok(page(&v, 200, &view))
}

/// Template form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TemplateForm {
    name: String,
    category: String,
    body: String,
}

/// POST `/admin/templates` (create) and `/admin/templates/{id}` (change).
pub async fn save_template(
    State(s): State<AppState>,
    v: Viewer,
    id: Option<Path<i64>>,
    WebForm { body: f, .. }: WebForm<TemplateForm>,
) -> Result<Response> {
    let a = require!(v, "/admin/templates", Need::Admin);
    let input = TemplateInput {
        name: Some(f.name),
        category: Some(f.category),
        body: Some(f.body),
    };
    let result = match id {
        Some(Path(id)) => canned::update(&s.ctx, &a, id, input).await,
        None => canned::create(&s.ctx, &a, input).await,
    };
    Ok(flash_to(&said(result, |t| {
        format!("Saved template {}.", t.name)
    })?))
}

/// POST `/admin/templates/{id}/delete`.
pub async fn delete_template(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    WebForm { .. }: WebForm<BTreeMap<String, String>>,
) -> Result<Response> {
    let a = require!(v, "/admin/templates", Need::Admin);
    Ok(flash_to(&said(
        canned::delete(&s.ctx, &a, id).await,
        |_| "Template deleted.".to_string(),
    )?))
}
