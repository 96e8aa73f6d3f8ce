//! Workflows and notification groups: the [`WorkflowStore`] implementation and its row mapping.
//! Steps, tags and details are JSON texts in `herald_core::workflow::stored`'s format.
//!
//! Each write is one statement, race-free across processes through the unique indexes: a taken
//! identifier is a violation of `workflows_identifier_unique` (mapped to `Conflict`), and a group
//! is `INSERT … ON CONFLICT DO NOTHING` on `(environment_id, name)` followed by a read of the row
//! that won.

use async_trait::async_trait;
use herald_core::workflow::{
    stored, NotificationGroup, Workflow, WorkflowDefinition, WorkflowOrder, WorkflowOrigin,
    WorkflowQuery, WorkflowStore,
};
use herald_core::{ObjectId, StoreError, StoreResult, Timestamp};
use sqlx::postgres::PgConnection;
use sqlx::FromRow;

use crate::error::{corrupt, db, is_unique_violation, Result};
use crate::pagination::{fold_collation, push_contains, Sql};
use crate::rows::now;
use crate::PgStore;

const WORKFLOW_COLUMNS: &str = "w.id, w.environment_id, w.organization_id, w.identifier, w.name, \
     w.origin, w.active, w.critical, w.tags, w.steps, w.details, w.created_at, w.updated_at";

const GROUP_COLUMNS: &str = "id, environment_id, organization_id, name, created_at, updated_at";

const IDENTIFIER_INDEX: &str = "workflows_identifier_unique";

#[derive(FromRow)]
struct WorkflowRow {
    id: String,
    environment_id: String,
    organization_id: String,
    identifier: String,
    name: String,
    origin: String,
    active: bool,
    critical: bool,
    tags: String,
    steps: String,
    details: String,
    created_at: i64,
    updated_at: i64,
}

impl WorkflowRow {
    fn into_workflow(self) -> Result<Workflow> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            corrupt(format!("{what} of workflow {}: {e}", self.id))
        };
        let origin =
            WorkflowOrigin::parse(&self.origin).ok_or_else(|| bad("origin", &self.origin))?;
        let tags = stored::decode_tags(&self.tags).map_err(|e| bad("tags", &e))?;
        let steps = stored::decode_steps(&self.steps).map_err(|e| bad("steps", &e))?;
        let details = stored::decode_details(&self.details).map_err(|e| bad("details", &e))?;
        Ok(Workflow {
            id: ObjectId::from_stored(self.id),
            environment_id: ObjectId::from_stored(self.environment_id),
            organization_id: ObjectId::from_stored(self.organization_id),
            identifier: self.identifier,
            name: self.name,
            origin,
            active: self.active,
            critical: self.critical,
            tags,
            steps,
            details,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
        })
    }
}

#[derive(FromRow)]
struct GroupRow {
    id: String,
    environment_id: String,
    organization_id: String,
    name: String,
    created_at: i64,
    updated_at: i64,
}

impl From<GroupRow> for NotificationGroup {
    fn from(r: GroupRow) -> Self {
        NotificationGroup {
            id: ObjectId::from_stored(r.id),
            environment_id: ObjectId::from_stored(r.environment_id),
            organization_id: ObjectId::from_stored(r.organization_id),
            name: r.name,
            created_at: Timestamp::from_millis(r.created_at),
            updated_at: Timestamp::from_millis(r.updated_at),
        }
    }
}

fn taken(identifier: &str) -> StoreError {
    StoreError::Conflict(format!(
        "Workflow with identifier {identifier} already exists"
    ))
}

/// A write's error: a taken identifier is `Conflict`, anything else the database's.
fn write_error(e: sqlx::Error, identifier: &str) -> StoreError {
    if is_unique_violation(&e, IDENTIFIER_INDEX) {
        taken(identifier)
    } else {
        db(e)
    }
}

fn map_all(rows: Vec<WorkflowRow>) -> StoreResult<Vec<Workflow>> {
    Ok(rows
        .into_iter()
        .map(WorkflowRow::into_workflow)
        .collect::<Result<_>>()?)
}

/// Inserts the group named `name` unless the environment has one, and returns it with whether
/// it was created. Bootstrap calls it inside its transaction for each environment's `General`.
pub(crate) async fn ensure_group(
    conn: &mut PgConnection,
    env: &ObjectId,
    org: &ObjectId,
    name: &str,
) -> sqlx::Result<(NotificationGroup, bool)> {
    let inserted: Option<GroupRow> = sqlx::query_as(&format!(
        "INSERT INTO notification_groups (id, environment_id, organization_id, name, created_at,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (environment_id, name) DO NOTHING
         RETURNING {GROUP_COLUMNS}"
    ))
    .bind(ObjectId::new().as_str())
    .bind(env.as_str())
    .bind(org.as_str())
    .bind(name)
    .bind(now())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = inserted {
        return Ok((row.into(), true));
    }
    // Under READ COMMITTED this statement sees the row whose conflict stopped the insert; groups
    // are never deleted, so it is there.
    let row: GroupRow = sqlx::query_as(&format!(
        "SELECT {GROUP_COLUMNS} FROM notification_groups WHERE environment_id = $1 AND name = $2"
    ))
    .bind(env.as_str())
    .bind(name)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.into(), false))
}

