//! Wire types shared by the `rear` client and `rear-server`.
//!
//! Everything in here is plain data with serde derives: it must not depend on the client's or the
//! server's internals, so that both sides can evolve while the format stays versioned.
