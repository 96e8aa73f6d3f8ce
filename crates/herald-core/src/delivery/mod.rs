//! Delivery, provider-neutral and without I/O: what a provider call can come to ([`Outcome`]),
//! and when a failed one is tried again ([`RetryPolicy`]). The provider modules (crate
//! `herald-providers`) turn provider answers into an [`Attempt`]; the worker (crate `herald`)
//! records it and reschedules.

mod outcome;
mod retry;

pub use outcome::{Attempt, Outcome};
pub use retry::RetryPolicy;
