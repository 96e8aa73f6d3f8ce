//! A walker that checks the cursor pagination of every v2 list the same way: it pages through the
//! whole list forward with `after` and back with `before`, in both orders and with several page
//! sizes, and checks that every page holds exactly the expected slice (no duplicates, no misses),
//! that `has_next`/`has_previous` say whether items lie beyond the page's last/first item, and
//! that `total` counts every matching item whatever the cursor.

use crate::topic::{CursorPage, CursorQuery, SubscriberFilter, TopicFilter};
use crate::{ObjectId, Store};

/// One of the cursor-paged lists of the store, with its filters.
pub(crate) enum List<'a> {
    Topics(&'a TopicFilter),
    Subscribers(&'a SubscriberFilter),
    /// A topic's memberships, optionally of one subscriber.
    TopicSubscriptions(&'a str, Option<&'a str>),
    /// A subscriber's memberships, optionally of one topic key.
    SubscriberSubscriptions(&'a str, Option<&'a str>),
}

pub(crate) fn query(
    after: Option<&ObjectId>,
    before: Option<&ObjectId>,
    limit: u64,
    descending: bool,
) -> CursorQuery {
    CursorQuery {
        after: after.cloned(),
        before: before.cloned(),
        limit,
        descending,
    }
}

/// The page of `list` that `q` asks for, reduced to the items' cursors (`_id`s).
pub(crate) async fn fetch(
    store: &dyn Store,
    env: &ObjectId,
    list: &List<'_>,
    q: &CursorQuery,
) -> CursorPage<ObjectId> {
    fn ids<T>(page: CursorPage<T>, id: impl Fn(&T) -> &ObjectId) -> CursorPage<ObjectId> {
        CursorPage {
            items: page.items.iter().map(|i| id(i).clone()).collect(),
            has_next: page.has_next,
            has_previous: page.has_previous,
            total: page.total,
        }
    }
    match list {
        List::Topics(filter) => ids(store.search_topics(env, filter, q).await.unwrap(), |t| {
            &t.id
        }),
        List::Subscribers(filter) => ids(
            store.search_subscribers(env, filter, q).await.unwrap(),
            |s| &s.id,
        ),
        List::TopicSubscriptions(key, subscriber) => ids(
            store
                .topic_subscriptions(env, key, *subscriber, q)
                .await
                .unwrap(),
            |s| &s.id,
        ),
        List::SubscriberSubscriptions(subscriber, key) => ids(
            store
                .subscriber_subscriptions(env, subscriber, *key, q)
                .await
                .unwrap(),
            |s| &s.id,
        ),
    }
}

/// Walks `list` in every way and checks it against `expected`, the matching items' ids in
/// creation order.
pub(crate) async fn check_paging(
    store: &dyn Store,
    env: &ObjectId,
    list: &List<'_>,
    expected: &[ObjectId],
) {
    let n = expected.len();
    for descending in [false, true] {
        let mut order = expected.to_vec();
        if descending {
            order.reverse();
        }
        for limit in [1, 2, 3, 100] {
            let context = |what: &str| format!("{what} (descending: {descending}, limit: {limit})");

            // Forward from the start, each page after the previous page's last item.
            let mut seen: Vec<ObjectId> = Vec::new();
            let mut after: Option<ObjectId> = None;
            loop {
                let page = fetch(
                    store,
                    env,
                    list,
                    &query(after.as_ref(), None, limit, descending),
                )
                .await;
                let start = seen.len();
                let end = (start + limit as usize).min(n);
                assert_eq!(page.items, order[start..end], "{}", context("forward page"));
                assert_eq!(page.total, n as u64, "{}", context("total"));
                assert_eq!(
                    page.has_previous,
                    start > 0,
                    "{}",
                    context("forward has_previous")
                );
                assert_eq!(page.has_next, end < n, "{}", context("forward has_next"));
                seen.extend(page.items.iter().cloned());
                if !page.has_next {
                    break;
                }
                after = page.items.last().cloned();
            }
            assert_eq!(
                seen,
                order,
                "{}",
                context("the forward walk sees every item once")
            );
            let Some(last) = order.last() else { continue };

            // Past the end: nothing more.
            let past = fetch(
                store,
                env,
                list,
                &query(Some(last), None, limit, descending),
            )
            .await;
            assert!(past.items.is_empty(), "{}", context("after the last item"));
            assert!(
                !past.has_next,
                "{}",
                context("after the last item, has_next")
            );
            assert_eq!(
                past.total,
                n as u64,
                "{}",
                context("total after the last item")
            );

            // Backward from the last item, each page before the previous page's first item.
            let mut end = n - 1;
            let mut before = last.clone();
            while end > 0 {
                let page = fetch(
                    store,
                    env,
                    list,
                    &query(None, Some(&before), limit, descending),
                )
                .await;
                let start = end.saturating_sub(limit as usize);
                assert_eq!(
                    page.items,
                    order[start..end],
                    "{}",
                    context("backward page")
                );
                assert_eq!(page.total, n as u64, "{}", context("total"));
                assert!(page.has_next, "{}", context("backward has_next"));
                assert_eq!(
                    page.has_previous,
                    start > 0,
                    "{}",
                    context("backward has_previous")
                );
                end = start;
                before = page.items[0].clone();
            }
            let page = fetch(
                store,
                env,
                list,
                &query(None, Some(&before), limit, descending),
            )
            .await;
            assert!(
                page.items.is_empty(),
                "{}",
                context("before the first item")
            );
            assert!(
                !page.has_previous,
                "{}",
                context("before the first item, has_previous")
            );
        }
    }
}

/// A cursor that names no item of this environment's list table yields an empty page with both
/// flags false, and `total` still counts the matching items.
pub(crate) async fn check_unknown_cursor(
    store: &dyn Store,
    env: &ObjectId,
    list: &List<'_>,
    cursor: &ObjectId,
    total: u64,
) {
    for descending in [false, true] {
        for q in [
            query(Some(cursor), None, 10, descending),
            query(None, Some(cursor), 10, descending),
        ] {
            let page = fetch(store, env, list, &q).await;
            assert!(page.items.is_empty(), "{q:?}");
            assert!(!page.has_next && !page.has_previous, "{q:?}");
            assert_eq!(page.total, total, "{q:?}");
        }
    }
}
