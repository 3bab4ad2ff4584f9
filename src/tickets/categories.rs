//! Admin-managed categories; the seven defaults are created on first start.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;

use crate::context::Ctx;
use crate::db::entities::{category, ticket};
use crate::error::{Error, FieldErrors, Result, push};

/// The spec's default categories: slug and display name.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("general", "General"),
    ("account", "Account"),
    ("billing", "Billing"),
    ("technical", "Technical"),
    ("bug", "Bug report"),
    ("feature_request", "Feature request"),
    ("question", "Question"),
];

/// A category as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CategoryView {
    /// Id.
    pub id: i64,
    /// Stable identifier used on tickets.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Help text.
    pub description: String,
    /// Offered on forms.
    pub active: bool,
    /// Display order.
    pub position: i32,
    /// New tickets in it are assigned automatically.
    pub auto_assign: bool,
}

impl From<category::Model> for CategoryView {
    fn from(c: category::Model) -> Self {
        CategoryView {
            id: c.id,
            slug: c.slug,
            name: c.name,
            description: c.description,
            active: c.active,
            position: c.position,
            auto_assign: c.auto_assign,
        }
    }
}

/// Inserts the default categories when the table is empty.
pub async fn seed_defaults(ctx: &Ctx) -> Result<()> {
    if category::Entity::find().count(&ctx.db.write).await? > 0 {
        return Ok(());
    }
    let now = ctx.clock.now_micros();
    let rows = DEFAULTS
        .iter()
        .enumerate()
        .map(|(i, (slug, name))| category::ActiveModel {
            slug: Set(slug.to_string()),
            name: Set(name.to_string()),
            description: Set(String::new()),
            active: Set(true),
            position: Set(i as i32),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    category::Entity::insert_many(rows)
        .exec(&ctx.db.write)
        .await?;
    Ok(())
}

/// All categories (inactive ones only for admins).
pub async fn list(ctx: &Ctx, include_inactive: bool) -> Result<Vec<CategoryView>> {
    let mut q = category::Entity::find();
    if !include_inactive {
        q = q.filter(category::Column::Active.eq(true));
    }
    Ok(q.order_by_asc(category::Column::Position)
        .order_by_asc(category::Column::Id)
        .all(&ctx.db.read)
        .await?
        .into_iter()
        .map(CategoryView::from)
        .collect())
}

/// Category fields for create and update.
#[derive(Default)]
pub struct CategoryInput {
    /// Slug (create only).
    pub slug: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Active flag.
    pub active: Option<bool>,
    /// Position.
    pub position: Option<i32>,
    /// Assign new tickets automatically.
    pub auto_assign: Option<bool>,
}

fn check(errors: &mut FieldErrors, input: &CategoryInput) {
    if let Some(s) = &input.slug {
        let ok = (2..=40).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            push(
                errors,
                "slug",
                "must be 2 to 40 characters of a-z, 0-9 and _",
            );
        }
    }
    if let Some(n) = &input.name
        && (n.trim().is_empty() || n.trim().chars().count() > 80)
    {
        push(errors, "name", "must be 1 to 80 characters");
    }
    if input
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1000)
    {
        push(errors, "description", "must be at most 1000 characters");
    }
}

/// Creates a category; slugs are unique.
pub async fn create(ctx: &Ctx, input: CategoryInput) -> Result<CategoryView> {
    let mut errors = FieldErrors::new();
    if input.slug.is_none() {
        push(&mut errors, "slug", "is required");
    }
    if input.name.is_none() {
        push(&mut errors, "name", "is required");
    }
    check(&mut errors, &input);
    Error::check(errors)?;
    let slug = input.slug.unwrap_or_default();
    if category::Entity::find()
        .filter(category::Column::Slug.eq(slug.clone()))
        .count(&ctx.db.read)
        .await?
        > 0
    {
        return Err(Error::Conflict(format!("category {slug} already exists")));
    }
    let now = ctx.clock.now_micros();
    let m = category::ActiveModel {
        slug: Set(slug),
        name: Set(input.name.unwrap_or_default().trim().to_string()),
        description: Set(input.description.unwrap_or_default()),
        active: Set(input.active.unwrap_or(true)),
        position: Set(input.position.unwrap_or(100)),
        auto_assign: Set(input.auto_assign.unwrap_or(false)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?;
    ctx.catalog.changed();
    Ok(m.into())
}

/// Updates a category (its slug is fixed: tickets refer to it).
pub async fn update(ctx: &Ctx, id: i64, input: CategoryInput) -> Result<CategoryView> {
    if input.slug.is_some() {
        return Err(Error::field(
            "slug",
            "cannot be changed; create a new category instead",
        ));
    }
    let mut errors = FieldErrors::new();
    check(&mut errors, &input);
    Error::check(errors)?;
    let c = category::Entity::find_by_id(id)
        .one(&ctx.db.read)
        .await?
        .ok_or(Error::NotFound("category"))?;
    let mut am: category::ActiveModel = c.into();
    if let Some(n) = input.name {
        am.name = Set(n.trim().to_string());
    }
    if let Some(d) = input.description {
        am.description = Set(d);
    }
    if let Some(a) = input.active {
        am.active = Set(a);
    }
    if let Some(a) = input.auto_assign {
        am.auto_assign = Set(a);
    }
    if let Some(p) = input.position {
        am.position = Set(p);
    }
    let now = ctx.clock.now_micros();
    am.updated_at = Set(now);
    let txn = ctx.db.begin().await?;
    let updated = am.update(&txn).await?;
    if input.auto_assign == Some(true) {
        // Switching it on distributes the tickets already waiting in the category.
        crate::tickets::autoassign::fill_backlog(&txn, now).await?;
    }
    txn.commit().await?;
    ctx.catalog.changed();
    Ok(updated.into())
}

/// Deletes an unused category; one still on tickets must be deactivated instead.
pub async fn delete(ctx: &Ctx, id: i64) -> Result<()> {
    let c = category::Entity::find_by_id(id)
        .one(&ctx.db.read)
        .await?
        .ok_or(Error::NotFound("category"))?;
    let used = ticket::Entity::find()
        .filter(ticket::Column::Category.eq(c.slug.clone()))
        .count(&ctx.db.read)
        .await?;
    if used > 0 {
        return Err(Error::Conflict(format!(
            "category {} is used by {used} tickets; deactivate it instead (PATCH active=false)",
            c.slug
        )));
    }
    category::Entity::delete_by_id(id)
        .exec(&ctx.db.write)
        .await?;
    ctx.catalog.changed();
    Ok(())
}
