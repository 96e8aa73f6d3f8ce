//! The backend-neutral store conformance suite (herald-core), run against PostgreSQL: every case
//! gets a fresh database, so cases run in parallel and never see each other's rows.

use std::sync::Arc;

use herald_core::Store;
use herald_store_postgres::test_support::test_database;

herald_core::conformance_tests!(|| async {
    let db = test_database().await?;
    Some(Arc::new(db.connect().await) as Arc<dyn Store>)
});
