//! Helpers for partial-update bodies.

use serde::{Deserialize, Deserializer};

/// Tells an explicit `null` (`Some(None)`: clear the field) from an absent field (`None`:
/// keep it). Use with `#[serde(default, deserialize_with = "crate::patch::nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}
