//! Users: customers (including password-less contacts), agents and admins.

pub mod service;
pub mod views;

use crate::clock::rfc3339;
use crate::db::entities::user;
use serde::Serialize;

/// The public representation of a user.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Email, lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `customer`, `agent` or `admin`.
    pub role: String,
    /// False once deactivated.
    pub active: bool,
    /// Agents marked away are skipped by auto-assignment.
    pub away: bool,
    /// Most open tickets auto-assignment gives them; `null` for no limit.
    pub capacity: Option<i32>,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&user::Model> for UserView {
    fn from(u: &user::Model) -> Self {
        UserView {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.clone(),
            active: u.active,
            away: u.away,
            capacity: u.capacity,
            created_at: rfc3339(u.created_at),
        }
    }
}

/// Normalises and checks an email address; returns it lower-cased.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    ok.then_some(e)
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Ada@Example.COM "),
            Some("ada@example.com".into())
        );
        for bad in [
            "", "ada", "ada@", "@x.io", "a@b", "a b@x.io", "a@x..io", "a@@x.io", "a@.x.io",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
