//! The `triage` command: serve | worker | mailgate | migrate | user create | demo-data | backup |
//! bench.

use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use triage::app::{Application, open_context};
use triage::clock::Clock;
use triage::config::Config;
use triage::tickets::model::Role;
use triage::users::service::{self as users, NewUser};

/// mimalloc in place of glibc's malloc: a request makes ~120 short-lived allocations, and
/// glibc's spent a quarter of the server's CPU on a ticket read (BENCHMARKS.md, twentieth
/// session: PostgreSQL get +12 %, SQLite list pages +16 %). Built without its transparent
/// huge pages (`no_thp`), which added ~12 MB of idle RSS for no measurable speed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "triage", version, about = "Triage: a self-hosted helpdesk")]
struct Cli {
    /// TOML configuration file (default: ./triage.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (SQLite file, keys, attachments).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Load demo data first when the database has no tickets.
        #[arg(long)]
        demo: bool,
    },
    /// Run only the delivery workers (e-mail, webhooks) and the IMAP poller, without HTTP.
    Worker,
    /// Take one RFC 822 message on stdin (for an MTA pipe). Exit codes follow sysexits:
    /// 0 taken in (or ignored as automatic mail), 65 unreadable, 75 try again later, 78 bad config.
    Mailgate,
    /// Poll the configured IMAP folder once and exit.
    ImapPoll,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent backup of the database while Triage keeps running.
    Backup {
        /// Output file (default: <data dir>/backups/triage-<timestamp>.db, or .sql on PostgreSQL).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Benchmark: seed N tickets in bulk, then drive the HTTP API from K clients per scenario.
    Bench(BenchArgs),
    /// Load a realistic sample: agents, customers, tickets with threads and history.
    DemoData {
        /// Number of tickets.
        #[arg(long, default_value_t = 500)]
        tickets: usize,
    },
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Benchmark a running Triage at this URL instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// Staff e-mail to log in with (`--url`); the password comes from TRIAGE_BENCH_PASSWORD.
    #[arg(long)]
    email: Option<String>,
    /// API token for `--url` (instead of --email).
    #[arg(long, env = "TRIAGE_BENCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Tickets in the database before the scenarios run (own server; topped up in bulk).
    #[arg(long, default_value_t = 100_000)]
    tickets: usize,
    /// Concurrent clients for reads, search and comments.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Concurrent clients for the create scenario.
    #[arg(long, default_value_t = 32)]
    create_clients: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Comma-separated scenarios: create, get, list, list_deep, search, comment, mixed, mail
    /// (inbound e-mail through the mailgate intake; own server only), health (HTTP floor).
    #[arg(
        long,
        default_value = "create,get,list,list_deep,search,comment,mixed",
        value_delimiter = ','
    )]
    scenarios: Vec<String>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Own server on this PostgreSQL database instead of a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// SQLite `synchronous` mode of the own server: full (default, power-loss safe) or normal.
    #[arg(long, default_value = "full")]
    sqlite_synchronous: String,
    /// Pages of a filtered list walked to collect deep cursors.
    #[arg(long, default_value_t = 200)]
    deep_pages: usize,
    /// Longest wait, in seconds, for the server's background jobs before each scenario
    /// (0: do not wait, so a scenario shares the cores with the last one's fan-out).
    #[arg(long, default_value_t = 120)]
    settle_seconds: u64,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from stdin when it is not a terminal, else prompted.
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// admin, agent or customer.
        #[arg(long, default_value = "customer")]
        role: String,
    },
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            anyhow::bail!("passwords do not match");
        }
        Ok(first)
    } else {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s.lines().next().unwrap_or("").to_string())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// sysexits codes an MTA understands.
const EX_DATAERR: u8 = 65;
const EX_TEMPFAIL: u8 = 75;
const EX_CONFIG: u8 = 78;

