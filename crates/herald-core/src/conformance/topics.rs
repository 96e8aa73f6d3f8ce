//! Cases for topics themselves: v1 create, v2 upsert, get, the v1 offset list, the v2 cursor list
//! (`search_topics`), update and delete.

use serde_json::json;

use super::fixtures::*;
use super::paging::{check_paging, check_unknown_cursor, fetch, query, List};
use crate::topic::{Topic, TopicFilter, TopicPatch};
use crate::{ObjectId, Store, StoreError};

fn keys(topics: &[Topic]) -> Vec<&str> {
    topics.iter().map(|t| t.key.as_str()).collect()
}

pub async fn create_topic_stores_every_field(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let new = new_topic("news", Some("News"), Some(json!({"team": ["a", "b"]})));
    let t = store
        .create_topic(&env.id, &env.organization_id, &new)
        .await
        .unwrap();
    assert_eq!(t.key, "news");
    assert_eq!(t.name.as_deref(), Some("News"));
    assert_eq!(t.data, Some(json!({"team": ["a", "b"]})));
    assert_eq!(t.environment_id, env.id);
    assert_eq!(t.organization_id, env.organization_id);
    assert_eq!(t.id.as_str().len(), 24);
    assert_eq!(t.created_at, t.updated_at);
    assert_eq!(store.get_topic(&env.id, "news").await.unwrap(), Some(t));

    let bare = store
        .create_topic(
            &env.id,
            &env.organization_id,
            &new_topic("bare", None, None),
        )
        .await
        .unwrap();
    assert_eq!((bare.name, bare.data), (None, None));
}

pub async fn create_topic_with_a_taken_key_conflicts(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let first = create_topic(store, &env, "news").await;
    let again = store
        .create_topic(
            &env.id,
            &env.organization_id,
            &new_topic("news", Some("Other"), None),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.get_topic(&env.id, "news").await.unwrap(), Some(first));
    // Keys are compared exactly.
    create_topic(store, &env, "News").await;
}

pub async fn upsert_topic_creates_then_sets_only_the_given_fields(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let (created, was_created) = store
        .upsert_topic(
            &env.id,
            &env.organization_id,
            &new_topic("news", Some("News"), Some(json!({"a": 1}))),
        )
        .await
        .unwrap();
    assert!(was_created);
    assert_eq!(created.name.as_deref(), Some("News"));
    assert_eq!(created.data, Some(json!({"a": 1})));

    let (renamed, was_created) = store
        .upsert_topic(
            &env.id,
            &env.organization_id,
            &new_topic("news", Some("Daily news"), None),
        )
        .await
        .unwrap();
    assert!(!was_created);
    assert_eq!(renamed.id, created.id);
    assert_eq!(renamed.created_at, created.created_at);
    assert_eq!(renamed.name.as_deref(), Some("Daily news"));
    assert_eq!(
        renamed.data,
        Some(json!({"a": 1})),
        "data not given is kept"
    );

    let (redata, _) = store
        .upsert_topic(
            &env.id,
            &env.organization_id,
            &new_topic("news", None, Some(json!({"b": 2}))),
        )
        .await
        .unwrap();
    assert_eq!(
        redata.name.as_deref(),
        Some("Daily news"),
        "name not given is kept"
    );
    assert_eq!(redata.data, Some(json!({"b": 2})), "data is replaced whole");

    let (same, was_created) = store
        .upsert_topic(
            &env.id,
            &env.organization_id,
            &new_topic("news", None, None),
        )
        .await
        .unwrap();
    assert!(!was_created);
    assert_eq!(same, redata, "an upsert that gives nothing changes nothing");
    assert_eq!(store.get_topic(&env.id, "news").await.unwrap(), Some(same));
    assert_eq!(store.list_topics(&env.id, None, 0, 10).await.unwrap().1, 1);
}

