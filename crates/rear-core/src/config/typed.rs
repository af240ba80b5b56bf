//! Typed accessors (placeholder).
