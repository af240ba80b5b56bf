//! Workflows (placeholder).
