//! A bearer credential whose signature is checked but whose account is not read yet, so that
//! on PostgreSQL a read can carry the account's row along in the same round trip.
//!
//! Every API request re-reads its account (deactivation and demotion apply at once), and on
//! PostgreSQL each statement is a round trip to a backend process on the same cores: a ticket
//! read was two of them. The read's statement depends on the caller's id and role (what they
//! may see), which are known only after the account is read; a *hint* (the JWT's claims, or
//! what an API token resolved to last time in this process) chooses the statement, and the
//! account read beside it decides. When the hint turns out wrong (a role changed since), the
//! read is simply done again for the live account, so a hint never grants anything.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{DbErr, Statement, Value};

use super::Actor;
use super::service::{AccountRow, authenticate_account};
use super::tokens::{API_TOKEN_PREFIX, hash_token};
use crate::context::Ctx;
use crate::db::direct::{Cells, Decode, Shifted};
use crate::error::{Error, Result};

/// Most API tokens whose account a process remembers as a hint; past it the memory starts over.
const MAX_HINTS: usize = 4096;

/// What each API token (by hash) resolved to last time: a guess of the next request's
/// account, checked against the account read with it.
#[derive(Default)]
pub struct Hints(Mutex<HashMap<String, Actor>>);

impl Hints {
    fn get(&self, hash: &str) -> Option<Actor> {
        self.0.lock().ok()?.get(hash).cloned()
    }

    fn put(&self, hash: &str, actor: &Actor) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= MAX_HINTS && !m.contains_key(hash) {
                m.clear();
            }
            m.insert(hash.to_string(), actor.clone());
        }
    }
}

/// How a caller proves who they are.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A verified access token's subject.
    Jwt(i64),
    /// A personal API token, by the hash it is stored under.
    ApiToken(String),
}

/// A caller whose credential is valid on its face; the account is still to be read.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The credential.
    pub credential: Credential,
    /// Who the caller probably is (the JWT's claims or the token's last account), if known.
    pub hint: Option<Actor>,
}

/// Checks a bearer credential's form and signature without reading the database.
pub fn caller(ctx: &Ctx, bearer: &str) -> Result<Caller> {
    if bearer.starts_with(API_TOKEN_PREFIX) {
        let hash = hash_token(bearer);
        let hint = ctx.hints.get(&hash);
        return Ok(Caller {
            credential: Credential::ApiToken(hash),
            hint,
        });
    }
    let claims = ctx
        .keys
        .verify_access(bearer, ctx.clock.now_micros() / 1_000_000)
        .ok_or_else(|| Error::Unauthorized("invalid or expired access token".into()))?;
    let role = crate::tickets::model::Role::parse(&claims.role);
    Ok(Caller {
        credential: Credential::Jwt(claims.sub),
        hint: role.map(|role| Actor {
            id: claims.sub,
            name: String::new(),
            email: String::new(),
            role,
        }),
    })
}

/// The live, active account of `caller` (one read, folded on PostgreSQL with concurrent
/// requests' reads of the same kind of account).
pub async fn actor(ctx: &Ctx, caller: &Caller) -> Result<Actor> {
    let row = ctx
        .db
        .read_one_coalesced::<AccountRow>(account_statement(ctx, caller, 1))
        .await?;
    settle(ctx, caller, row).await
}

/// The rows `build` reads for the caller's live account, with that account. On PostgreSQL,
/// with a hint, the account and the rows come in one statement; otherwise the account is
/// read first. `build` must give a statement whose rows the decoder reads from column 0.
pub async fn read_as<D: Decode>(
    ctx: &Ctx,
    caller: &Caller,
    build: impl Fn(&Actor) -> Result<Statement>,
    decoder: &D,
) -> Result<(Actor, Vec<D::Row>)> {
    read_folded(ctx, caller, build, decoder, Batching::Alone).await
}

/// `read_as` for a statement of a few rows whose order does not matter and whose values
/// stand where a column may (not in `LIMIT`): on PostgreSQL it goes together with
/// concurrent requests' reads of the same text (see [`crate::db::coalesce`]).
pub async fn read_few_as<D: Decode>(
    ctx: &Ctx,
    caller: &Caller,
    build: impl Fn(&Actor) -> Result<Statement>,
    decoder: &D,
) -> Result<(Actor, Vec<D::Row>)> {
    read_folded(ctx, caller, build, decoder, Batching::Together).await
}

/// Whether a folded read may be batched with others.
#[derive(Clone, Copy, PartialEq)]
enum Batching {
    Alone,
    Together,
}

