//! The JSON API under `/api/v1`, plus `/health`, `/ready`, `/metrics`, OpenAPI and `/docs`.

pub mod actions;
pub mod admin;
pub mod auth;
pub mod canned;
pub mod drafts;
pub mod extract;
pub mod files;
pub mod json;
pub mod kb;
pub mod limit;
pub mod meta;
pub mod notify;
pub mod rating;
pub mod reports;
pub mod sla;
pub mod tickets;
pub mod upload;

use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// Top-level OpenAPI document; paths are added from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Triage API", description = "Helpdesk tickets, users and workflow. Errors: {status:\"error\", message, code, errors?}."),
    servers((url = "/api/v1")),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or trg_ API token")
                    .build(),
            ),
        );
    }
}

/// The `/api/v1` routes and the OpenAPI document generated from them.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::forgot_password))
        .routes(routes!(auth::reset_password))
        .routes(routes!(auth::list_tokens, auth::create_token))
        .routes(routes!(auth::revoke_token))
        .routes(routes!(tickets::submit))
        .routes(routes!(tickets::list, tickets::create))
        .routes(routes!(tickets::export_csv))
        .routes(routes!(actions::bulk))
        .routes(routes!(tickets::get, tickets::patch, tickets::delete))
        .routes(routes!(actions::set_status))
        .routes(routes!(actions::set_priority))
        .routes(routes!(actions::assign))
        .routes(routes!(actions::list_comments, actions::add_comment))
        .routes(routes!(actions::history))
        .routes(routes!(actions::stats))
        .routes(routes!(actions::track))
        .routes(routes!(actions::track_reply))
        .routes(routes!(files::download))
        .routes(routes!(files::track_download))
        .routes(routes!(admin::list_users, admin::create_user))
        .routes(routes!(
            admin::get_user,
            admin::patch_user,
            admin::delete_user
        ))
        .routes(routes!(admin::list_categories, admin::create_category))
        .routes(routes!(admin::patch_category, admin::delete_category))
        .routes(routes!(admin::list_agents))
        .routes(routes!(admin::agent_tickets))
        .routes(routes!(notify::list_webhooks, notify::create_webhook))
        .routes(routes!(notify::patch_webhook, notify::delete_webhook))
        .routes(routes!(notify::delivery_log))
        .routes(routes!(notify::retry_delivery))
        .routes(routes!(notify::cancel_delivery))
        .routes(routes!(notify::list_mail_templates))
        .routes(routes!(
            notify::put_mail_template,
            notify::reset_mail_template
        ))
        .routes(routes!(notify::inbound, notify::inbound_log))
        .routes(routes!(actions::merge))
        .routes(routes!(drafts::store))
        .routes(routes!(drafts::draft))
        .routes(routes!(reports::dashboard))
        .routes(routes!(reports::tickets))
        .routes(routes!(reports::agents))
        .routes(routes!(reports::sla))
        .routes(routes!(kb::list, kb::create))
        .routes(routes!(kb::get, kb::patch, kb::delete))
        .routes(routes!(kb::ticket_articles, kb::link))
        .routes(routes!(kb::unlink))
        .routes(routes!(rating::rate))
        .routes(routes!(rating::rate_tracked))
        .routes(routes!(canned::list, canned::create))
        .routes(routes!(canned::variables))
        .routes(routes!(canned::get, canned::patch, canned::delete))
        .routes(routes!(canned::render))
        .routes(routes!(sla::list_policies))
        .routes(routes!(sla::get_policy, sla::put_policy))
        .routes(routes!(sla::list_calendars, sla::create_calendar))
        .routes(routes!(sla::put_calendar, sla::delete_calendar))
        .split_for_parts()
}
