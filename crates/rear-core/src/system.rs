//! Facts about the running system (placeholder).
