//! Admin management of SLA policies (one per priority) and business-hours calendars.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use super::calendar::Calendar;
use crate::context::Ctx;
use crate::db::desk_entities::{business_calendar, sla_policy};
use crate::error::{Error, FieldErrors, Result, push};
use crate::tickets::model::Priority;

/// Longest budget accepted: one year, in minutes.
const MAX_MINUTES: i64 = 525_600;

/// A business-hours calendar as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarView {
    /// Id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
    /// Opening hours per weekday: `{"mon": ["09:00-17:00"], …}`.
    pub hours: BTreeMap<String, Vec<String>>,
    /// Closed dates, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
}

/// A calendar to create or replace.
#[derive(Debug, Deserialize, utoipa::ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarInput {
    /// Display name (1–100 chars, unique).
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// Opening hours per weekday (`mon` … `sun`), ranges `HH:MM-HH:MM`, `24:00` allowed.
    pub hours: BTreeMap<String, Vec<String>>,
    /// Closed dates, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
}

/// An SLA policy as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    /// Id.
    pub id: i64,
    /// The priority it governs.
    pub priority: String,
    /// Budget until the first public agent reply, minutes of business time.
    pub first_response_minutes: i64,
    /// Budget until resolution, minutes of business time.
    pub resolution_minutes: i64,
    /// Share of a budget after which a warning goes out.
    pub warn_percent: i32,
    /// Business-hours calendar; `null` counts around the clock.
    pub calendar_id: Option<i64>,
}

/// Changes to a policy; absent fields stay, `calendar_id: null` switches to around the clock.
#[derive(Debug, Deserialize, utoipa::ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyInput {
    /// Minutes until the first response (1 – 525600).
    pub first_response_minutes: Option<i64>,
    /// Minutes until resolution (at least the first-response budget).
    pub resolution_minutes: Option<i64>,
    /// Warning threshold, 1–99 %.
    pub warn_percent: Option<i32>,
    /// Calendar id, or `null` for around the clock.
    #[serde(deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub calendar_id: Option<Option<i64>>,
}

fn calendar_view(row: business_calendar::Model) -> CalendarView {
    CalendarView {
        id: row.id,
        name: row.name,
        timezone: row.timezone,
        hours: serde_json::from_str(&row.hours).unwrap_or_default(),
        holidays: serde_json::from_str(&row.holidays).unwrap_or_default(),
    }
}

fn policy_view(row: sla_policy::Model) -> PolicyView {
    PolicyView {
        id: row.id,
        priority: row.priority,
        first_response_minutes: row.first_response_mins,
        resolution_minutes: row.resolution_mins,
        warn_percent: row.warn_percent,
        calendar_id: row.calendar_id,
    }
}

/// Every calendar, by name.
pub async fn calendars(ctx: &Ctx) -> Result<Vec<CalendarView>> {
    Ok(business_calendar::Entity::find()
        .order_by_asc(business_calendar::Column::Name)
        .all(&ctx.db.read)
        .await?
        .into_iter()
        .map(calendar_view)
        .collect())
}

/// Checks a calendar definition, reporting every problem by field.
fn check_calendar(input: &CalendarInput) -> Result<()> {
    let mut errors = FieldErrors::new();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        push(&mut errors, "name", "must be 1 to 100 characters");
    }
    if let Err(problems) = Calendar::parse(&input.timezone, &input.hours, &input.holidays) {
        for (field, msgs) in problems {
            for m in msgs {
                push(&mut errors, field, m);
            }
        }
    }
    Error::check(errors)
}

