//! The cursor pagination of the v2 lists: `limit`, `after`, `before`, `orderDirection` in, and
//! `{data, next, previous, totalCount, totalCountCapped}` out.

use herald_core::topic::{CursorPage, CursorQuery};
use herald_core::ObjectId;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{js_number, QueryMap};

pub fn parse_cursor(q: &QueryMap) -> Result<CursorQuery, ApiError> {
    let mut errors = Vec::new();
    let limit = q.get("limit").map(js_number).unwrap_or(10.0);
    if limit.fract() != 0.0 || !limit.is_finite() {
        errors.push("limit must be an integer number".to_string());
    } else if limit < 1.0 {
        errors.push("limit must not be less than 1".to_string());
    } else if limit > 100.0 {
        errors.push("limit must not be greater than 100".to_string());
    }
    let mut cursor = |name: &str| match q.get(name).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match ObjectId::parse(v) {
            Some(id) => Some(id),
            None => {
                errors.push(format!(
                    "{name} must be a cursor returned by a previous page"
                ));
                None
            }
        },
    };
    let after = cursor("after");
    let before = cursor("before");
    let descending = match q
        .get("orderDirection")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("DESC") | Some("-1") => true,
        Some("ASC") | Some("1") => false,
        Some(_) => {
            errors.push("orderDirection must be one of the following values: ASC, DESC".into());
            true
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(CursorQuery {
        after,
        before,
        limit: limit as u64,
        descending,
    })
}

/// A page of a v2 list (Novu's `ListSubscribersResponseDto`, `ListTopicsResponseDto`,
/// `ListTopicSubscriptionsResponseDto`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CursorList<T> {
    pub data: Vec<T>,
    /// Cursor of the next page (pass as `after`), or null.
    pub next: Option<String>,
    /// Cursor of the previous page (pass as `before`), or null.
    pub previous: Option<String>,
    pub total_count: u64,
    pub total_count_capped: bool,
}

impl<T> CursorList<T> {
    /// Builds the list from a store page; `id` gives each item's cursor.
    pub fn new<'a, S>(
        page: &'a CursorPage<S>,
        id: impl Fn(&S) -> &ObjectId,
        item: impl Fn(&'a S) -> T,
    ) -> Self {
        CursorList {
            next: page
                .items
                .last()
                .filter(|_| page.has_next)
                .map(|s| id(s).to_string()),
            previous: page
                .items
                .first()
                .filter(|_| page.has_previous)
                .map(|s| id(s).to_string()),
            data: page.items.iter().map(item).collect(),
            total_count: page.total,
            total_count_capped: false,
        }
    }
}
