//! Walking a v2 cursor list (`{data, next, previous, totalCount, totalCountCapped}`) page by page,
//! forwards with `after` and back with `before`, checking the paging keys on every page.

use serde_json::Value;

use crate::helpers::{TestApp, TestResponse};

/// One page of a v2 list after checking its shape: a top-level object that is *not* only
/// `{"data": …}` (the SDKs would unwrap that into a bare array), with `next` and `previous` present
/// (string or null), `totalCount` a number and `totalCountCapped: false`.
pub fn cursor_page(res: &TestResponse) -> &Value {
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.content_type(), Some("application/json"), "{}", res.text);
    let obj = res.body.as_object().expect("a list is an object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["data", "next", "previous", "totalCount", "totalCountCapped"],
        "{}",
        res.text
    );
    assert!(res.body["data"].is_array(), "{}", res.text);
    for end in ["next", "previous"] {
        assert!(
            res.body[end].is_string() || res.body[end].is_null(),
            "{}",
            res.text
        );
    }
    assert!(res.body["totalCount"].is_u64(), "{}", res.text);
    assert_eq!(res.body["totalCountCapped"], false, "{}", res.text);
    &res.body
}

/// `field` of each item of a page.
pub fn field_of(page: &Value, field: &str) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|i| i[field].as_str().expect("a string field").to_string())
        .collect()
}

/// Walks `path` (which may already carry a query) with `limit`: forwards from the first page by
/// `next`/`after` until `next` is null, then back from the last page by `previous`/`before` until
/// `previous` is null. Asserts both walks see the same pages, the ends are null exactly at the ends,
/// no page is empty or over `limit`, and `totalCount` is the number of items on every page. Returns
/// each item's `field`, in list order.
pub async fn walk(app: &TestApp, path: &str, limit: u64, field: &str) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let url = |cursor: Option<(&str, &str)>| match cursor {
        None => format!("{path}{sep}limit={limit}"),
        Some((k, v)) => format!("{path}{sep}limit={limit}&{k}={v}"),
    };

    let mut forward: Vec<Vec<String>> = Vec::new();
    let mut totals = Vec::new();
    let mut page = cursor_page(&app.get(&url(None)).await).clone();
    assert!(page["previous"].is_null(), "first page: {page}");
    loop {
        let items = field_of(&page, field);
        totals.push(page["totalCount"].as_u64().unwrap());
        assert!(items.len() as u64 <= limit, "{page}");
        let next = page["next"].as_str().map(str::to_string);
        forward.push(items);
        let Some(next) = next else { break };
        assert_eq!(forward.last().unwrap().len() as u64, limit, "{page}");
        assert!(forward.len() < 1000, "the walk ends");
        page = cursor_page(&app.get(&url(Some(("after", &next)))).await).clone();
        assert!(!page["data"].as_array().unwrap().is_empty(), "{page}");
        assert!(page["previous"].is_string(), "not the first page: {page}");
    }

    // Back from the last page.
    let mut backward: Vec<Vec<String>> = vec![forward.last().unwrap().clone()];
    while let Some(before) = page["previous"].as_str().map(str::to_string) {
        page = cursor_page(&app.get(&url(Some(("before", &before)))).await).clone();
        totals.push(page["totalCount"].as_u64().unwrap());
        assert!(page["next"].is_string(), "a page before another: {page}");
        backward.push(field_of(&page, field));
        assert!(backward.len() <= forward.len(), "the walk back ends");
    }
    backward.reverse();
    assert_eq!(backward, forward, "the same pages backwards as forwards");

    let all: Vec<String> = forward.into_iter().flatten().collect();
    assert!(
        totals.iter().all(|t| *t == all.len() as u64),
        "totalCount {totals:?} for {} items",
        all.len()
    );
    all
}
