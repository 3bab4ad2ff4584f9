//! Application bootstrap: connect, migrate, seed, build the router, serve.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::tokens::Keys;
use crate::clock::Clock;
use crate::config::Config;
use crate::context::Ctx;
use crate::db::Db;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The capabilities' context.
    pub ctx: Ctx,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Per-IP rate limits.
    pub limits: crate::api::limit::Limits,
    http: Arc<crate::http_metrics::HttpMetrics>,
}

/// A built application, ready to serve on a listener.
pub struct Application {
    /// The full router.
    pub router: Router,
    /// The context (tests use it to advance the clock).
    pub ctx: Ctx,
}

/// Reads the secret from config, else from `secret.key` in the data dir, generating it once.
fn load_secret(config: &Config) -> anyhow::Result<String> {
    if !config.secret_key.is_empty() {
        return Ok(config.secret_key.clone());
    }
    let path = config.data_dir.join("secret.key");
    if let Ok(s) = std::fs::read_to_string(&path)
        && !s.trim().is_empty()
    {
        return Ok(s.trim().to_string());
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let secret = crate::auth::tokens::random_token();
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

/// Connects to the database and applies pending migrations: what every subcommand does first.
pub async fn open_context(config: Config, clock: Clock) -> anyhow::Result<Ctx> {
    // lettre and reqwest share rustls; pick its crypto backend once (a second call is a no-op).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let db = Db::connect(&config).await?;
    let applied = crate::db::migrations::migrate(&db).await?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    // A bulk load cut off by a crash left indexes set aside: build them before serving.
    crate::db::deferred::rebuild(&db).await?;
    let keys = Keys::new(&load_secret(&config)?);
    let blobs = Arc::new(crate::attachments::Blobs::from_config(&config)?);
    let ctx = Ctx::new(crate::context::Parts {
        blobs,
        db,
        config: Arc::new(config),
        keys,
        clock,
        catalog: Default::default(),
        hints: Default::default(),
    });
    crate::tickets::categories::seed_defaults(&ctx).await?;
    Ok(ctx)
}

impl Application {
    /// Builds the app on a fresh context.
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Application> {
        let ctx = open_context(config, clock).await?;
        let limits = crate::api::limit::Limits::new(ctx.config.rate_limit_per_minute);
        let pruner = limits.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                pruner.prune();
            }
        });
        Ok(Application {
            router: router(ctx.clone(), limits),
            ctx,
        })
    }

    /// Serves until `shutdown` completes, then drains in-flight requests. Delivery workers
    /// (and the IMAP poller, when configured) run alongside unless `workers` is off, and
    /// finish their current batch before this returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.ctx.blobs.sweep_stale_spool();
        let stop = tokio_util::sync::CancellationToken::new();
        let background = if self.ctx.config.workers {
            crate::notify::spawn_background(self.ctx.clone(), stop.clone())?
        } else {
            Vec::new()
        };
        let http = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        stop.cancel();
        for task in background {
            let _ = task.await;
        }
        // Nothing reads or writes any more: copy the WAL back now rather than leave it for
        // the next start to wait on (see `Db::close`).
        self.ctx.db.close().await;
        http?;
        Ok(())
    }
}

/// The outermost step of our own: the per-IP limits, the security headers a response has not
/// set itself, and the request metrics — one middleware rather than five layers, since every
/// layer costs each request a boxed future and a copy of the request.
async fn edge(state: axum::extract::State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let start = Instant::now();
    let ip = crate::api::limit::client_ip(&req);
    let refused = crate::api::limit::refusal(&state.limits, &method, req.uri().path(), ip).await;
    let mut res = match refused {
        Some(refused) => refused,
        None => next.run(req).await,
    };
    let headers = res.headers_mut();
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    let path = res.extensions().get::<MatchedPath>();
    let path = path.map_or("unmatched", |p| p.as_str());
    let secs = start.elapsed().as_secs_f64();
    state
        .http
        .record(&method, path, res.status().as_u16(), secs);
    res
}

/// Hands the route a request matched on to the layers outside the router (`edge`),
/// which see only the response.
async fn keep_matched_path(req: Request, next: Next) -> Response {
    let path = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    if let Some(path) = path {
        res.extensions_mut().insert(path);
    }
    res
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    crate::error::Error::Internal(anyhow::anyhow!("panic")).into_response()
}

/// The whole HTTP surface; `limits` is shared with the pruning task.
pub fn router(ctx: Ctx, limits: crate::api::limit::Limits) -> Router {
    let recorder = PrometheusBuilder::new()
        .set_buckets(&[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ])
        .map(|b| b.build_recorder())
        .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
    let state = AppState {
        metrics: recorder.handle(),
        http: Arc::new(crate::http_metrics::HttpMetrics::new(recorder)),
        limits,
        ctx: ctx.clone(),
    };
    let (api, openapi) = crate::api::routes();
    let api = api.method_not_allowed_fallback(crate::api::meta::method_not_allowed);
    let request_id = HeaderName::from_static("x-request-id");
    let routes = Router::new()
        .merge(crate::web::routes())
        .nest("/api/v1", api)
        .route("/api/v1", get(crate::api::meta::info))
        .route("/health", get(crate::api::meta::health))
        .route("/ready", get(crate::api::meta::ready))
        .route("/metrics", get(crate::api::meta::metrics))
        .merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", openapi))
        .fallback(crate::web::not_found)
        .method_not_allowed_fallback(crate::api::meta::method_not_allowed)
        .layer(middleware::from_fn(keep_matched_path))
        .with_state(state.clone());
    // The layers wrap the router once rather than each route (`Router::layer`): per route,
    // every request cloned each layer's boxed copy of the rest of the chain, ~100 allocations
    // per request (a quarter of the server's instructions for a ticket read went to malloc).
    let layered = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id))
        // Outside the panic catcher, so a panic's 500 is counted and carries the headers.
        .layer(middleware::from_fn_with_state(state, edge))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(ctx.config.max_body_bytes))
        .service(routes);
    Router::new().fallback_service(layered)
}
