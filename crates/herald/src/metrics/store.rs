//! Store latency: [`MeteredStore`] wraps the server's store and times every call, labelled with
//! the trait method's name and its kind (`read`: indexed point reads; `write`: anything that
//! changes data, the job queue's claims included; `scan`: lists and searches whose cost grows
//! with the data, the calls the backends run on their scan connections). Errors that are the
//! database's, not the client's (`busy`: a statement or pool timeout; `backend`: anything
//! else), are counted too.
//!
//! A wrapper rather than timers inside each backend: both backends are measured at the same
//! boundary, with the same names, and the backend crates stay free of metrics. The delegating
//! methods themselves are in `store_calls`.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use herald_core::{Store, StoreError, StoreResult};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{latency_histogram, Metrics};

/// What a store call does, for the `kind` label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub(super) enum Kind {
    read,
    write,
    scan,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum Failure {
    busy,
    backend,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: &'static str,
    kind: Kind,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    operation: &'static str,
    kind: Kind,
    error: Failure,
}

pub struct StoreMetrics {
    latency: Family<CallLabels, Histogram, fn() -> Histogram>,
    errors: Family<ErrorLabels, Counter>,
}

impl StoreMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let latency = Family::<CallLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "herald_store_operation_duration_seconds",
            "Latency of store calls, by trait method (operation) and kind (read, write, scan)",
            latency.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "herald_store_errors",
            "Store calls that failed on the database's side: busy (a statement or connection timeout) or backend (anything else)",
            errors.clone(),
        );
        StoreMetrics { latency, errors }
    }

    fn observe<T>(&self, operation: &'static str, kind: Kind, seconds: f64, r: &StoreResult<T>) {
        let labels = CallLabels { operation, kind };
        self.latency.get_or_create(&labels).observe(seconds);
        let error = match r {
            Err(StoreError::Busy(_)) => Failure::busy,
            Err(StoreError::Backend(_)) => Failure::backend,
            // Conflicts and limits are answers about the request, not failures of the store.
            _ => return,
        };
        self.errors
            .get_or_create(&ErrorLabels {
                operation,
                kind,
                error,
            })
            .inc();
    }
}

/// A [`Store`] that times every call of the one it wraps.
pub struct MeteredStore {
    pub(super) inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    /// `inner`, timed into `metrics`.
    pub fn wrap(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Arc<dyn Store> {
        Arc::new(MeteredStore { inner, metrics })
    }

    /// Runs one call of the inner store and records how long it took and how it failed.
    pub(super) async fn timed<T>(
        &self,
        operation: &'static str,
        kind: Kind,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let started = Instant::now();
        let result = call.await;
        self.metrics
            .store
            .observe(operation, kind, started.elapsed().as_secs_f64(), &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_are_timed_by_operation_and_kind_and_database_failures_counted() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("h.db").display());
        let sqlite =
            herald_store_sqlite::SqliteStore::open(&url, herald_core::secrets::test_keyring())
                .await
                .unwrap();
        let metrics = Arc::new(Metrics::new());
        let store = MeteredStore::wrap(Arc::new(sqlite), metrics.clone());
        store.list_environments().await.unwrap();
        store.ping().await.unwrap();
        store.close().await;
        assert!(store.ping().await.is_err());
        let text = metrics.render();
        assert!(
            text.contains("herald_store_operation_duration_seconds_count{operation=\"list_environments\",kind=\"scan\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("herald_store_operation_duration_seconds_count{operation=\"ping\",kind=\"read\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "herald_store_errors_total{operation=\"ping\",kind=\"read\",error=\"backend\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("operation=\"list_environments\",kind=\"scan\",error"),
            "{text}"
        );
    }
}
