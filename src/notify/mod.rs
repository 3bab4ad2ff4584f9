//! Notifications: the job handler that turns domain events into e-mails and webhook calls and
//! delivers them. Runs inside `triage serve` or alone as `triage worker`.

pub mod chat;
pub mod deliver;
pub mod fanout;
pub mod summary;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::context::Ctx;
use crate::db::entities::job;
use crate::jobs::queue::Outcome;
use crate::jobs::worker::{self, Handler};
use crate::mail::outbound::{Mailer, OutgoingEmail};

/// Runs every kind of job Triage enqueues.
pub struct Notifier {
    ctx: Ctx,
    mailer: Mailer,
    http: reqwest::Client,
    windows: deliver::RateWindows,
}

impl Notifier {
    /// Builds the SMTP transport and HTTP client from the configuration.
    pub fn new(ctx: Ctx) -> anyhow::Result<Notifier> {
        let mailer = Mailer::from_config(&ctx.config)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(ctx.config.delivery_timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Notifier {
            ctx,
            mailer,
            http,
            windows: deliver::RateWindows::default(),
        })
    }

    async fn dispatch(&self, j: &job::Model) -> crate::error::Result<Outcome> {
        match j.channel.as_str() {
            "event" => fanout::run(&self.ctx, j).await,
            "email" => match serde_json::from_str::<OutgoingEmail>(&j.payload) {
                Ok(e) => Ok(self.mailer.send(&e).await),
                Err(err) => Ok(Outcome::Fail(format!("unreadable e-mail job: {err}"))),
            },
            "webhook" => deliver::deliver(&self.ctx, &self.http, &self.windows, j).await,
            "system" if j.kind == "daily_summary" => summary::run(&self.ctx, j).await,
            "system" if j.kind == "sla_sweep" => crate::sla::sweep::run(&self.ctx).await,
            other => Ok(Outcome::Fail(format!("no handler for {other}/{}", j.kind))),
        }
    }
}

impl Handler for Notifier {
    async fn handle(&self, j: &job::Model) -> Outcome {
        match self.dispatch(j).await {
            Ok(o) => o,
            // Storage trouble is temporary: try again later.
            Err(e) => Outcome::Retry {
                error: e.to_string(),
                after_secs: None,
            },
        }
    }

    async fn tick(&self) {
        if let Err(e) = summary::schedule(&self.ctx).await {
            tracing::warn!(error = %e, "could not schedule the daily summary");
        }
        if let Err(e) = crate::sla::sweep::schedule(&self.ctx).await {
            tracing::warn!(error = %e, "could not schedule the SLA sweep");
        }
        let keep = self.ctx.config.job_retention_days.max(1) * 86_400_000_000;
        let before = self.ctx.clock.now_micros() - keep;
        match crate::jobs::queue::prune(&self.ctx.db.write, before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "pruned finished jobs from the delivery log"),
            Err(e) => tracing::warn!(error = %e, "could not prune finished jobs"),
        }
    }
}

/// Starts the delivery worker and, when `imap_url` is set, the IMAP poller; both stop when
/// `stop` is cancelled.
pub fn spawn_background(
    ctx: Ctx,
    stop: CancellationToken,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let notifier = Arc::new(Notifier::new(ctx.clone())?);
    let mut tasks = vec![tokio::spawn(worker::run(
        ctx.clone(),
        notifier,
        stop.clone(),
    ))];
    if !ctx.config.imap_url.trim().is_empty() {
        let settings = crate::mail::imap::Settings::from_url(&ctx.config.imap_url)?;
        tasks.push(tokio::spawn(crate::mail::imap::run(ctx, settings, stop)));
    }
    Ok(tasks)
}
