//! Cursor pagination of the v2 lists (subscribers, topics, subscriptions), in one place.
//!
//! A list is described by the SQL selecting the `pk`s of its matching rows (environment and filters
//! applied) and the table its cursors (`_id`s) are looked up in. One statement picks the page's
//! keys, says whether matching rows exist beyond each end of the page and counts every match; the
//! caller then reads the page's rows in that order. Both statements run in one
//! [`snapshot`] transaction, so the count, the flags and the rows agree.
//!
//! `pk` is the insertion sequence, so ordering by it is creation order. A cursor is resolved to its
//! row's `pk` inside the statement; a cursor that names no row of the environment compares as
//! `NULL`, which selects nothing: an empty page with both flags false (the total is still counted).

use herald_core::topic::{CursorPage, CursorQuery};
use herald_core::ObjectId;
use sqlx::postgres::PgConnection;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder, Transaction};

use crate::PgStore;

/// A statement under construction whose bound values it owns.
pub(crate) type Sql = QueryBuilder<'static, Postgres>;

/// A read-only transaction whose statements all see one snapshot.
pub(crate) async fn snapshot(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
}

/// The collation the v2 searches fold case under, as a ` COLLATE …` clause to put after a text
/// expression: where the server has ICU, the ICU root collation, so that the searches fold all of
/// Unicode whatever the database's locale, as the SQLite store's do; elsewhere (no ICU, or not a
/// UTF-8 database) the database's own, as `ILIKE` would use. Looked up once per store.
pub(crate) async fn fold_collation(store: &PgStore) -> sqlx::Result<&'static str> {
    store
        .fold
        .get_or_try_init(|| async {
            // ICU collations exist only in servers built with ICU, and are usable only in UTF-8
            // databases.
            let icu: bool = sqlx::query_scalar(
                "SELECT current_setting('server_encoding') = 'UTF8'
                        AND EXISTS (SELECT 1 FROM pg_collation
                                    WHERE collname = 'und-x-icu' AND collprovider = 'i')",
            )
            .fetch_one(&store.pool)
            .await?;
            Ok::<_, sqlx::Error>(if icu { r#" COLLATE "und-x-icu""# } else { "" })
        })
        .await
        .copied()
}

/// A `LIKE … ESCAPE '\'` pattern matching values that contain `needle`, with the pattern's own
/// metacharacters in `needle` taken literally.
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Pushes "`column` contains `needle`, ignoring case": `lower(column) LIKE (SELECT lower(pattern))`,
/// both folded under `collation` (from [`fold_collation`]). This is what `ILIKE` computes, except
/// that `ILIKE` lower-cases its pattern again for every row, so its cost per row grew with the
/// needle (issue 14); the uncorrelated sub-select is evaluated once per statement. `column` is SQL
/// (parenthesised if it is an expression), never input.
pub(crate) fn push_contains(
    q: &mut Sql,
    collation: &'static str,
    column: &'static str,
    needle: &str,
) {
    q.push("lower(")
        .push(column)
        .push(collation)
        .push(") LIKE (SELECT lower(")
        .push_bind(contains_pattern(needle))
        .push("::text")
        .push(collation)
        .push(r")) ESCAPE '\'");
}

/// The keys of one page, in the requested order.
pub(crate) struct PageKeys {
    pub pks: Vec<i64>,
    pub has_next: bool,
    pub has_previous: bool,
    pub total: u64,
}

impl PageKeys {
    /// The page, given its rows read in the order of `pks`.
    pub(crate) fn with_items<T>(self, items: Vec<T>) -> CursorPage<T> {
        CursorPage {
            items,
            has_next: self.has_next,
            has_previous: self.has_previous,
            total: self.total,
        }
    }
}

#[derive(FromRow)]
struct PageRow {
    total: i64,
    pks: Vec<i64>,
    lower: bool,
    higher: bool,
}

/// Picks one page. `matching` pushes a `SELECT <alias>.pk FROM … WHERE …` selecting every matching
/// row; `cursor_table` has `pk`, `id` and `environment_id` columns and holds the cursors.
pub(crate) async fn page_keys(
    conn: &mut PgConnection,
    env: &ObjectId,
    cursor_table: &'static str,
    page: &CursorQuery,
    matching: impl FnOnce(&mut Sql),
) -> sqlx::Result<PageKeys> {
    let mut q = Sql::new("WITH m AS (");
    matching(&mut q);
    q.push("), w AS (SELECT pk FROM m WHERE TRUE");
    // "After" a cursor means further along the requested order, "before" means earlier.
    let (after_op, before_op) = if page.descending {
        ("<", ">")
    } else {
        (">", "<")
    };
    let cursors = [(&page.after, after_op), (&page.before, before_op)];
    for (id, op) in cursors
        .into_iter()
        .filter_map(|(c, op)| Some((c.as_ref()?, op)))
    {
        q.push(" AND pk ")
            .push(op)
            .push(" (SELECT c.pk FROM ")
            .push(cursor_table)
            .push(" c WHERE c.environment_id = ")
            .push_bind(env.as_str().to_owned())
            .push(" AND c.id = ")
            .push_bind(id.as_str().to_owned())
            .push(")");
    }
    // The page is the first `limit` rows of that window in the requested order or, for `before`
    // alone, the last `limit` ones (the rows right before the cursor).
    let backwards = page.before.is_some() && page.after.is_none();
    let ascending = page.descending == backwards;
    q.push(if ascending {
        " ORDER BY pk ASC"
    } else {
        " ORDER BY pk DESC"
    })
    .push(" LIMIT ")
    .push_bind(i64::try_from(page.limit).unwrap_or(i64::MAX));
    // The page is a contiguous run of `m`, so "anything beyond each end" is a comparison with its
    // smallest and largest key; for an empty page both are NULL and both flags false.
    q.push(
        ") SELECT (SELECT count(*) FROM m) AS total,
                  COALESCE((SELECT array_agg(pk ORDER BY pk) FROM w), '{}'::bigint[]) AS pks,
                  EXISTS (SELECT 1 FROM m WHERE pk < (SELECT min(pk) FROM w)) AS lower,
                  EXISTS (SELECT 1 FROM m WHERE pk > (SELECT max(pk) FROM w)) AS higher",
    );
    let row: PageRow = q.build_query_as().fetch_one(conn).await?;
    let PageRow {
        total,
        mut pks,
        lower,
        higher,
    } = row;
    let (has_next, has_previous) = if page.descending {
        pks.reverse();
        (lower, higher)
    } else {
        (higher, lower)
    };
    Ok(PageKeys {
        pks,
        has_next,
        has_previous,
        total: u64::try_from(total).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_metacharacters_are_taken_literally() {
        assert_eq!(contains_pattern("ab"), "%ab%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