impl PgStore {
    async fn find_workflow(
        &self,
        env: &ObjectId,
        column: &'static str,
        value: &str,
    ) -> StoreResult<Option<Workflow>> {
        let row: Option<WorkflowRow> = sqlx::query_as(&format!(
            "SELECT {WORKFLOW_COLUMNS} FROM workflows w
             WHERE w.environment_id = $1 AND w.{column} = $2 AND NOT w.deleted"
        ))
        .bind(env.as_str())
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(WorkflowRow::into_workflow).transpose()?)
    }

    fn push_filters(q: &mut Sql, env: &ObjectId, query: &WorkflowQuery, ilike: &'static str) {
        q.push(" FROM workflows w WHERE w.environment_id = ")
            .push_bind(env.to_string())
            .push(" AND NOT w.deleted");
        if let Some(text) = &query.text {
            q.push(" AND (");
            push_contains(q, ilike, "w.name", text);
            q.push(" OR ");
            push_contains(q, ilike, "w.identifier", text);
            q.push(")");
        }
        if !query.tags.is_empty() {
            q.push(" AND EXISTS (SELECT 1 FROM json_array_elements_text(w.tags::json) AS t(tag) WHERE t.tag = ANY(")
                .push_bind(query.tags.clone())
                .push("))");
        }
        if let Some(active) = query.active {
            q.push(" AND w.active = ").push_bind(active);
        }
    }
}

#[async_trait]
impl WorkflowStore for PgStore {
    async fn workflow_by_identifier(
        &self,
        env: &ObjectId,
        identifier: &str,
    ) -> StoreResult<Option<Workflow>> {
        self.find_workflow(env, "identifier", identifier).await
    }

    async fn get_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<Option<Workflow>> {
        self.find_workflow(env, "id", id.as_str()).await
    }

    async fn create_workflow(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        def: &WorkflowDefinition,
    ) -> StoreResult<Workflow> {
        let row: WorkflowRow = sqlx::query_as(&format!(
            "INSERT INTO workflows AS w (id, environment_id, organization_id, identifier, name,
                 origin, active, critical, tags, steps, details, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
             RETURNING {WORKFLOW_COLUMNS}"
        ))
        .bind(ObjectId::new().as_str())
        .bind(env.as_str())
        .bind(org.as_str())
        .bind(&def.identifier)
        .bind(&def.name)
        .bind(def.origin.as_str())
        .bind(def.active)
        .bind(def.critical)
        .bind(stored::encode_tags(&def.tags))
        .bind(stored::encode_steps(&def.steps))
        .bind(stored::encode_details(&def.details))
        .bind(now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| write_error(e, &def.identifier))?;
        Ok(row.into_workflow()?)
    }

    async fn update_workflow(
        &self,
        env: &ObjectId,
        id: &ObjectId,
        def: &WorkflowDefinition,
    ) -> StoreResult<Option<Workflow>> {
        let row: Option<WorkflowRow> = sqlx::query_as(&format!(
            "UPDATE workflows AS w SET identifier = $3, name = $4, origin = $5, active = $6,
                 critical = $7, tags = $8, steps = $9, details = $10, updated_at = $11
             WHERE w.environment_id = $1 AND w.id = $2 AND NOT w.deleted
             RETURNING {WORKFLOW_COLUMNS}"
        ))
        .bind(env.as_str())
        .bind(id.as_str())
        .bind(&def.identifier)
        .bind(&def.name)
        .bind(def.origin.as_str())
        .bind(def.active)
        .bind(def.critical)
        .bind(stored::encode_tags(&def.tags))
        .bind(stored::encode_steps(&def.steps))
        .bind(stored::encode_details(&def.details))
        .bind(now())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| write_error(e, &def.identifier))?;
        Ok(row.map(WorkflowRow::into_workflow).transpose()?)
    }

    async fn delete_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE workflows SET deleted = TRUE, deleted_at = $3
             WHERE environment_id = $1 AND id = $2 AND NOT deleted",
        )
        .bind(env.as_str())
        .bind(id.as_str())
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_workflows(
        &self,
        env: &ObjectId,
        query: &WorkflowQuery,
    ) -> StoreResult<(Vec<Workflow>, u64)> {
        let ilike = fold_collation(self).await.map_err(db)?;
        // A list: bounded like the other scans (permits, cancelled when its request is dropped).
        let mut tx = self.scan().await?;
        let mut count = Sql::new("SELECT count(*)");
        Self::push_filters(&mut count, env, query, ilike);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        // Names sort bytewise, as the SQLite store's do.
        let column = match query.order {
            WorkflowOrder::CreatedAt => "w.created_at",
            WorkflowOrder::UpdatedAt => "w.updated_at",
            WorkflowOrder::Name => r#"w.name COLLATE "C""#,
        };
        let direction = if query.descending { "DESC" } else { "ASC" };
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut select = Sql::new(format!("SELECT {WORKFLOW_COLUMNS}"));
        Self::push_filters(&mut select, env, query, ilike);
        select
            .push(format!(
                " ORDER BY {column} {direction}, w.pk {direction} LIMIT "
            ))
            .push_bind(clamp(query.limit))
            .push(" OFFSET ")
            .push_bind(clamp(query.offset));
        let rows: Vec<WorkflowRow> = select
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        tx.finish().await?;
        Ok((map_all(rows)?, u64::try_from(total).unwrap_or(0)))
    }

    async fn list_notification_groups(
        &self,
        env: &ObjectId,
    ) -> StoreResult<Vec<NotificationGroup>> {
        let rows: Vec<GroupRow> = sqlx::query_as(&format!(
            "SELECT {GROUP_COLUMNS} FROM notification_groups WHERE environment_id = $1 ORDER BY pk"
        ))
        .bind(env.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn get_notification_group(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<NotificationGroup>> {
        let row: Option<GroupRow> = sqlx::query_as(&format!(
            "SELECT {GROUP_COLUMNS} FROM notification_groups WHERE environment_id = $1 AND id = $2"
        ))
        .bind(env.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(Into::into))
    }

    async fn create_notification_group(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        name: &str,
    ) -> StoreResult<(NotificationGroup, bool)> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        ensure_group(&mut conn, env, org, name).await.map_err(db)
    }
}
