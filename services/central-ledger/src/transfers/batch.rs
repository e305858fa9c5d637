//! Consuming a topic in batches: the bus's own helpers (`bus::batch`), named here for the
//! handlers.

pub use bus::batch::{commit, next_batch, BatchLimits};
