//! Cursor pagination of the v2 lists (topics, topic subscriptions, subscriber search), in one
//! place so that every list pages the same way.
//!
//! A list is ordered by `pk` (creation order), ascending or descending. A cursor is an item's
//! public `_id`; it is resolved to its `pk` in the same table and environment, and the page is the
//! `limit` matching items strictly after (`after`) or strictly before (`before`) that position in
//! the chosen order. The cursor item itself need not match the filter (a deleted subscriber still
//! marks a position), but an id unknown in the environment yields an empty page. When both
//! cursors are given, `after` wins.
//!
//! One query fetches `limit + 1` rows walking away from the cursor, so the extra row answers "is
//! there more in that direction"; one `EXISTS` answers the other direction. The count, the page
//! and the `EXISTS` run in the same read transaction, so they agree with each other.

use herald_core::topic::{CursorPage, CursorQuery};
use herald_core::ObjectId;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};

use crate::error::DbResult;

/// A filtered list to page through.
pub(crate) struct Listing<'a> {
    /// Selected columns; the mapper reads them (the first being the ordering `pk`).
    pub columns: &'a str,
    /// `FROM … WHERE …`, ending in a condition so that the cursor bound can be `AND`ed to it.
    pub from_where: String,
    /// The parameters of `from_where`, in order (its placeholders are anonymous `?`).
    pub params: Vec<Value>,
    /// The ordering column, qualified if the query joins (`ts.pk`).
    pub pk: &'a str,
    /// The table the cursor ids belong to (it has `id`, `pk` and `environment_id` columns).
    pub cursor_table: &'a str,
}

impl Listing<'_> {
    /// Adds `AND <condition>` with its parameters.
    pub(crate) fn and(&mut self, condition: &str, params: impl IntoIterator<Item = Value>) {
        self.from_where.push_str(" AND ");
        self.from_where.push_str(condition);
        self.params.extend(params);
    }
}

/// Text for a parameter list.
pub(crate) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn integer(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The `pk` of the row with this public id in the environment.
fn resolve(conn: &Connection, table: &str, env: &ObjectId, id: &ObjectId) -> DbResult<Option<i64>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT pk FROM {table} WHERE id = ?1 AND environment_id = ?2"
    ))?;
    Ok(stmt
        .query_row((id.as_str(), env.as_str()), |r| r.get(0))
        .optional()?)
}

/// One page of `list` as `query` asks. `map` reads a row into its `pk` and item.
pub(crate) fn fetch_page<T>(
    conn: &Connection,
    list: &Listing,
    env: &ObjectId,
    query: &CursorQuery,
    mut map: impl FnMut(&Row) -> rusqlite::Result<(i64, T)>,
) -> DbResult<CursorPage<T>> {
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) {}", list.from_where))?
        .query_row(params_from_iter(&list.params), |r| r.get(0))?;
    let empty = CursorPage {
        items: Vec::new(),
        has_next: false,
        has_previous: false,
        total: total as u64,
    };
    // `forward`: walking away from the cursor in the chosen order (`after`, or no cursor).
    let (cursor, forward) = match (&query.after, &query.before) {
        (Some(id), _) => (Some(id), true),
        (None, Some(id)) => (Some(id), false),
        (None, None) => (None, true),
    };
    let cursor_pk = match cursor {
        None => None,
        Some(id) => match resolve(conn, list.cursor_table, env, id)? {
            Some(pk) => Some(pk),
            None => return Ok(empty),
        },
    };
    let limit = integer(query.limit);
    if limit == 0 {
        return Ok(empty);
    }

    // The walk goes up the pk sequence when it follows an ascending order, or goes back against
    // a descending one.
    let ascending_walk = forward != query.descending;
    let (toward, away, direction) = if ascending_walk {
        (">", "<", "ASC")
    } else {
        ("<", ">", "DESC")
    };
    let pk = list.pk;
    let mut sql = format!("SELECT {} {}", list.columns, list.from_where);
    let mut params = list.params.clone();
    if let Some(cursor_pk) = cursor_pk {
        sql.push_str(&format!(" AND {pk} {toward} ?"));
        params.push(Value::Integer(cursor_pk));
    }
    sql.push_str(&format!(" ORDER BY {pk} {direction} LIMIT ?"));
    params.push(Value::Integer(limit.saturating_add(1)));
    let mut rows = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(&params), &mut map)?
        .collect::<Result<Vec<_>, _>>()?;

    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let Some(&(walk_start, _)) = rows.first() else {
        return Ok(empty);
    };
    // Without a cursor the walk started at the very first item, so nothing lies behind it.
    let behind = match cursor_pk {
        None => false,
        Some(_) => {
            let mut params = list.params.clone();
            params.push(Value::Integer(walk_start));
            conn.prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 {} AND {pk} {away} ?)",
                list.from_where
            ))?
            .query_row(params_from_iter(&params), |r| r.get(0))?
        }
    };
    if !forward {
        rows.reverse();
    }
    let (has_next, has_previous) = if forward {
        (more, behind)
    } else {
        (behind, more)
    };
    Ok(CursorPage {
        items: rows.into_iter().map(|(_, item)| item).collect(),
        has_next,
        has_previous,
        total: total as u64,
    })
}
