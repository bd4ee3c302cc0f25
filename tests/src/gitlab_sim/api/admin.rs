//! `/-/sim/` control routes for the standalone binary: no auth, not counted, never faulted.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::gitlab_sim::faults::FaultMix;
use crate::gitlab_sim::state::Shared;

pub(super) async fn stats(State(st): State<Arc<Shared>>) -> Json<Value> {
    let counts = st.counts();
    let total: u64 = counts.values().sum();
    Json(json!({ "total": total, "routes": counts, "faults": st.faults().mix() }))
}

pub(super) async fn set_faults(
    State(st): State<Arc<Shared>>,
    Json(mix): Json<FaultMix>,
) -> Json<FaultMix> {
    st.faults().set_mix(mix);
    Json(mix)
}

#[derive(Debug, Deserialize)]
pub(super) struct Latency {
    millis: u64,
}

pub(super) async fn set_latency(
    State(st): State<Arc<Shared>>,
    Json(l): Json<Latency>,
) -> Json<Value> {
    st.faults().latency = Duration::from_millis(l.millis);
    Json(json!({ "millis": l.millis }))
}

pub(super) async fn reset_counts(State(st): State<Arc<Shared>>) -> Json<Value> {
    st.reset_counts();
    Json(json!({ "total": 0 }))
}
