//! Request handlers: [`api`] (JSON), [`pages`] (HTML), [`admin`] (tokens, users), [`session`]
//! (login and logout).
//!
//! Handlers only translate between HTTP and the store/ingest layers; they authenticate through
//! the extractors of [`crate::auth::extract`] and fail with [`crate::error::ApiError`].

pub mod admin;
pub mod api;
pub mod images;
pub mod metrics;
pub mod pages;
pub mod session;

pub use crate::health::{host_state, host_summary};
