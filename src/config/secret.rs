//! Secrets in the configuration: kept, but never shown.

use std::fmt;

use rocket::serde::{Deserialize, Serialize};

/// A password or token: its `Debug` output is `"<redacted>"`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", transparent)]
pub struct Secret(pub(crate) String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}
