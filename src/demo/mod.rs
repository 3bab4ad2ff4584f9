//! Demo data: agents, customers and tickets with threads, notes and history, created through the
//! same service functions as real traffic, spread over the last 60 days; large sets go through
//! the bulk path in `bulk`.

use rand::Rng;
use rand::seq::IndexedRandom;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::auth::Actor;
use crate::clock::Clock;
use crate::context::Ctx;
use crate::conversations;
use crate::db::entities::{ticket, user};
use crate::tickets::changes::{self, AssignTarget};
use crate::tickets::model::{Channel, Role};
use crate::tickets::service::{self, NewTicket, RequesterInput};
use crate::users::service::{self as users, NewUser};

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "triage-demo";

mod bulk;
mod files;
mod insert;
pub(crate) mod text;

pub use bulk::{BulkReport, Extras, seed_bulk};
use text::{AGENT_REPLIES, CUSTOMER_REPLIES, FIRST, LAST, NOTES, SAMPLES};

async fn ensure_user(ctx: &Ctx, email: &str, name: &str, role: Role) -> anyhow::Result<Actor> {
    ensure_account(ctx, email, name, role, Some(DEMO_PASSWORD)).await
}

/// The account with this e-mail, created (with `password`, or as a contact without) when
/// missing.
pub(crate) async fn ensure_account(
    ctx: &Ctx,
    email: &str,
    name: &str,
    role: Role,
    password: Option<&str>,
) -> anyhow::Result<Actor> {
    let u = match users::find_by_email(&ctx.db.read, email).await? {
        Some(u) => u,
        None => {
            users::create(
                ctx,
                NewUser {
                    email: email.into(),
                    name: name.into(),
                    role,
                    password: password.map(String::from),
                },
            )
            .await?
        }
    };
    Ok(Actor {
        id: u.id,
        name: u.name,
        email: u.email,
        role,
    })
}

/// Loads demo data only when there are no tickets yet.
pub async fn load_if_empty(ctx: &Ctx, tickets: usize) -> anyhow::Result<()> {
    if ticket::Entity::find().count(&ctx.db.read).await? == 0 {
        load(ctx, tickets).await?;
    }
    Ok(())
}

/// Above this many tickets the demo goes through the bulk path (rows written directly, with
/// fewer history rows) instead of the service layer.
pub const RICH_LIMIT: usize = 2_000;

