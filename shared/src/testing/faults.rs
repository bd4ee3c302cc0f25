//! One fault-injecting wrapper for any port: [`Faulty`] delegates every call to the port it wraps, after asking a
//! shared [`FaultPlan`] whether to fail the call (before it reaches the port, or after it landed, as when only the
//! answer is lost), to run a hook first (another writer racing in), or to fail everything from then on (the
//! process died). One plan may drive several wrapped ports, so a crash in the vault stops the store too.
//!
//! Operations are named `<port>.<method>`: `store.*` ([`CredentialStore`]), `vault.*` ([`SecretVault`]),
//! `items.*` ([`ScheduleItems`]), `reader.*` ([`CommitReader`]), `feed.*` (the export's `ChangeFeed`). The plan
//! also counts the calls of each operation.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::commits::ports::{CommitRange, CommitReader, PageKey, ReadOutcome};
use crate::credentials::model::CredentialRecord;
use crate::credentials::ports::CredentialStore;
#[cfg(feature = "export")]
use crate::export::ports::{
    ChangeCursor, ChangeFeed, ChangePage, ExportPosition, ExportProject, Window,
};
use crate::kernel::ids::{ConnectionId, CredentialId};
use crate::kernel::instance::InstanceUrl;
#[cfg(feature = "export")]
use crate::kernel::project_key::ProjectKey;
use crate::kernel::store::StoreError;
use crate::kernel::vault::{SecretVault, VaultError};
use crate::scheduler::ports::{KnownProject, ProjectRecord, ScheduleItems};
use crate::secret::SecretString;

/// Any port, its calls run past a [`FaultPlan`].
#[derive(Debug)]
pub struct Faulty<P> {
    inner: P,
    plan: Arc<FaultPlan>,
}

impl<P> Faulty<P> {
    pub fn new(inner: P, plan: &Arc<FaultPlan>) -> Self {
        Faulty {
            inner,
            plan: plan.clone(),
        }
    }

    /// The wrapped port, to reach it without faults.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    pub fn plan(&self) -> &Arc<FaultPlan> {
        &self.plan
    }
}

/// What a hook does before a call reaches the port.
type HookRun = Pin<Box<dyn Future<Output = ()> + Send>>;
type Hook = Box<dyn Fn() -> HookRun + Send + Sync>;
type SubjectFilter = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// Which calls of its operation a fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strike {
    /// The n-th call (1-based) counted from when the fault was planned; once.
    Nth(u64),
    Every,
}

enum Action {
    Fail {
        after_landing: bool,
        crash: bool,
        detail: String,
    },
    Run(Hook),
}

/// One planned fault: what it strikes and what it does. Built with [`Fault::fail`] or [`Fault::run`], narrowed
/// with the other methods, and handed to [`FaultPlan::add`].
pub struct Fault {
    operation: &'static str,
    strike: Strike,
    subject: Option<SubjectFilter>,
    action: Action,
    /// Calls of the operation that had passed when the fault was planned.
    base: u64,
}

impl Fault {
    /// The next call of `operation` fails before it reaches the port, with an `Unavailable` error whose detail is
    /// `injected`.
    pub fn fail(operation: &'static str) -> Self {
        Fault::new(
            operation,
            Action::Fail {
                after_landing: false,
                crash: false,
                detail: "injected".to_owned(),
            },
        )
    }

    /// `hook` runs before the next call of `operation` reaches the port (another writer acting just then).
    pub fn run<F>(operation: &'static str, hook: impl Fn() -> F + Send + Sync + 'static) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let hook: Hook = Box::new(move || Box::pin(hook()));
        Fault::new(operation, Action::Run(hook))
    }

    fn new(operation: &'static str, action: Action) -> Self {
        Fault {
            operation,
            strike: Strike::Nth(1),
            subject: None,
            action,
            base: 0,
        }
    }

    /// The n-th call (1-based) from now instead of the next one.
    pub fn nth(self, n: u64) -> Self {
        Fault {
            strike: Strike::Nth(n),
            ..self
        }
    }

    /// Every call from now, until [`FaultPlan::clear`].
    pub fn every(self) -> Self {
        Fault {
            strike: Strike::Every,
            ..self
        }
    }

    /// Only calls about a subject (a secret's name, a connection id) that `filter` accepts count.
    pub fn about(self, filter: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Fault {
            subject: Some(Box::new(filter)),
            ..self
        }
    }

    /// The call reaches the port and lands, and then answers with the error: its answer was lost.
    pub fn after_landing(mut self) -> Self {
        if let Action::Fail { after_landing, .. } = &mut self.action {
            *after_landing = true;
        }
        self
    }

    /// The process dies here: every later call of any operation of the plan fails too, so no undo runs.
    pub fn crash(mut self) -> Self {
        if let Action::Fail { crash, .. } = &mut self.action {
            *crash = true;
        }
        self
    }

    /// The error's detail (for logs only), to check that it never reaches a reply.
    pub fn detail(mut self, text: &str) -> Self {
        if let Action::Fail { detail, .. } = &mut self.action {
            *detail = text.to_owned();
        }
        self
    }
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fault")
            .field("operation", &self.operation)
            .field("strike", &self.strike)
            .finish_non_exhaustive()
    }
}

