//! Ticket value types: status, priority, channel, each stored as TEXT.

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire spelling.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The accepted spellings, comma separated (for error messages).
            pub fn choices() -> String {
                [$($text),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Where a ticket is in its life.
    Status {
        Open => "open",
        Assigned => "assigned",
        InProgress => "in_progress",
        Waiting => "waiting",
        OnHold => "on_hold",
        Resolved => "resolved",
        Closed => "closed",
        Reopened => "reopened",
    }
);

text_enum!(
    /// How urgent a ticket is.
    Priority {
        Low => "low",
        Medium => "medium",
        High => "high",
        Urgent => "urgent",
    }
);

text_enum!(
    /// How a ticket reached Triage.
    Channel {
        Web => "web",
        Portal => "portal",
        Email => "email",
        Api => "api",
    }
);

text_enum!(
    /// What an account may do.
    Role {
        Customer => "customer",
        Agent => "agent",
        Admin => "admin",
    }
);

impl Priority {
    /// Sort rank: higher is more urgent (stored in `priority_rank`).
    pub fn rank(self) -> i32 {
        match self {
            Priority::Low => 1,
            Priority::Medium => 2,
            Priority::High => 3,
            Priority::Urgent => 4,
        }
    }
}

impl Status {
    /// Statuses that count as "open work" (not resolved or closed).
    pub fn is_active(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed)
    }

    /// Names of the statuses that count as open work (all but resolved and closed).
    pub fn active_names() -> Vec<&'static str> {
        Status::ALL
            .iter()
            .filter(|s| s.is_active())
            .map(|s| s.as_str())
            .collect()
    }
}

impl Role {
    /// Agents and admins are staff.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Agent | Role::Admin)
    }
}
