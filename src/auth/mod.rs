//! Authentication: passwords, JWT access tokens, rotating refresh tokens, personal API tokens.

pub mod caller;
pub mod password;
pub mod reset;
pub mod service;
pub mod tokens;
pub mod web_session;

use crate::tickets::model::Role;

/// The authenticated caller, as every service function sees it.
#[derive(Clone, Debug)]
pub struct Actor {
    /// User id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Sign-in e-mail (a new ticket's view shows it for its requester without reading it back).
    pub email: String,
    /// Current role (read from the database on every request, so demotions apply at once).
    pub role: Role,
}

impl Actor {
    /// Agents and admins.
    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    /// Admins only.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}