/// The faults planned for one or more [`Faulty`] ports, and the calls they saw.
#[derive(Debug, Default)]
pub struct FaultPlan {
    faults: Mutex<Vec<Fault>>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    crashed: AtomicBool,
}

/// What a planned failure makes of a call.
struct Failure {
    after_landing: bool,
    detail: String,
}

impl FaultPlan {
    /// A plan without faults (it only counts calls), to add faults to as a test goes.
    pub fn new() -> Arc<FaultPlan> {
        Arc::new(FaultPlan::default())
    }

    /// A plan with one fault.
    pub fn with(fault: Fault) -> Arc<FaultPlan> {
        let plan = FaultPlan::new();
        plan.add(fault);
        plan
    }

    pub fn add(&self, mut fault: Fault) {
        fault.base = self.calls(fault.operation);
        self.faults.lock().unwrap().push(fault);
    }

    /// Drops every fault still planned (a crash stays).
    pub fn clear(&self) {
        self.faults.lock().unwrap().clear();
    }

    /// Calls of `operation` so far, those that failed included.
    pub fn calls(&self, operation: &str) -> u64 {
        self.calls
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Runs `call` as the plan says; `down` makes the port's error from the operation and the detail.
    async fn around<T, E>(
        &self,
        operation: &'static str,
        subject: &str,
        call: impl Future<Output = Result<T, E>>,
        down: impl FnOnce(&'static str, String) -> E,
    ) -> Result<T, E> {
        let count = {
            let mut calls = self.calls.lock().unwrap();
            let count = calls.entry(operation).or_default();
            *count += 1;
            *count
        };
        if self.crashed.load(Ordering::SeqCst) {
            return Err(down(operation, "crashed".to_owned()));
        }
        let (hooks, failure) = self.strike(operation, subject, count);
        for hook in hooks {
            hook.await;
        }
        match failure {
            None => call.await,
            Some(failure) => {
                if failure.after_landing {
                    let _ = call.await;
                }
                Err(down(operation, failure.detail))
            }
        }
    }

    /// The hooks to run before this call, and its failure if one is planned; faults of one call are used up.
    fn strike(
        &self,
        operation: &'static str,
        subject: &str,
        count: u64,
    ) -> (Vec<HookRun>, Option<Failure>) {
        let mut faults = self.faults.lock().unwrap();
        let mut hooks = Vec::new();
        let mut failure = None;
        faults.retain(|fault| {
            let strikes = fault.operation == operation
                && fault
                    .subject
                    .as_ref()
                    .is_none_or(|accepts| accepts(subject))
                && match fault.strike {
                    Strike::Every => true,
                    Strike::Nth(n) => count == fault.base + n,
                };
            if !strikes {
                return true;
            }
            match &fault.action {
                Action::Run(hook) => hooks.push(hook()),
                Action::Fail {
                    after_landing,
                    crash,
                    detail,
                } => {
                    if *crash {
                        self.crashed.store(true, Ordering::SeqCst);
                    }
                    failure.get_or_insert(Failure {
                        after_landing: *after_landing,
                        detail: detail.clone(),
                    });
                }
            }
            fault.strike == Strike::Every
        });
        (hooks, failure)
    }
}

fn store_down(operation: &'static str, detail: String) -> StoreError {
    StoreError::Unavailable { operation, detail }
}

fn vault_down(operation: &'static str, detail: String) -> VaultError {
    VaultError::Unavailable { operation, detail }
}

/// Implements `$port` for [`Faulty`]: each method delegates to the wrapped port past the plan, as the operation
/// `<$prefix>.<method>` about `$subject`, failing with `$down`'s error.
macro_rules! faulty_port {
    ($port:ident, $prefix:literal, $error:ty, $down:ident {
        $(fn $method:ident($($arg:ident: $ty:ty),*) -> $out:ty, about $subject:expr;)*
    }) => {
        impl<P: $port> $port for Faulty<P> {
            $(async fn $method(&self, $($arg: $ty),*) -> Result<$out, $error> {
                // Boxed, so that a wrapped port's future stays the size of the port's own.
                let call = Box::pin(self.inner.$method($($arg),*));
                let operation = concat!($prefix, ".", stringify!($method));
                self.plan.around(operation, $subject, call, $down).await
            })*
        }
    };
}

faulty_port!(CredentialStore, "store", StoreError, store_down {
    fn bind_connection(connection: &ConnectionId, base_url: &InstanceUrl, at: &str) -> Option<InstanceUrl>,
        about connection.as_str();
    fn connection_exists(connection: &ConnectionId) -> bool, about connection.as_str();
    fn insert(record: &CredentialRecord) -> (), about record.connection_id.as_str();
    fn replace(record: &CredentialRecord, expected: u64) -> (), about record.connection_id.as_str();
    fn get(connection: &ConnectionId, id: &CredentialId) -> Option<CredentialRecord>, about connection.as_str();
    fn list(connection: &ConnectionId) -> Vec<CredentialRecord>, about connection.as_str();
});

faulty_port!(SecretVault, "vault", VaultError, vault_down {
    fn create(name: &str, value: &SecretString, version_id: &str, tags: &[(&str, &str)]) -> (), about name;
    fn read(name: &str, version_id: Option<&str>) -> SecretString, about name;
    fn stage(name: &str, value: &SecretString, version_id: &str) -> (), about name;
    fn promote(name: &str, version_id: &str) -> (), about name;
    fn restore(name: &str) -> (), about name;
    fn schedule_deletion(name: &str, recovery_days: i64) -> (), about name;
    fn delete_now(name: &str) -> (), about name;
});

faulty_port!(ScheduleItems, "items", StoreError, store_down {
    fn known_projects(connection: &ConnectionId) -> Vec<KnownProject>, about connection.as_str();
    fn write(connection: &ConnectionId, records: &[ProjectRecord<'_>]) -> Vec<u64>, about connection.as_str();
    fn release(connection: &ConnectionId, project_id: u64, until: i64) -> (), about connection.as_str();
    fn mark_gone(connection: &ConnectionId, project_id: u64, at: &str) -> (), about connection.as_str();
});

faulty_port!(CommitReader, "reader", StoreError, store_down {
    fn read(range: &CommitRange, start: Option<&PageKey>, limit: usize) -> ReadOutcome,
        about range.project.connection_id.as_str();
});

#[cfg(feature = "export")]
faulty_port!(ChangeFeed, "feed", StoreError, store_down {
    fn projects() -> Vec<ExportProject>, about "";
    fn changes(project: &ProjectKey, window: &Window, start: Option<ChangeCursor>) -> ChangePage,
        about project.connection_id.as_str();
    fn advance(project: &ProjectKey, to: &ExportPosition) -> (), about project.connection_id.as_str();
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryVault;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    async fn made(vault: &Faulty<MemoryVault>, name: &str) -> Result<(), VaultError> {
        let value = SecretString::new("v");
        vault.create(name, &value, &"1".repeat(32), &[]).await
    }

    #[test]
    fn a_fault_strikes_the_call_it_names_once_and_every_call_is_counted() {
        block_on(async {
            let plan = FaultPlan::with(Fault::fail("vault.create").nth(2));
            let vault = Faulty::new(MemoryVault::default(), &plan);
            assert!(made(&vault, "a").await.is_ok());
            let failed = made(&vault, "b").await.unwrap_err();
            assert_eq!(failed.to_string(), "vault.create failed: injected");
            assert!(
                vault.inner().current("b").is_none(),
                "failed before landing"
            );
            assert!(made(&vault, "c").await.is_ok());
            assert_eq!(plan.calls("vault.create"), 3);
            assert_eq!(plan.calls("vault.read"), 0);
        });
    }

    #[test]
    fn a_lost_answer_lands_and_a_crash_fails_everything_after_it() {
        block_on(async {
            let plan = FaultPlan::with(Fault::fail("vault.create").after_landing().crash());
            let vault = Faulty::new(MemoryVault::default(), &plan);
            assert!(made(&vault, "a").await.is_err());
            assert_eq!(vault.inner().current("a").as_deref(), Some("v"));
            assert!(vault.read("a", None).await.is_err(), "crashed");
        });
    }

    #[test]
    fn faults_narrowed_to_a_subject_or_every_call_and_hooks_that_run_first() {
        block_on(async {
            let plan = FaultPlan::new();
            plan.add(
                Fault::fail("vault.create")
                    .every()
                    .about(|name| name.ends_with("x")),
            );
            let ran = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let counter = ran.clone();
            plan.add(Fault::run("vault.read", move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async {}
            }));
            let vault = Faulty::new(MemoryVault::default(), &plan);
            assert!(made(&vault, "1x").await.is_err());
            assert!(made(&vault, "2x").await.is_err());
            assert!(made(&vault, "y").await.is_ok());
            assert!(vault.read("y", None).await.is_ok());
            assert!(vault.read("y", None).await.is_ok());
            assert_eq!(
                ran.load(Ordering::SeqCst),
                1,
                "a hook runs once unless every"
            );
            plan.clear();
            assert!(made(&vault, "3x").await.is_ok());
        });
    }
}