pub async fn get_topic_of_an_unknown_key_returns_none(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_topic(store, &env, "news").await;
    assert_eq!(store.get_topic(&env.id, "sports").await.unwrap(), None);
    assert_eq!(store.get_topic(&env.id, "NEWS").await.unwrap(), None);
}

pub async fn list_topics_pages_by_offset_in_creation_order_with_the_total(store: &dyn Store) {
    let (env, _) = environments(store).await;
    for key in ["c", "a", "e", "b", "d"] {
        create_topic(store, &env, key).await;
    }
    let (page, total) = store.list_topics(&env.id, None, 0, 2).await.unwrap();
    assert_eq!((keys(&page), total), (vec!["c", "a"], 5));
    let (page, total) = store.list_topics(&env.id, None, 2, 2).await.unwrap();
    assert_eq!((keys(&page), total), (vec!["e", "b"], 5));
    let (page, total) = store.list_topics(&env.id, None, 4, 2).await.unwrap();
    assert_eq!((keys(&page), total), (vec!["d"], 5));
    let (page, total) = store.list_topics(&env.id, None, 10, 2).await.unwrap();
    assert_eq!((page.len(), total), (0, 5));
    let (page, _) = store.list_topics(&env.id, None, 0, u64::MAX).await.unwrap();
    assert_eq!(keys(&page), ["c", "a", "e", "b", "d"]);
}

pub async fn list_topics_filters_by_exact_key(store: &dyn Store) {
    let (env, _) = environments(store).await;
    for key in ["news", "news-eu", "sports"] {
        create_topic(store, &env, key).await;
    }
    let (page, total) = store
        .list_topics(&env.id, Some("news"), 0, 10)
        .await
        .unwrap();
    assert_eq!((keys(&page), total), (vec!["news"], 1));
    let (page, total) = store
        .list_topics(&env.id, Some("new"), 0, 10)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (0, 0));
    let (page, total) = store
        .list_topics(&env.id, Some("news"), 1, 10)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (0, 1), "the total ignores the offset");
}

pub async fn search_topics_filters_by_exact_key_and_name_substring_ignoring_case(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    for (key, name) in [
        ("news", Some("Daily News")),
        ("news-eu", Some("EU newsletter")),
        ("sports", Some("Sports")),
        ("unnamed", None),
    ] {
        store
            .create_topic(&env.id, &env.organization_id, &new_topic(key, name, None))
            .await
            .unwrap();
    }
    let search = |key: Option<&str>, name: Option<&str>| TopicFilter {
        key: key.map(str::to_string),
        name: name.map(str::to_string),
    };
    let all = query(None, None, 100, false);
    for (filter, expected) in [
        (
            search(None, None),
            vec!["news", "news-eu", "sports", "unnamed"],
        ),
        (search(Some("news"), None), vec!["news"]),
        (search(Some("NEWS"), None), vec![]),
        (search(None, Some("NEWS")), vec!["news", "news-eu"]),
        (search(None, Some("y n")), vec!["news"]),
        (search(None, Some("%")), vec![]),
        (search(Some("news-eu"), Some("letter")), vec!["news-eu"]),
        (search(Some("sports"), Some("letter")), vec![]),
    ] {
        let page = store.search_topics(&env.id, &filter, &all).await.unwrap();
        assert_eq!(keys(&page.items), expected, "{filter:?}");
        assert_eq!(page.total, expected.len() as u64, "{filter:?}");
        assert!(!page.has_next && !page.has_previous, "{filter:?}");
    }
}

