//! SeaORM entity models: one per table, shared by both backends. Times are Unix microseconds.

/// Accounts: customers, agents, admins (contacts have no password).
pub mod user {
    use sea_orm::entity::prelude::*;

    /// A row of `users`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
        pub name: String,
        pub role: String,
        pub password_hash: Option<String>,
        pub active: bool,
        pub away: bool,
        pub last_assigned_at: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
        pub capacity: Option<i32>,
    }
    /// No navigable relations; joins are written explicitly.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}

    crate::db::direct::cells_by_column! {
        id: Id,
        email: Email,
        name: Name,
        role: Role,
        password_hash: PasswordHash,
        active: Active,
        away: Away,
        last_assigned_at: LastAssignedAt,
        created_at: CreatedAt,
        updated_at: UpdatedAt,
        capacity: Capacity,
    }
}

/// Rotating refresh tokens, grouped in families for reuse detection.
pub mod refresh_token {
    use sea_orm::entity::prelude::*;

    /// A row of `refresh_tokens`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub family: String,
        pub token_hash: String,
        pub expires_at: i64,
        pub used_at: Option<i64>,
        pub revoked_at: Option<i64>,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Personal API tokens (stored as hashes).
pub mod api_token {
    use sea_orm::entity::prelude::*;

    /// A row of `api_tokens`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub name: String,
        pub prefix: String,
        pub token_hash: String,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Admin-managed ticket categories.
pub mod category {
    use sea_orm::entity::prelude::*;

    /// A row of `categories`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "categories")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub slug: String,
        pub name: String,
        pub description: String,
        pub active: bool,
        pub position: i32,
        pub created_at: i64,
        pub updated_at: i64,
        pub auto_assign: bool,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Tickets.
pub mod ticket {
    use sea_orm::entity::prelude::*;

    /// A row of `tickets`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tickets")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub number: String,
        pub subject: String,
        pub description: String,
        pub category: String,
        pub priority: String,
        pub priority_rank: i32,
        pub status: String,
        pub requester_id: i64,
        pub assignee_id: Option<i64>,
        pub channel: String,
        pub page_url: Option<String>,
        pub browser_info: Option<String>,
        pub ip: Option<String>,
        pub conversation_id: Option<i64>,
        pub merged_into: Option<i64>,
        pub resolution: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub first_response_at: Option<i64>,
        pub resolved_at: Option<i64>,
        pub closed_at: Option<i64>,
        pub first_response_due_at: Option<i64>,
        pub resolution_due_at: Option<i64>,
        pub follow_up_of: Option<i64>,
        pub sla_paused_at: Option<i64>,
        pub sla_paused_micros: i64,
        pub sla_alerts: i32,
        pub sla_next_at: Option<i64>,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}

    /// How many columns `Entity::find()` selects (extra columns come after them).
    pub const COLUMNS: usize = Column::SlaNextAt as usize + 1;

    crate::db::direct::cells_by_column! {
        id: Id,
        number: Number,
        subject: Subject,
        description: Description,
        category: Category,
        priority: Priority,
        priority_rank: PriorityRank,
        status: Status,
        requester_id: RequesterId,
        assignee_id: AssigneeId,
        channel: Channel,
        page_url: PageUrl,
        browser_info: BrowserInfo,
        ip: Ip,
        conversation_id: ConversationId,
        merged_into: MergedInto,
        resolution: Resolution,
        created_at: CreatedAt,
        updated_at: UpdatedAt,
        first_response_at: FirstResponseAt,
        resolved_at: ResolvedAt,
        closed_at: ClosedAt,
        first_response_due_at: FirstResponseDueAt,
        resolution_due_at: ResolutionDueAt,
        follow_up_of: FollowUpOf,
        sla_paused_at: SlaPausedAt,
        sla_paused_micros: SlaPausedMicros,
        sla_alerts: SlaAlerts,
        sla_next_at: SlaNextAt,
    }
}

/// Free labels on tickets.
pub mod ticket_tag {
    use sea_orm::entity::prelude::*;

    /// A row of `ticket_tags`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ticket_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ticket_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag: String,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Thread messages: public replies and internal notes.
pub mod message {
    use sea_orm::entity::prelude::*;

