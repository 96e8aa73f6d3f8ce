//! `GET /readyz`: readiness for load balancers and orchestrators (see [`crate::health`]). 200
//! when the database answers and this process's worker (if it runs one) is alive, 503
//! otherwise; the body names each check. No key needed, and nothing in the body but the checks'
//! states: the causes are logged.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::health::{Readiness, WorkerStatus};
use crate::state::AppState;

/// The answer of `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessResponse {
    /// `ready` (200) or `not_ready` (503).
    pub status: ReadyStatus,
    pub checks: ReadinessChecks,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    NotReady,
}

/// Each check's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessChecks {
    /// `ok`, or `unavailable` when the database did not answer a trivial query in time.
    pub database: DatabaseCheck,
    /// The delivery worker of this process: `ok`, `stalled` (its loop has not come round for
    /// several poll intervals), `stopped` (shutting down) or `disabled` (`HERALD_WORKER=false`).
    pub worker: WorkerCheck,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseCheck {
    Ok,
    Unavailable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkerCheck {
    Ok,
    Stalled,
    Stopped,
    Disabled,
}

impl From<Readiness> for ReadinessResponse {
    fn from(r: Readiness) -> Self {
        ReadinessResponse {
            status: if r.is_ready() {
                ReadyStatus::Ready
            } else {
                ReadyStatus::NotReady
            },
            checks: ReadinessChecks {
                database: if r.database {
                    DatabaseCheck::Ok
                } else {
                    DatabaseCheck::Unavailable
                },
                worker: match r.worker {
                    None => WorkerCheck::Disabled,
                    Some(WorkerStatus::Alive) => WorkerCheck::Ok,
                    Some(WorkerStatus::Stalled) => WorkerCheck::Stalled,
                    Some(WorkerStatus::Stopped) => WorkerCheck::Stopped,
                },
            },
        }
    }
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Health",
    operation_id = "readiness",
    security(()),
    responses(
        (status = 200, description = "Ready: the database answers, and the delivery worker (if this process runs one) is alive", body = ReadinessResponse),
        (status = 503, description = "Not ready: the body says which check failed", body = ReadinessResponse),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    let readiness = Readiness::check(&*state.store, state.worker_heartbeat.as_ref()).await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    tracing::debug!(status = status.as_u16(), ?readiness, "readiness checked");
    (status, Json(ReadinessResponse::from(readiness))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_names_each_check() {
        let body = |database, worker| {
            serde_json::to_value(ReadinessResponse::from(Readiness { database, worker })).unwrap()
        };
        assert_eq!(
            body(true, None),
            json!({"status": "ready", "checks": {"database": "ok", "worker": "disabled"}})
        );
        assert_eq!(
            body(false, Some(WorkerStatus::Alive)),
            json!({"status": "not_ready", "checks": {"database": "unavailable", "worker": "ok"}})
        );
        assert_eq!(
            body(true, Some(WorkerStatus::Stalled)),
            json!({"status": "not_ready", "checks": {"database": "ok", "worker": "stalled"}})
        );
    }
}
