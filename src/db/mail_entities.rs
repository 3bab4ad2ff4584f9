//! Entities added with e-mail and notifications: delivery attempts, webhooks, threading ids,
//! the inbound log, attachments, password resets and admin-edited mail templates.

/// One delivery attempt of a job (the delivery log's detail).
pub mod job_attempt {
    use sea_orm::entity::prelude::*;

    /// A row of `job_attempts`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub job_id: i64,
        pub attempt: i32,
        pub started_at: i64,
        pub finished_at: i64,
        pub ok: bool,
        pub response: String,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Admin-configured webhook destinations.
pub mod webhook {
    use sea_orm::entity::prelude::*;

    /// A row of `webhooks`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhooks")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub url: String,
        pub kind: String,
        pub events: String,
        pub secret: Option<String>,
        pub active: bool,
        pub rate_per_minute: i32,
        pub blocked_until: Option<i64>,
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
        url: Url,
        kind: Kind,
        events: Events,
        secret: Secret,
        active: Active,
        rate_per_minute: RatePerMinute,
        blocked_until: BlockedUntil,
        created_at: CreatedAt,
        updated_at: UpdatedAt,
    }
}

/// Every Message-ID known to belong to a ticket (received or sent).
pub mod mail_id {
    use sea_orm::entity::prelude::*;

    /// A row of `mail_ids`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mail_ids")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub message_id: String,
        pub ticket_id: i64,
        pub message_row: Option<i64>,
        pub direction: String,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}

    crate::db::direct::cells_by_column! {
        message_id: MessageId,
        ticket_id: TicketId,
        message_row: MessageRow,
        direction: Direction,
        created_at: CreatedAt,
    }
}

/// What happened to each inbound message (created, threaded, ignored and why).
pub mod inbound_mail {
    use sea_orm::entity::prelude::*;

    /// A row of `inbound_mail`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inbound_mail")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub message_id: Option<String>,
        pub sender: String,
        pub subject: String,
        pub outcome: String,
        pub reason: String,
        pub ticket_id: Option<i64>,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Files attached to a ticket's messages, stored content-addressed.
pub mod attachment {
    use sea_orm::entity::prelude::*;

    /// A row of `attachments`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "attachments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub ticket_id: i64,
        pub message_row: Option<i64>,
        pub filename: String,
        pub content_type: String,
        pub size: i64,
        pub sha256: String,
        pub inline_cid: Option<String>,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}

    crate::db::direct::cells_by_column! {
        id: Id,
        ticket_id: TicketId,
        message_row: MessageRow,
        filename: Filename,
        content_type: ContentType,
        size: Size,
        sha256: Sha256,
        inline_cid: InlineCid,
        created_at: CreatedAt,
    }
}

/// Single-use password reset tokens (stored as hashes).
pub mod password_reset {
    use sea_orm::entity::prelude::*;

    /// A row of `password_resets`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "password_resets")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub token_hash: String,
        pub expires_at: i64,
        pub used_at: Option<i64>,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Admin overrides of the built-in e-mail templates.
pub mod mail_template {
    use sea_orm::entity::prelude::*;

    /// A row of `mail_templates`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mail_templates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub subject: String,
        pub text_body: String,
        pub html_body: String,
        pub updated_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Browser sessions of the web pages.
pub mod web_session {
    use sea_orm::entity::prelude::*;

    /// A row of `web_sessions`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "web_sessions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub token_hash: String,
        pub user_id: i64,
        pub created_at: i64,
        pub last_seen_at: i64,
        pub expires_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Named queue filters an agent saved.
pub mod saved_view {
    use sea_orm::entity::prelude::*;

    /// A row of `saved_views`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "saved_views")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub name: String,
        pub query: String,
        pub created_at: i64,
    }
    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