/// Creates a calendar.
pub async fn create_calendar(ctx: &Ctx, input: CalendarInput) -> Result<CalendarView> {
    check_calendar(&input)?;
    let now = ctx.clock.now_micros();
    let name = input.name.trim().to_string();
    if business_calendar::Entity::find()
        .filter(business_calendar::Column::Name.eq(&name))
        .count(&ctx.db.read)
        .await?
        > 0
    {
        return Err(Error::Conflict(format!("a calendar named {name:?} exists")));
    }
    let row = business_calendar::ActiveModel {
        name: Set(name),
        timezone: Set(input.timezone.trim().to_string()),
        hours: Set(serde_json::json!(input.hours).to_string()),
        holidays: Set(serde_json::json!(input.holidays).to_string()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db.write)
    .await?;
    Ok(calendar_view(row))
}

/// Replaces a calendar; tickets pick it up at their next change.
pub async fn replace_calendar(ctx: &Ctx, id: i64, input: CalendarInput) -> Result<CalendarView> {
    check_calendar(&input)?;
    let row = business_calendar::Entity::find_by_id(id)
        .one(&ctx.db.read)
        .await?
        .ok_or(Error::NotFound("calendar"))?;
    let name = input.name.trim().to_string();
    let clash = business_calendar::Entity::find()
        .filter(business_calendar::Column::Name.eq(&name))
        .filter(business_calendar::Column::Id.ne(id))
        .count(&ctx.db.read)
        .await?;
    if clash > 0 {
        return Err(Error::Conflict(format!("a calendar named {name:?} exists")));
    }
    let mut am: business_calendar::ActiveModel = row.into();
    am.name = Set(name);
    am.timezone = Set(input.timezone.trim().to_string());
    am.hours = Set(serde_json::json!(input.hours).to_string());
    am.holidays = Set(serde_json::json!(input.holidays).to_string());
    am.updated_at = Set(ctx.clock.now_micros());
    let row = am.update(&ctx.db.write).await?;
    ctx.catalog.changed();
    Ok(calendar_view(row))
}

/// Deletes a calendar no policy uses (409 otherwise).
pub async fn delete_calendar(ctx: &Ctx, id: i64) -> Result<()> {
    let used = sla_policy::Entity::find()
        .filter(sla_policy::Column::CalendarId.eq(id))
        .count(&ctx.db.read)
        .await?;
    if used > 0 {
        return Err(Error::Conflict(
            "an SLA policy uses this calendar; move the policy off it first".into(),
        ));
    }
    let res = business_calendar::Entity::delete_by_id(id)
        .exec(&ctx.db.write)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound("calendar"));
    }
    ctx.catalog.changed();
    Ok(())
}

/// The four policies, most urgent first.
pub async fn policies(ctx: &Ctx) -> Result<Vec<PolicyView>> {
    let mut rows: Vec<PolicyView> = sla_policy::Entity::find()
        .all(&ctx.db.read)
        .await?
        .into_iter()
        .map(policy_view)
        .collect();
    rows.sort_by_key(|p| std::cmp::Reverse(Priority::parse(&p.priority).map_or(0, |p| p.rank())));
    Ok(rows)
}

/// One policy by priority name.
pub async fn policy(ctx: &Ctx, priority: &str) -> Result<PolicyView> {
    Ok(policy_view(find_policy(ctx, priority).await?))
}

async fn find_policy(ctx: &Ctx, priority: &str) -> Result<sla_policy::Model> {
    let p = Priority::parse(priority.trim()).ok_or(Error::NotFound("SLA policy"))?;
    sla_policy::Entity::find()
        .filter(sla_policy::Column::Priority.eq(p.as_str()))
        .one(&ctx.db.read)
        .await?
        .ok_or(Error::NotFound("SLA policy"))
}

/// Changes a policy; new tickets and tickets changed from now on use it.
pub async fn update_policy(ctx: &Ctx, priority: &str, input: PolicyInput) -> Result<PolicyView> {
    let row = find_policy(ctx, priority).await?;
    let fr = input
        .first_response_minutes
        .unwrap_or(row.first_response_mins);
    let res = input.resolution_minutes.unwrap_or(row.resolution_mins);
    let warn = input.warn_percent.unwrap_or(row.warn_percent);
    let calendar = input.calendar_id.unwrap_or(row.calendar_id);
    let mut errors = FieldErrors::new();
    if !(1..=MAX_MINUTES).contains(&fr) {
        push(
            &mut errors,
            "first_response_minutes",
            format!("must be 1 to {MAX_MINUTES}"),
        );
    }
    if !(1..=MAX_MINUTES).contains(&res) {
        push(
            &mut errors,
            "resolution_minutes",
            format!("must be 1 to {MAX_MINUTES}"),
        );
    } else if res < fr {
        push(
            &mut errors,
            "resolution_minutes",
            "must be at least the first-response budget",
        );
    }
    if !(1..=99).contains(&warn) {
        push(&mut errors, "warn_percent", "must be 1 to 99");
    }
    if let Some(id) = calendar
        && business_calendar::Entity::find_by_id(id)
            .one(&ctx.db.read)
            .await?
            .is_none()
    {
        push(&mut errors, "calendar_id", "no such calendar");
    }
    Error::check(errors)?;
    let mut am: sla_policy::ActiveModel = row.into();
    am.first_response_mins = Set(fr);
    am.resolution_mins = Set(res);
    am.warn_percent = Set(warn);
    am.calendar_id = Set(calendar);
    am.updated_at = Set(ctx.clock.now_micros());
    let row = am.update(&ctx.db.write).await?;
    ctx.catalog.changed();
    Ok(policy_view(row))
}
