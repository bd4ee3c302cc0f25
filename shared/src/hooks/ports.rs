//! What a push hook needs from storage: whether a connection exists (checked before its hook secret is read, so
//! that made-up connection ids cost no Secrets Manager read), and the project's enqueue lease, taken with one
//! conditional write of the scheduler's item of the project (the AWS adapter is `crate::aws::project_store`, next
//! to the tick's writes of the same item; tests use the memory fake of `crate::testing`).

use std::future::Future;

use crate::kernel::enqueue_lease::{LeaseRequest, LeaseTake};
use crate::kernel::ids::ConnectionId;
use crate::kernel::store::StoreError;

pub trait PushLeases: Send + Sync {
    /// Whether the credentials API has recorded the connection (one key lookup, far cheaper than a secret read).
    fn connection_exists(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes the lease `request` plans from the project's current one
    /// ([`LeaseRequest::plan`](crate::kernel::enqueue_lease::LeaseRequest::plan)), if the project is one a tick
    /// would sync (its status in [`ON_DEMAND_STATUSES`](crate::kernel::enqueue_lease::ON_DEMAND_STATUSES), not
    /// gone) and no queued message covers the push. One read, then one write conditional on the lease read;
    /// `None` when another writer changed the lease in between (the caller reads it again).
    fn take_push_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        request: &LeaseRequest,
    ) -> impl Future<Output = Result<Option<LeaseTake>, StoreError>> + Send;

    /// Gives back a lease whose message could not be sent, if it is still that lease (`visible_at_ms` names it).
    fn release_push_lease(
        &self,
        connection: &ConnectionId,
        project_id: u64,
        visible_at_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
