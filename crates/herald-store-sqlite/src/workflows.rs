//! Workflows and notification groups: the [`WorkflowStore`] implementation and its row mapping.
//! Steps, tags and details are JSON texts in `herald_core::workflow::stored`'s format. Writes are
//! jobs on the writer thread, so "is the identifier free? then write" cannot interleave with
//! another write; the partial unique index backs that rule for other processes on the file.

use async_trait::async_trait;
use herald_core::workflow::{
    stored, NotificationGroup, Workflow, WorkflowDefinition, WorkflowOrder, WorkflowOrigin,
    WorkflowQuery, WorkflowStore,
};
use herald_core::{ObjectId, StoreError, StoreResult, Timestamp};
use rusqlite::types::{Type, Value as SqlValue};
use rusqlite::{Connection, OptionalExtension, Row};

use crate::error::{BadStoredValue, DbResult};
use crate::SqliteStore;

const WORKFLOW_COLUMNS: &str = "id, environment_id, organization_id, identifier, name, origin, \
     active, critical, tags, steps, details, created_at, updated_at";

const GROUP_COLUMNS: &str = "id, environment_id, organization_id, name, created_at, updated_at";

fn unreadable(idx: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))
}

fn workflow(row: &Row) -> rusqlite::Result<Workflow> {
    let origin: String = row.get(5)?;
    let origin = WorkflowOrigin::parse(&origin).ok_or_else(|| {
        unreadable(
            5,
            BadStoredValue {
                what: "workflow origin",
                value: origin,
            },
        )
    })?;
    let tags: String = row.get(8)?;
    let steps: String = row.get(9)?;
    let details: String = row.get(10)?;
    Ok(Workflow {
        id: ObjectId::from_stored(row.get(0)?),
        environment_id: ObjectId::from_stored(row.get(1)?),
        organization_id: ObjectId::from_stored(row.get(2)?),
        identifier: row.get(3)?,
        name: row.get(4)?,
        origin,
        active: row.get(6)?,
        critical: row.get(7)?,
        tags: stored::decode_tags(&tags).map_err(|e| unreadable(8, e))?,
        steps: stored::decode_steps(&steps).map_err(|e| unreadable(9, e))?,
        details: stored::decode_details(&details).map_err(|e| unreadable(10, e))?,
        created_at: Timestamp::from_millis(row.get(11)?),
        updated_at: Timestamp::from_millis(row.get(12)?),
    })
}

fn group(row: &Row) -> rusqlite::Result<NotificationGroup> {
    Ok(NotificationGroup {
        id: ObjectId::from_stored(row.get(0)?),
        environment_id: ObjectId::from_stored(row.get(1)?),
        organization_id: ObjectId::from_stored(row.get(2)?),
        name: row.get(3)?,
        created_at: Timestamp::from_millis(row.get(4)?),
        updated_at: Timestamp::from_millis(row.get(5)?),
    })
}

fn by_identifier(
    conn: &Connection,
    env: &ObjectId,
    identifier: &str,
) -> DbResult<Option<Workflow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows
         WHERE environment_id = ?1 AND identifier = ?2 AND deleted = 0"
    ))?;
    Ok(stmt
        .query_row((env.as_str(), identifier), workflow)
        .optional()?)
}

fn by_id(conn: &Connection, env: &ObjectId, id: &ObjectId) -> DbResult<Option<Workflow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows
         WHERE environment_id = ?1 AND id = ?2 AND deleted = 0"
    ))?;
    Ok(stmt
        .query_row((env.as_str(), id.as_str()), workflow)
        .optional()?)
}

fn taken(identifier: &str) -> StoreError {
    StoreError::Conflict(format!(
        "Workflow with identifier {identifier} already exists"
    ))
}

