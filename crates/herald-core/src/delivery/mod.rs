//! Delivery, provider-neutral and without I/O: the event a trigger writes and its recipients
//! (`event`), the jobs the workers claim and what one run of a job records (`job`), what the
//! activity APIs read back (`activity`), the storage traits for all of it (`store`), what a provider
//! call can come to ([`Outcome`]) and when a failed one is tried again ([`RetryPolicy`]).
//!
//! The provider modules (crate `herald-providers`) turn provider answers into an [`Attempt`]; the
//! worker (crate `herald`) decides and records.

pub mod activity;
pub mod event;
pub mod job;
mod outcome;
mod retry;
mod store;

pub use outcome::{Attempt, Outcome};
pub use retry::RetryPolicy;
pub use store::{ActivityStore, EventStore, FanOutProgress, JobQueue, QueueState};