/// Creates the demo accounts and `n` tickets, then prints the logins.
pub async fn load(ctx: &Ctx, n: usize) -> anyhow::Result<()> {
    let admin = ensure_user(ctx, "admin@demo.triage.dev", "Dana Admin", Role::Admin).await?;
    let mut agents = Vec::new();
    for (i, name) in ["Sam Agent", "Riley Agent", "Jordan Agent"]
        .iter()
        .enumerate()
    {
        agents.push(
            ensure_user(
                ctx,
                &format!("agent{}@demo.triage.dev", i + 1),
                name,
                Role::Agent,
            )
            .await?,
        );
    }
    let mut customers = Vec::new();
    for i in 0..20 {
        let name = format!("{} {}", FIRST[i % FIRST.len()], LAST[(i * 7) % LAST.len()]);
        customers.push(
            ensure_user(
                ctx,
                &format!("customer{}@example.com", i + 1),
                &name,
                Role::Customer,
            )
            .await?,
        );
    }
    if n > RICH_LIMIT {
        let ids: Vec<i64> = agents.iter().map(|a| a.id).collect();
        let progress = |done: usize, total: usize| {
            eprint!("\r  seeding tickets {done}/{total}");
            if done == total {
                eprintln!();
            }
        };
        let r = seed_bulk(ctx, &ids, n, &progress).await?;
        println!("Bulk data loaded: {r}.");
        print_logins();
        return Ok(());
    }
    // A context whose clock starts 60 days ago and walks forward, so history looks lived-in.
    let clock = Clock::default();
    clock.advance(chrono::Duration::days(-60));
    let demo = Ctx::new(crate::context::Parts {
        clock: clock.clone(),
        ..(**ctx).clone()
    });
    let step = chrono::Duration::seconds((60 * 86_400 - 7200) / n.max(1) as i64);
    let mut rng = rand::rng();
    let channels = [Channel::Web, Channel::Portal, Channel::Email, Channel::Api];
    let priorities = [
        "low", "medium", "medium", "medium", "high", "high", "urgent",
    ];
    let start = clock.now_micros();
    for i in 0..n {
        // Each ticket starts at its own slot; its activity happens after, never past the real now.
        let slot = start + step.num_microseconds().unwrap_or(0) * (i as i64 + 1);
        clock.advance(chrono::Duration::microseconds(slot - clock.now_micros()));
        let (cat, subject, body) = SAMPLES[i % SAMPLES.len()];
        let customer = customers
            .choose(&mut rng)
            .cloned()
            .unwrap_or_else(|| admin.clone());
        let t = service::create(
            &demo,
            NewTicket {
                subject: subject.into(),
                description: body.into(),
                description_field: "description",
                category: cat.into(),
                priority: priorities.choose(&mut rng).map(|p| p.to_string()),
                tags: if i % 4 == 0 {
                    vec!["vip".into()]
                } else {
                    Vec::new()
                },
                channel: channels[i % channels.len()],
                requester: RequesterInput::Id(customer.id),
                page_url: None,
                browser_info: None,
                ip: None,
                conversation_id: None,
                follow_up_of: None,
                suppress_ack: false,
                attachments: Vec::new(),
            },
        )
        .await?;
        let key = t.id.to_string();
        // Target: 0 open, 1 assigned, 2 in_progress, 3 waiting, 4 on_hold, 5 resolved, 6 closed, 7 reopened.
        let target = i % 8;
        if target == 0 {
            continue;
        }
        let agent = &agents[rng.random_range(0..agents.len())];
        let minutes = |m: i64| {
            let cap = chrono::Utc::now().timestamp_micros() - 60_000_000 - clock.now_micros();
            chrono::Duration::microseconds((m * 60_000_000).min(cap.max(0)))
        };
        clock.advance(minutes(rng.random_range(5..90)));
        changes::assign(&demo, &admin, &key, AssignTarget::Agent(agent.id)).await?;
        if target == 1 {
            continue;
        }
        changes::set_status(&demo, agent, &key, "in_progress", None).await?;
        clock.advance(minutes(rng.random_range(5..240)));
        conversations::add(
            &demo,
            agent,
            &key,
            AGENT_REPLIES.choose(&mut rng).copied().unwrap_or("Hello"),
            false,
            Channel::Web,
        )
        .await?;
        if i % 3 == 0 {
            conversations::add(
                &demo,
                agent,
                &key,
                NOTES.choose(&mut rng).copied().unwrap_or("Note"),
                true,
                Channel::Web,
            )
            .await?;
        }
        match target {
            2 => {}
            3 => {
                changes::set_status(&demo, agent, &key, "waiting", None).await?;
            }
            4 => {
                changes::set_status(&demo, agent, &key, "on_hold", None).await?;
            }
            _ => {
                changes::set_status(&demo, agent, &key, "waiting", None).await?;
                clock.advance(minutes(rng.random_range(30..600)));
                conversations::add(
                    &demo,
                    &customer,
                    &key,
                    CUSTOMER_REPLIES[0],
                    false,
                    Channel::Email,
                )
                .await?;
                clock.advance(minutes(rng.random_range(10..300)));
                conversations::add(&demo, agent, &key, AGENT_REPLIES[2], false, Channel::Web)
                    .await?;
                changes::set_status(
                    &demo,
                    agent,
                    &key,
                    "resolved",
                    Some("Fixed and confirmed.".into()),
                )
                .await?;
                if target == 6 {
                    clock.advance(minutes(rng.random_range(60..2000)));
                    changes::set_status(&demo, agent, &key, "closed", None).await?;
                } else if target == 7 {
                    clock.advance(minutes(rng.random_range(60..600)));
                    conversations::add(
                        &demo,
                        &customer,
                        &key,
                        CUSTOMER_REPLIES[2],
                        false,
                        Channel::Email,
                    )
                    .await?;
                }
            }
        }
    }
    let total_users = user::Entity::find().count(&ctx.db.read).await?;
    println!("Demo data loaded: {n} tickets, {total_users} users.");
    print_logins();
    Ok(())
}

fn print_logins() {
    println!("Log in with password '{DEMO_PASSWORD}' as:");
    println!("  admin     admin@demo.triage.dev");
    println!("  agents    agent1@demo.triage.dev, agent2@demo.triage.dev, agent3@demo.triage.dev");
    println!("  customers customer1@example.com … customer20@example.com");
}