fn create(
    conn: &Connection,
    env: &ObjectId,
    org: &ObjectId,
    def: &WorkflowDefinition,
) -> DbResult<Workflow> {
    if by_identifier(conn, env, &def.identifier)?.is_some() {
        return Err(taken(&def.identifier).into());
    }
    let id = ObjectId::new();
    let now = Timestamp::now().millis();
    conn.prepare_cached(
        "INSERT INTO workflows (id, environment_id, organization_id, identifier, name, origin,
             active, critical, tags, steps, details, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
    )?
    .execute(rusqlite::params![
        id.as_str(),
        env.as_str(),
        org.as_str(),
        def.identifier,
        def.name,
        def.origin.as_str(),
        def.active,
        def.critical,
        stored::encode_tags(&def.tags),
        stored::encode_steps(&def.steps),
        stored::encode_details(&def.details),
        now,
    ])?;
    Ok(by_id(conn, env, &id)?.expect("the row just inserted"))
}

fn update(
    conn: &Connection,
    env: &ObjectId,
    id: &ObjectId,
    def: &WorkflowDefinition,
) -> DbResult<Option<Workflow>> {
    if by_id(conn, env, id)?.is_none() {
        return Ok(None);
    }
    if by_identifier(conn, env, &def.identifier)?.is_some_and(|other| &other.id != id) {
        return Err(taken(&def.identifier).into());
    }
    conn.prepare_cached(
        "UPDATE workflows SET identifier = ?3, name = ?4, origin = ?5, active = ?6, critical = ?7,
             tags = ?8, steps = ?9, details = ?10, updated_at = ?11
         WHERE environment_id = ?1 AND id = ?2 AND deleted = 0",
    )?
    .execute(rusqlite::params![
        env.as_str(),
        id.as_str(),
        def.identifier,
        def.name,
        def.origin.as_str(),
        def.active,
        def.critical,
        stored::encode_tags(&def.tags),
        stored::encode_steps(&def.steps),
        stored::encode_details(&def.details),
        Timestamp::now().millis(),
    ])?;
    by_id(conn, env, id)
}

fn delete(conn: &Connection, env: &ObjectId, id: &ObjectId) -> DbResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE workflows SET deleted = 1, deleted_at = ?3
             WHERE environment_id = ?1 AND id = ?2 AND deleted = 0",
        )?
        .execute((env.as_str(), id.as_str(), Timestamp::now().millis()))?;
    Ok(changed > 0)
}

/// SQLite integers are signed; paging values past `i64::MAX` mean "everything" anyway.
fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn list(conn: &Connection, env: &ObjectId, q: &WorkflowQuery) -> DbResult<(Vec<Workflow>, u64)> {
    let mut filter = String::from("environment_id = ? AND deleted = 0");
    let mut params: Vec<SqlValue> = vec![SqlValue::Text(env.to_string())];
    if let Some(text) = &q.text {
        filter.push_str(" AND (herald_contains(name, ?) OR herald_contains(identifier, ?))");
        let needle = crate::connection::fold_needle(text);
        params.push(SqlValue::Text(needle.clone()));
        params.push(SqlValue::Text(needle));
    }
    if !q.tags.is_empty() {
        let marks = vec!["?"; q.tags.len()].join(", ");
        filter.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM json_each(workflows.tags) WHERE value IN ({marks}))"
        ));
        params.extend(q.tags.iter().map(|t| SqlValue::Text(t.clone())));
    }
    if let Some(active) = q.active {
        filter.push_str(" AND active = ?");
        params.push(SqlValue::Integer(active.into()));
    }
    let total: i64 = conn
        .prepare(&format!("SELECT count(*) FROM workflows WHERE {filter}"))?
        .query_row(rusqlite::params_from_iter(&params), |r| r.get(0))?;
    let column = match q.order {
        WorkflowOrder::CreatedAt => "created_at",
        WorkflowOrder::UpdatedAt => "updated_at",
        WorkflowOrder::Name => "name",
    };
    let direction = if q.descending { "DESC" } else { "ASC" };
    params.push(SqlValue::Integer(clamp(q.limit)));
    params.push(SqlValue::Integer(clamp(q.offset)));
    let mut stmt = conn.prepare(&format!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE {filter}
         ORDER BY {column} {direction}, pk {direction} LIMIT ? OFFSET ?"
    ))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(&params), workflow)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// Inserts the group named `name` unless the environment has one; returns the group and whether
