//! Push hooks: GitLab tells us about a push to a project's default branch, and the project is synced within
//! seconds instead of at the next tick. A hook is only a hint: it enqueues the project's usual sync message (the
//! worker reads the branch head itself, since a push payload carries at most 20 commits and GitLab sends no hook
//! for a push of more than 3 refs), and the schedule stays the safety net.
//!
//! - [`push`]: the hook's payload, read with bounded sizes and checked shapes;
//! - [`ports`]: whether a connection exists, and the project's enqueue lease as a hook takes it ([`PushLeases`]);
//! - [`secret_cache`]: the hook secrets of known connections, remembered for a minute in a bounded LRU;
//! - [`service`]: [`PushHooks`], which checks the connection's hook secret, reads the event and enqueues.
//!
//! Bursts coalesce through the scheduler's enqueue lease ([`crate::kernel::enqueue_lease::EnqueueLease`]): the first
//! push after a quiet spell is sent at once, and one while that sync may still run waits a short window after it
//! and covers every push until then ([`crate::kernel::enqueue_lease::LeaseRequest::plan`]).

pub mod ports;
pub mod push;
pub mod secret_cache;
pub mod service;

pub use ports::PushLeases;
pub use push::{PushError, PushEvent};
pub use service::{
    Delivery, HookError, HookOptions, IgnoreReason, PushHooks, Received, Refusal, Unavailable,
};