pub async fn search_topics_pages_forward_and_back_in_both_orders(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let mut all = Vec::new();
    let mut matching = Vec::new();
    for i in 0..7 {
        // Every third topic does not match the name filter, so that cursors skip over it.
        let name = if i % 3 == 1 { "other" } else { "Weekly digest" };
        let t = store
            .create_topic(
                &env.id,
                &env.organization_id,
                &new_topic(&format!("t{i}"), Some(name), None),
            )
            .await
            .unwrap();
        if name != "other" {
            matching.push(t.id.clone());
        }
        all.push(t.id);
    }
    check_paging(store, &env.id, &List::Topics(&TopicFilter::default()), &all).await;
    let digest = TopicFilter {
        name: Some("digest".into()),
        ..Default::default()
    };
    check_paging(store, &env.id, &List::Topics(&digest), &matching).await;

    // A cursor that does not match the filter still marks its position.
    let page = fetch(
        store,
        &env.id,
        &List::Topics(&digest),
        &query(Some(&all[1]), None, 2, false),
    )
    .await;
    assert_eq!(page.items, [all[2].clone(), all[3].clone()]);
    assert!(page.has_next && page.has_previous);

    check_unknown_cursor(store, &env.id, &List::Topics(&digest), &ObjectId::new(), 5).await;
    let empty = TopicFilter {
        key: Some("missing".into()),
        ..Default::default()
    };
    check_paging(store, &env.id, &List::Topics(&empty), &[]).await;
}

pub async fn update_topic_sets_only_the_given_fields(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let created = store
        .create_topic(
            &env.id,
            &env.organization_id,
            &new_topic("news", Some("News"), Some(json!({"a": 1}))),
        )
        .await
        .unwrap();
    let rename = TopicPatch {
        name: Some("Breaking".into()),
        data: None,
    };
    let renamed = store
        .update_topic(&env.id, "news", &rename)
        .await
        .unwrap()
        .expect("the topic exists");
    assert_eq!(renamed.id, created.id);
    assert_eq!(renamed.key, "news");
    assert_eq!(renamed.created_at, created.created_at);
    assert_eq!(renamed.name.as_deref(), Some("Breaking"));
    assert_eq!(renamed.data, Some(json!({"a": 1})));

    let redata = TopicPatch {
        name: None,
        data: Some(json!({"b": [true]})),
    };
    let updated = store
        .update_topic(&env.id, "news", &redata)
        .await
        .unwrap()
        .expect("the topic exists");
    assert_eq!(updated.name.as_deref(), Some("Breaking"));
    assert_eq!(updated.data, Some(json!({"b": [true]})));

    let nothing = store
        .update_topic(&env.id, "news", &TopicPatch::default())
        .await
        .unwrap();
    assert_eq!(
        nothing.as_ref(),
        Some(&updated),
        "an empty patch changes nothing"
    );
    assert_eq!(
        store.get_topic(&env.id, "news").await.unwrap(),
        Some(updated)
    );
    assert_eq!(
        store
            .update_topic(&env.id, "sports", &rename)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_topic(&env.id, "sports").await.unwrap(), None);
}

pub async fn delete_topic_removes_it_and_its_memberships(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_subscriber(store, &env, "ada").await;
    create_subscriber(store, &env, "bob").await;
    subscribe(store, &env, "news", &["ada", "bob"]).await;
    subscribe(store, &env, "sports", &["ada"]).await;

    assert!(store.delete_topic(&env.id, "news").await.unwrap());
    assert_eq!(store.get_topic(&env.id, "news").await.unwrap(), None);
    assert!(members(store, &env, "news").await.is_empty());
    assert!(store
        .get_topic_subscription(&env.id, "news", "ada")
        .await
        .unwrap()
        .is_none());
    let ada = store
        .subscriber_subscriptions(&env.id, "ada", None, &query(None, None, 10, false))
        .await
        .unwrap();
    let topics: Vec<&str> = ada.items.iter().map(|s| s.topic.key.as_str()).collect();
    assert_eq!(topics, ["sports"], "other topics keep their members");
    assert!(!store.delete_topic(&env.id, "news").await.unwrap());

    // A topic created again under the key starts empty.
    let again = create_topic(store, &env, "news").await;
    assert!(members(store, &env, "news").await.is_empty());
    let page = store
        .topic_subscriptions(&env.id, "news", None, &query(None, None, 10, false))
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.total), (0, 0));
    assert_eq!(store.get_topic(&env.id, "news").await.unwrap(), Some(again));
}