    /// A row of `messages`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "messages")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub ticket_id: i64,
        pub author_id: Option<i64>,
        pub body: String,
        pub internal: bool,
        pub channel: String,
        pub created_at: i64,
        pub quoted: Option<String>,
        pub message_id: Option<String>,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}

    crate::db::direct::cells_by_column! {
        id: Id,
        ticket_id: TicketId,
        author_id: AuthorId,
        body: Body,
        internal: Internal,
        channel: Channel,
        created_at: CreatedAt,
        quoted: Quoted,
        message_id: MessageId,
    }
}

/// Ticket history: one row per changed field.
pub mod ticket_event {
    use sea_orm::entity::prelude::*;

    /// A row of `ticket_events`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ticket_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub ticket_id: i64,
        pub actor_id: Option<i64>,
        pub field: String,
        pub old_value: Option<String>,
        pub new_value: Option<String>,
        pub internal: bool,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// The durable job queue (outbox for every side effect).
pub mod job {
    use sea_orm::entity::prelude::*;

    /// A row of `jobs`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "jobs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub kind: String,
        pub channel: String,
        pub target: Option<String>,
        pub ticket_id: Option<i64>,
        pub payload: String,
        pub status: String,
        pub attempts: i32,
        pub max_attempts: i32,
        pub run_at: i64,
        pub locked_until: Option<i64>,
        pub last_error: Option<String>,
        pub idempotency_key: String,
        pub created_at: i64,
        pub updated_at: i64,
        pub finished_at: Option<i64>,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}

    /// The columns in `Column` order, for a `RETURNING` list read by position.
    pub fn column_list() -> String {
        use sea_orm::Iterable;
        let names: Vec<&str> = Column::iter().map(|c| c.as_str()).collect();
        names.join(", ")
    }

    crate::db::direct::cells_by_column! {
        id: Id,
        kind: Kind,
        channel: Channel,
        target: Target,
        ticket_id: TicketId,
        payload: Payload,
        status: Status,
        attempts: Attempts,
        max_attempts: MaxAttempts,
        run_at: RunAt,
        locked_until: LockedUntil,
        last_error: LastError,
        idempotency_key: IdempotencyKey,
        created_at: CreatedAt,
        updated_at: UpdatedAt,
        finished_at: FinishedAt,
    }
}

#[cfg(test)]
mod tests {
    use super::{job, message, ticket, user};
    use crate::db::desk_entities::{business_calendar, sla_policy};
    use crate::db::mail_entities::{attachment, mail_id, webhook};
    use sea_orm::{DatabaseBackend, EntityTrait, Iterable, QueryTrait};

    /// `cells_by_column!` reads by `Column as usize`: that must be the position in which
    /// `Entity::find()` selects each column.
    fn selects_in_column_order<E: EntityTrait>(table: &str)
    where
        E::Column: Iterable + Copy,
    {
        let sql = E::find().build(DatabaseBackend::Sqlite).sql;
        let mut from = 0;
        for (i, c) in E::Column::iter().enumerate() {
            let name = format!("\"{table}\".\"{}\"", sea_orm::IdenStatic::as_str(&c));
            let at = sql[from..]
                .find(&name)
                .unwrap_or_else(|| panic!("column {i}, {name}, in order in {sql}"));
            from += at + name.len();
        }
    }

    #[test]
    fn models_read_by_position_are_selected_in_column_order() {
        selects_in_column_order::<ticket::Entity>("tickets");
        selects_in_column_order::<user::Entity>("users");
        selects_in_column_order::<job::Entity>("jobs");
        selects_in_column_order::<webhook::Entity>("webhooks");
        selects_in_column_order::<message::Entity>("messages");
        selects_in_column_order::<mail_id::Entity>("mail_ids");
        selects_in_column_order::<attachment::Entity>("attachments");
        selects_in_column_order::<sla_policy::Entity>("sla_policies");
        selects_in_column_order::<business_calendar::Entity>("business_calendars");
        for (i, c) in ticket::Column::iter().enumerate() {
            assert_eq!(c as usize, i);
        }
        assert_eq!(ticket::COLUMNS, ticket::Column::iter().count());
    }
}
