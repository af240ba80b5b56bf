//! PostgreSQL backend: not implemented yet.
//!
//! The [`super::Store`] trait is backend-neutral so that a PostgreSQL implementation (its own
//! migrations under `migrations/postgres`, `tsvector` search) can be added without touching the
//! handlers. Until then a `postgres://` database URL fails at start with this error, instead of
//! silently falling back to SQLite.

use super::StoreError;

/// The error returned for `postgres://` database URLs.
pub fn not_implemented() -> StoreError {
    StoreError::NotImplemented(
        "the PostgreSQL store is not implemented in this build; use a sqlite: database_url".into(),
    )
}
