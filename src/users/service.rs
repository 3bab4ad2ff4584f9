//! User service functions: create, contacts from forms/email, list, update, deactivate.

use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};

use crate::auth::password;
use crate::context::Ctx;
use crate::db::entities::user;
use crate::db::tx::{self, Tx};
use crate::error::{Error, FieldErrors, Result, push};
use crate::tickets::model::Role;

/// Input for creating an account.
pub struct NewUser {
    /// Email address (normalised here).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Password; `None` creates a contact that cannot log in.
    pub password: Option<String>,
}

/// Checks a display name; returns it trimmed.
pub fn check_name(errors: &mut FieldErrors, name: &str) -> String {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        push(errors, "name", "must be 1 to 100 characters");
    }
    n.to_string()
}

/// Checks a new password's length.
pub fn check_password(errors: &mut FieldErrors, pw: &str) {
    let len = pw.chars().count();
    if !(8..=256).contains(&len) {
        push(errors, "password", "must be 8 to 256 characters");
    }
}

/// Checks and normalises an email into the error set.
pub fn check_email(errors: &mut FieldErrors, email: &str) -> String {
    match super::normalize_email(email) {
        Some(e) => e,
        None => {
            push(errors, "email", "must be a valid email address");
            String::new()
        }
    }
}

/// Creates an account; a duplicate email is a conflict.
pub async fn create(ctx: &Ctx, new: NewUser) -> Result<user::Model> {
    let mut errors = FieldErrors::new();
    let email = check_email(&mut errors, &new.email);
    let name = check_name(&mut errors, &new.name);
    if let Some(pw) = &new.password {
        check_password(&mut errors, pw);
    }
    Error::check(errors)?;
    if find_by_email(&ctx.db.read, &email).await?.is_some() {
        return Err(Error::Conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let hash = match &new.password {
        Some(pw) => Some(hash_blocking(pw.clone()).await?),
        None => None,
    };
    new_row(&email, &name, new.role, hash, ctx.clock.now_micros())
        .insert(&ctx.db.write)
        .await
        .map_err(|e| unique_to_conflict(e, &email))
}

fn new_row(
    email: &str,
    name: &str,
    role: Role,
    hash: Option<String>,
    now: i64,
) -> user::ActiveModel {
    user::ActiveModel {
        email: Set(email.to_string()),
        name: Set(name.to_string()),
        role: Set(role.as_str().to_string()),
        password_hash: Set(hash),
        active: Set(true),
        away: Set(false),
        last_assigned_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Hashes on the blocking pool: Argon2 is deliberately slow and must not stall the runtime.
pub async fn hash_blocking(pw: String) -> Result<String> {
    tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| Error::Internal(e.into()))?
        .map_err(Error::Internal)
}

fn unique_to_conflict(e: sea_orm::DbErr, email: &str) -> Error {
    let text = e.to_string().to_lowercase();
    if text.contains("unique") || text.contains("duplicate") {
        Error::Conflict(format!("a user with email {email} already exists"))
    } else {
        Error::Db(e)
    }
}

/// Looks a user up by (normalised) email.
pub async fn find_by_email(conn: &impl Tx, email: &str) -> Result<Option<user::Model>> {
    let query = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .limit(1)
        .into_query();
    Ok(tx::first(conn, &query).await?)
}

/// Finds the account for an email, creating a password-less customer contact when unknown.
pub async fn find_or_create_contact(
    conn: &impl Tx,
    email: &str,
    name: &str,
    now: i64,
) -> Result<user::Model> {
    if let Some(u) = find_by_email(conn, email).await? {
        return Ok(u);
    }
    // On PostgreSQL two intakes from one new sender run side by side: the second insert waits
    // for the first to commit and then does nothing, and both read the row that won.
    let insert = user::Entity::insert(new_row(email, name, Role::Customer, None, now))
        .on_conflict(
            OnConflict::column(user::Column::Email)
                .do_nothing()
                .to_owned(),
        )
        .into_query();
    conn.exec(conn.backend().build(&insert)).await?;
    find_by_email(conn, email)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("contact {email} missing after insert")))
}

/// One user by id.
pub async fn get(ctx: &Ctx, id: i64) -> Result<user::Model> {
    user::Entity::find_by_id(id)
        .one(&ctx.db.read)
        .await?
        .ok_or(Error::NotFound("user"))
}

/// Users filtered by role and a name/email substring, newest first.
pub async fn list(
    ctx: &Ctx,
    role: Option<Role>,
    q: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<(Vec<user::Model>, u64)> {
    let mut query = user::Entity::find();
    if let Some(r) = role {
        query = query.filter(user::Column::Role.eq(r.as_str()));
    }
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        query = query.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(user::Column::Name))).like(pattern.clone()))
                .add(user::Column::Email.like(pattern)),
        );
    }
    let total = query.clone().count(&ctx.db.read).await?;
    let rows = query
        .order_by_desc(user::Column::Id)
        .limit(limit)
        .offset(offset)
        .all(&ctx.db.read)
        .await?;
    Ok((rows, total))
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserPatch {
    /// New display name.
    pub name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// Away flag for auto-assignment.
    pub away: Option<bool>,
    /// Most open tickets auto-assignment gives them (`Some(None)`: no limit).
    pub capacity: Option<Option<i32>>,
    /// New password.
    pub password: Option<String>,
}

/// Applies a patch; refuses to remove the last active admin.
pub async fn update(ctx: &Ctx, id: i64, patch: UserPatch) -> Result<user::Model> {
    let current = get(ctx, id).await?;
    let mut errors = FieldErrors::new();
    let name = patch.name.as_deref().map(|n| check_name(&mut errors, n));
    if let Some(pw) = &patch.password {
        check_password(&mut errors, pw);
    }
    if let Some(Some(c)) = patch.capacity
        && !(0..=10_000).contains(&c)
    {
        crate::error::push(
            &mut errors,
            "capacity",
            "must be 0 to 10000, or null for no limit",
        );
    }
    Error::check(errors)?;
    let loses_admin = current.role == "admin"
        && current.active
        && (patch.role.is_some_and(|r| r != Role::Admin) || patch.active == Some(false));
    if loses_admin && count_active_admins(&ctx.db.read).await? <= 1 {
        return Err(Error::Conflict(
            "cannot remove the last active admin".into(),
        ));
    }
    let current_capacity = current.capacity;
    let mut am: user::ActiveModel = current.into();
    if let Some(n) = name {
        am.name = Set(n);
    }
    if let Some(r) = patch.role {
        am.role = Set(r.as_str().to_string());
    }
    if let Some(a) = patch.active {
        am.active = Set(a);
    }
    if let Some(a) = patch.away {
        am.away = Set(a);
    }
    if let Some(c) = patch.capacity {
        am.capacity = Set(c);
    }
    // Back from away, more room, or reactivated: hand out waiting tickets.
    let frees_up = patch.away == Some(false)
        || matches!(patch.capacity, Some(c) if c != current_capacity)
        || patch.active == Some(true);
    if let Some(pw) = patch.password {
        am.password_hash = Set(Some(hash_blocking(pw).await?));
    }
    let now = ctx.clock.now_micros();
    am.updated_at = Set(now);
    let txn = ctx.db.begin().await?;
    let updated = am.update(&txn).await?;
    if frees_up {
        crate::tickets::autoassign::fill_backlog(&txn, now).await?;
    }
    txn.commit().await?;
    Ok(updated)
}

/// Number of active admins.
pub async fn count_active_admins(conn: &impl ConnectionTrait) -> Result<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq("admin"))
        .filter(user::Column::Active.eq(true))
        .count(conn)
        .await?)
}