/// `triage mailgate`: read one message from stdin and hand it to intake.
async fn mailgate(config: Config) -> ExitCode {
    let limit = config.max_mail_bytes;
    let mut raw = Vec::new();
    let read = std::io::stdin()
        .take(limit as u64 + 1)
        .read_to_end(&mut raw);
    if let Err(e) = read {
        eprintln!("mailgate: cannot read stdin: {e}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    let ctx = match open_context(config, Clock::default()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mailgate: database unavailable: {e:#}");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    match triage::mail::inbound::receive(&ctx, &raw).await {
        Ok(out) => {
            println!(
                "{} {}",
                out.name(),
                out.ticket_id().map(|t| t.to_string()).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e @ triage::error::Error::Validation { .. }) => {
            eprintln!("mailgate: message refused: {}", describe(e));
            ExitCode::from(EX_DATAERR)
        }
        Err(e) => {
            eprintln!("mailgate: temporary failure: {e}");
            ExitCode::from(EX_TEMPFAIL)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        config.data_dir = d.clone();
    }
    match cli.command {
        Command::Mailgate => Ok(mailgate(config).await),
        Command::Worker => {
            let ctx = open_context(config, Clock::default()).await?;
            ctx.blobs.sweep_stale_spool();
            let stop = tokio_util::sync::CancellationToken::new();
            let tasks = match triage::notify::spawn_background(ctx, stop.clone()) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return Ok(ExitCode::from(EX_CONFIG));
                }
            };
            tracing::info!("workers running; Ctrl-C to stop");
            shutdown_signal().await;
            stop.cancel();
            for t in tasks {
                let _ = t.await;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ImapPoll => {
            let ctx = open_context(config, Clock::default()).await?;
            let settings = triage::mail::imap::Settings::from_url(&ctx.config.imap_url)?;
            let r = triage::mail::imap::poll_once(&ctx, &settings).await?;
            println!(
                "processed {}, rejected {}, deferred {}",
                r.processed, r.rejected, r.deferred
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { listen, demo } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            let listen = config.listen.clone();
            let app = Application::build(config, Clock::default()).await?;
            if demo {
                triage::demo::load_if_empty(&app.ctx, 500).await?;
            }
            if users::count_active_admins(&app.ctx.db.read).await? == 0 {
                tracing::warn!(
                    "no admin account exists; create one with: triage user create --email you@example.com --name \"Your Name\" --role admin"
                );
            }
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            tracing::info!(address = %listener.local_addr()?, attachments = %app.ctx.blobs.describe(), "Triage is listening; API docs at /docs");
            app.serve(listener, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            open_context(config, Clock::default()).await?;
            println!("database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            action: UserCommand::Create { email, name, role },
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("role must be admin, agent or customer"))?;
            let ctx = open_context(config, Clock::default()).await?;
            let password = read_password()?;
            let u = users::create(
                &ctx,
                NewUser {
                    email,
                    name,
                    role,
                    password: Some(password),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!(describe(e)))?;
            println!("created {} {} <{}> (id {})", u.role, u.name, u.email, u.id);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { output } => {
            let ctx = open_context(config, Clock::default()).await?;
            let out = output.unwrap_or_else(|| {
                triage::db::backup::default_path(&ctx.config, ctx.db.backend, ctx.clock.now())
            });
            triage::db::backup::backup(&ctx.db, &ctx.config, &out).await?;
            println!("backup written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(b) => {
            let opts = triage::bench::BenchOptions {
                url: b.url,
                email: b.email,
                password: std::env::var("TRIAGE_BENCH_PASSWORD").ok(),
                token: b.token,
                tickets: b.tickets,
                clients: b.clients.max(1),
                create_clients: b.create_clients.max(1),
                seconds: b.seconds.max(1),
                scenarios: b.scenarios,
                json: b.json,
                database_url: b.database_url,
                data_dir: cli.data_dir.clone(),
                sqlite_synchronous: b.sqlite_synchronous,
                deep_pages: b.deep_pages,
                settle_seconds: b.settle_seconds,
            };
            triage::bench::run(opts).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DemoData { tickets } => {
            let ctx = open_context(config, Clock::default()).await?;
            triage::demo::load(&ctx, tickets).await?;
            ctx.db.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn describe(e: triage::error::Error) -> String {
    match e {
        triage::error::Error::Validation { errors, .. } => errors
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.join("; ")))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "triage=info,tower_http=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: escape codes in a log file or the journal
        // are noise, and styling each request's span fields was ~2 % of a ticket read.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