/// it was created. Also used by bootstrap for each new environment's `General` group.
pub(crate) fn ensure_group(
    conn: &Connection,
    env: &ObjectId,
    org: &ObjectId,
    name: &str,
) -> DbResult<(NotificationGroup, bool)> {
    let now = Timestamp::now().millis();
    let inserted = conn
        .prepare_cached(
            "INSERT INTO notification_groups (id, environment_id, organization_id, name,
                 created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (environment_id, name) DO NOTHING",
        )?
        .execute((
            ObjectId::new().as_str(),
            env.as_str(),
            org.as_str(),
            name,
            now,
        ))?;
    let group = conn
        .prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM notification_groups WHERE environment_id = ?1 AND name = ?2"
        ))?
        .query_row((env.as_str(), name), group)?;
    Ok((group, inserted > 0))
}

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn workflow_by_identifier(
        &self,
        env: &ObjectId,
        identifier: &str,
    ) -> StoreResult<Option<Workflow>> {
        let (env, identifier) = (env.clone(), identifier.to_string());
        self.readers
            .lookup(move |conn| by_identifier(conn, &env, &identifier))
            .await
    }

    async fn get_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<Option<Workflow>> {
        let (env, id) = (env.clone(), id.clone());
        self.readers
            .lookup(move |conn| by_id(conn, &env, &id))
            .await
    }

    async fn create_workflow(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        definition: &WorkflowDefinition,
    ) -> StoreResult<Workflow> {
        let (env, org, def) = (env.clone(), org.clone(), definition.clone());
        self.writer
            .write(move |conn| create(conn, &env, &org, &def))
            .await
    }

    async fn update_workflow(
        &self,
        env: &ObjectId,
        id: &ObjectId,
        definition: &WorkflowDefinition,
    ) -> StoreResult<Option<Workflow>> {
        let (env, id, def) = (env.clone(), id.clone(), definition.clone());
        self.writer
            .write(move |conn| update(conn, &env, &id, &def))
            .await
    }

    async fn delete_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool> {
        let (env, id) = (env.clone(), id.clone());
        self.writer.write(move |conn| delete(conn, &env, &id)).await
    }

    async fn list_workflows(
        &self,
        env: &ObjectId,
        query: &WorkflowQuery,
    ) -> StoreResult<(Vec<Workflow>, u64)> {
        let (env, query) = (env.clone(), query.clone());
        self.readers
            .read(move |conn| list(conn, &env, &query))
            .await
    }

    async fn list_notification_groups(
        &self,
        env: &ObjectId,
    ) -> StoreResult<Vec<NotificationGroup>> {
        let env = env.clone();
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {GROUP_COLUMNS} FROM notification_groups
                     WHERE environment_id = ?1 ORDER BY pk"
                ))?;
                let groups = stmt
                    .query_map([env.as_str()], group)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(groups)
            })
            .await
    }

    async fn get_notification_group(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<NotificationGroup>> {
        let (env, id) = (env.clone(), id.clone());
        self.readers
            .lookup(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {GROUP_COLUMNS} FROM notification_groups
                     WHERE environment_id = ?1 AND id = ?2"
                ))?;
                Ok(stmt
                    .query_row((env.as_str(), id.as_str()), group)
                    .optional()?)
            })
            .await
    }

    async fn create_notification_group(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        name: &str,
    ) -> StoreResult<(NotificationGroup, bool)> {
        let (env, org, name) = (env.clone(), org.clone(), name.to_string());
        self.writer
            .write(move |conn| ensure_group(conn, &env, &org, &name))
            .await
    }
}
