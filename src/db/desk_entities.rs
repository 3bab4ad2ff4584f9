//! Entities of the helpdesk features: SLA policies and calendars, reply templates, ratings.

/// Business-hours calendars.
pub mod business_calendar {
    use sea_orm::entity::prelude::*;

    /// A row of `business_calendars` (`hours` and `holidays` are JSON).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "business_calendars")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub timezone: String,
        pub hours: String,
        pub holidays: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}

    crate::db::direct::cells_by_column! {
        id: Id,
        name: Name,
        timezone: Timezone,
        hours: Hours,
        holidays: Holidays,
        created_at: CreatedAt,
        updated_at: UpdatedAt,
    }
}

/// SLA policy per priority.
pub mod sla_policy {
    use sea_orm::entity::prelude::*;

    /// A row of `sla_policies`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sla_policies")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub priority: String,
        pub first_response_mins: i64,
        pub resolution_mins: i64,
        pub warn_percent: i32,
        pub calendar_id: Option<i64>,
        pub updated_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}

    crate::db::direct::cells_by_column! {
        id: Id,
        priority: Priority,
        first_response_mins: FirstResponseMins,
        resolution_mins: ResolutionMins,
        warn_percent: WarnPercent,
        calendar_id: CalendarId,
        updated_at: UpdatedAt,
    }
}

/// Canned replies.
pub mod reply_template {
    use sea_orm::entity::prelude::*;

    /// A row of `reply_templates`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reply_templates")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub category: Option<String>,
        pub body: String,
        pub created_by: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Satisfaction ratings, one per ticket.
pub mod rating {
    use sea_orm::entity::prelude::*;

    /// A row of `ratings`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ratings")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub ticket_id: i64,
        pub user_id: i64,
        pub agent_id: Option<i64>,
        pub score: i32,
        pub comment: String,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Knowledge-base articles.
pub mod article {
    use sea_orm::entity::prelude::*;

    /// A row of `articles` (PostgreSQL's generated `search` column is not mapped).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "articles")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub slug: String,
        pub title: String,
        pub body: String,
        pub category: Option<String>,
        pub published: bool,
        pub created_by: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Articles linked to tickets.
pub mod ticket_article {
    use sea_orm::entity::prelude::*;

    /// A row of `ticket_articles`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ticket_articles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ticket_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub article_id: i64,
        pub linked_by: Option<i64>,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Stored chat transcripts.
pub mod conversation {
    use sea_orm::entity::prelude::*;

    /// A row of `conversations` (`messages` is JSON).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "conversations")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: Option<i64>,
        pub messages: String,
        pub ticket_id: Option<i64>,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
