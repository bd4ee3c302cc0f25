//! What operating projects needs from storage: every project of a connection as the state table holds it, one
//! project, the enqueue lease as an operator's sync takes it, a re-import's request, and a requested turn of the
//! connection. The AWS adapter is
//! `crate::aws::project_store`, next to the tick's and the hooks' writes of the same items.

use std::future::Future;

use super::model::ProjectState;
use crate::kernel::enqueue_lease::{LeaseRequest, LeaseTake};
use crate::kernel::ids::ConnectionId;
use crate::kernel::store::StoreError;

pub trait ProjectStates: Send + Sync {
    /// Every project the scheduler recorded for the connection, in project id order.
    fn project_states(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<Vec<ProjectState>, StoreError>> + Send;

    /// One project the scheduler recorded (`None`: no tick recorded it).
    fn project_state(
        &self,
        connection: &ConnectionId,
        project_id: u64,
    ) -> impl Future<Output = Result<Option<ProjectState>, StoreError>> + Send;

    /// Takes the lease `request` plans on the project's schedule item as a push hook does (the project's status
    /// one a tick syncs, the lease the one read), and only while no tick holds the connection's scheduling lock at
    /// the request's time: one transaction, so a tick that reads and writes the connection's leases under its lock
    /// never overwrites this lease with what it read before. `None` when the caller is to try again: the lease is
    /// not the one the caller saw (`seen_visible_ms`, 0 for none) when it decided to ask, a tick holds the lock,
    /// another writer changed the lease since the read, or the transaction met another write.
    fn take_operator_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        request: &LeaseRequest,
        seen_visible_ms: i64,
    ) -> impl Future<Output = Result<Option<LeaseTake>, StoreError>> + Send;

    /// Gives back a lease whose message could not be sent, if it is still that lease (`visible_at_ms` names it).
    fn release_operator_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        visible_at_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records on the project's sync item that its whole default branch is to be imported again (`stamp`, a
    /// change stamp): the next sync that reads it does so, and clears it once done.
    fn request_resync(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        stamp: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks a turn of the connection requested at `at` (epoch seconds) on its scheduling item, unless a request
    /// since `since` stands: `false` then, and nothing is written.
    fn claim_turn_request(
        &self,
        connection: &ConnectionId,
        at: i64,
        since: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes back a turn request whose message could not be sent, if it is still that one.
    fn release_turn_request(
        &self,
        connection: &ConnectionId,
        at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