async fn read_folded<D: Decode>(
    ctx: &Ctx,
    caller: &Caller,
    build: impl Fn(&Actor) -> Result<Statement>,
    decoder: &D,
    batching: Batching,
) -> Result<(Actor, Vec<D::Row>)> {
    let Some(hint) = caller.hint.as_ref().filter(|_| ctx.db.is_postgres()) else {
        let actor = actor(ctx, caller).await?;
        let rows = ctx.db.read_with(build(&actor)?, decoder).await?;
        return Ok((actor, rows));
    };
    let inner = build(hint)?;
    let values: Vec<Value> = inner.values.map(|v| v.0).unwrap_or_default();
    let account = account_statement(ctx, caller, values.len() + 1);
    // The account's placeholder follows the inner statement's, so its text is used as it is.
    // Built in one allocation: `format!` cannot size ~1.8 KB of arguments ahead and grew the
    // text several times per request.
    let parts = [
        "SELECT a.*, v.* FROM (",
        &account.sql,
        ") AS a LEFT JOIN (",
        &inner.sql,
        ") AS v ON 1 = 1",
    ];
    let mut sql = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| sql.push_str(p));
    let mut all = values;
    all.extend(account.values.map(|v| v.0).unwrap_or_default());
    let folded = Statement::from_sql_and_values(ctx.db.backend, sql, all);
    let rows = match batching {
        Batching::Alone => ctx.db.read_pooled(folded, &Folded::new(decoder)).await?,
        Batching::Together => ctx.db.read_coalesced(folded, &Folded::new(decoder)).await?,
    }
    .into_iter();
    let mut account_row = None;
    let mut out = Vec::new();
    for (account, row) in rows {
        if account_row.is_none() {
            account_row = account;
        }
        out.extend(row);
    }
    let actor = settle(ctx, caller, account_row).await?;
    if actor.id != hint.id || actor.role != hint.role {
        let rows = ctx.db.read_with(build(&actor)?, decoder).await?;
        return Ok((actor, rows));
    }
    Ok((actor, out))
}

/// The account statement with its one value bound at `$at` (both backends read `$n` as the
/// n-th value).
fn account_statement(ctx: &Ctx, caller: &Caller, at: usize) -> Statement {
    let p = format!("${at}");
    let (sql, value): (String, Value) = match &caller.credential {
        Credential::Jwt(id) => (
            format!(
                "SELECT id, name, role, active, email, CAST(NULL AS BIGINT) AS token_id, \
                 CAST(NULL AS BIGINT) AS token_used_at FROM users WHERE id = {p}"
            ),
            (*id).into(),
        ),
        Credential::ApiToken(hash) => (
            format!(
                "SELECT u.id, u.name, u.role, u.active, u.email, t.id AS token_id, \
                 t.last_used_at AS token_used_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = {p} AND t.revoked_at IS NULL"
            ),
            hash.clone().into(),
        ),
    };
    Statement::from_sql_and_values(ctx.db.backend, sql, [value])
}

/// The account read (or its absence) as the caller's actor, remembering an API token's.
async fn settle(ctx: &Ctx, caller: &Caller, row: Option<AccountRow>) -> Result<Actor> {
    let missing = match caller.credential {
        Credential::Jwt(_) => "account not found or deactivated",
        Credential::ApiToken(_) => "invalid API token",
    };
    let row = row.ok_or_else(|| Error::Unauthorized(missing.into()))?;
    let actor = authenticate_account(ctx, row).await?;
    let hinted = caller
        .hint
        .as_ref()
        .is_some_and(|h| h.id == actor.id && h.role == actor.role);
    if let (Credential::ApiToken(hash), false) = (&caller.credential, hinted) {
        ctx.hints.put(hash, &actor);
    }
    Ok(actor)
}

/// Reads a folded row: the account's seven columns, then the inner statement's row (absent
/// when the inner statement found nothing: its first column is then NULL). Every row repeats
/// the account; only the first row's is decoded (on a list page that was 50 needless reads
/// of seven cells, three of them strings).
struct Folded<'a, D> {
    inner: &'a D,
    account_read: AtomicBool,
}

impl<'a, D> Folded<'a, D> {
    fn new(inner: &'a D) -> Self {
        Folded {
            inner,
            account_read: AtomicBool::new(false),
        }
    }
}

impl<D: Decode> Decode for Folded<'_, D> {
    type Row = (Option<AccountRow>, Option<D::Row>);
    fn decode(&self, row: &impl Cells) -> std::result::Result<Self::Row, DbErr> {
        let account = match self.account_read.swap(true, Ordering::Relaxed) {
            false => Some(<AccountRow as crate::db::direct::FromCells>::from_cells(
                row,
            )?),
            true => None,
        };
        let first: Option<i64> = row.at(ACCOUNT_COLUMNS)?;
        let inner = match first {
            Some(_) => Some(self.inner.decode(&Shifted(row, ACCOUNT_COLUMNS))?),
            None => None,
        };
        Ok((account, inner))
    }
}

/// Columns of the account statement.
const ACCOUNT_COLUMNS: usize = 7;
