//! Cases for the v2 subscriber search: each filter, their combination, deleted subscribers, cursor
//! paging, and environment isolation.

use super::fixtures::*;
use super::paging::{check_paging, check_unknown_cursor, query, List};
use crate::topic::SubscriberFilter;
use crate::{Environment, Field, Profile, Store, Subscriber};

/// A subscriber with the given name, email and phone (`None`: never set).
async fn person(
    store: &dyn Store,
    env: &Environment,
    id: &str,
    first: Option<&str>,
    last: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
) -> Subscriber {
    let field = |v: Option<&str>| Field::from_option(v.map(str::to_string));
    let profile = Profile {
        first_name: field(first),
        last_name: field(last),
        email: field(email),
        phone: field(phone),
        ..Default::default()
    };
    store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &new_subscriber(id, profile.clone()),
            &patch(profile),
        )
        .await
        .unwrap()
        .0
}

/// The people the filter cases search.
async fn people(store: &dyn Store, env: &Environment) {
    let ada = (Some("Ada"), Some("Lovelace"));
    let grace = (Some("Grace"), Some("Hopper"));
    for (id, (first, last), email, phone) in [
        (
            "user-ada",
            ada,
            Some("ada@Example.com"),
            Some("+44 20 7946 0001"),
        ),
        (
            "user-grace",
            grace,
            Some("grace@navy.mil"),
            Some("+1 555 0100"),
        ),
        ("ALAN", (Some("Alan"), None), None, Some("+44 20 7946 0002")),
        (
            "solo",
            (None, Some("Lovelace-Byron")),
            Some("solo@example.org"),
            None,
        ),
        ("nobody", (None, None), None, None),
    ] {
        person(store, env, id, first, last, email, phone).await;
    }
}

async fn search_ids(
    store: &dyn Store,
    env: &Environment,
    filter: &SubscriberFilter,
) -> Vec<String> {
    let page = store
        .search_subscribers(&env.id, filter, &query(None, None, 100, false))
        .await
        .unwrap();
    assert_eq!(page.total, page.items.len() as u64, "{filter:?}");
    assert!(!page.has_next && !page.has_previous, "{filter:?}");
    page.items.into_iter().map(|s| s.subscriber_id).collect()
}

fn by(field: &str, value: &str) -> SubscriberFilter {
    let v = Some(value.to_string());
    match field {
        "subscriber_id" => SubscriberFilter {
            subscriber_id: v,
            ..Default::default()
        },
        "email" => SubscriberFilter {
            email: v,
            ..Default::default()
        },
        "phone" => SubscriberFilter {
            phone: v,
            ..Default::default()
        },
        "name" => SubscriberFilter {
            name: v,
            ..Default::default()
        },
        other => panic!("no filter {other}"),
    }
}

pub async fn search_subscribers_filters_by_id_email_and_phone_substrings_ignoring_case(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    people(store, &env).await;
    let cases: [(&str, &str, &[&str]); 12] = [
        ("subscriber_id", "user-", &["user-ada", "user-grace"]),
        ("subscriber_id", "USER-A", &["user-ada"]),
        ("subscriber_id", "alan", &["ALAN"]),
        ("subscriber_id", "user-ada-x", &[]),
        ("subscriber_id", "_", &[]),
        ("email", "example", &["user-ada", "solo"]),
        ("email", "@EXAMPLE.COM", &["user-ada"]),
        ("email", "%", &[]),
        ("phone", "+44 20", &["user-ada", "ALAN"]),
        ("phone", "0100", &["user-grace"]),
        ("phone", "555", &["user-grace"]),
        ("phone", "999", &[]),
    ];
    for (field, value, expected) in cases {
        assert_eq!(
            search_ids(store, &env, &by(field, value)).await,
            expected,
            "{field} ~ {value:?}"
        );
    }
    assert_eq!(
        search_ids(store, &env, &SubscriberFilter::default()).await,
        ["user-ada", "user-grace", "ALAN", "solo", "nobody"],
        "no filter lists everyone in creation order"
    );
}

pub async fn search_subscribers_by_name_matches_first_last_or_full_name(store: &dyn Store) {
    let (env, _) = environments(store).await;
    people(store, &env).await;
    let cases: [(&str, &[&str]); 7] = [
        ("ada", &["user-ada"]),
        ("LOVELACE", &["user-ada", "solo"]),
        ("ada love", &["user-ada"]),
        ("a l", &["user-ada"]),
        ("grace hopper", &["user-grace"]),
        ("al", &["ALAN"]),
        ("hopper grace", &[]),
    ];
    for (name, expected) in cases {
        assert_eq!(
            search_ids(store, &env, &by("name", name)).await,
            expected,
            "name ~ {name:?}"
        );
    }
}

pub async fn search_subscribers_combines_filters_and_skips_deleted_subscribers(store: &dyn Store) {
    let (env, _) = environments(store).await;
    people(store, &env).await;
    let both = SubscriberFilter {
        email: Some("example".into()),
        name: Some("lovelace".into()),
        ..Default::default()
    };
    assert_eq!(search_ids(store, &env, &both).await, ["user-ada", "solo"]);
    let all_four = SubscriberFilter {
        subscriber_id: Some("ada".into()),
        email: Some("ada@".into()),
        phone: Some("0001".into()),
        name: Some("ada".into()),
    };
    assert_eq!(search_ids(store, &env, &all_four).await, ["user-ada"]);
    let contradicting = SubscriberFilter {
        phone: Some("+1".into()),
        ..both.clone()
    };
    assert!(search_ids(store, &env, &contradicting).await.is_empty());

    assert!(store.delete_subscriber(&env.id, "user-ada").await.unwrap());
    assert_eq!(search_ids(store, &env, &both).await, ["solo"]);
    assert_eq!(
        search_ids(store, &env, &SubscriberFilter::default()).await,
        ["user-grace", "ALAN", "solo", "nobody"]
    );
    // Found again once re-created, now as the newest.
    let (first, last) = (Some("Ada"), Some("Lovelace"));
    person(
        store,
        &env,
        "user-ada",
        first,
        last,
        Some("ada@example.com"),
        None,
    )
    .await;
    assert_eq!(search_ids(store, &env, &both).await, ["solo", "user-ada"]);
}

pub async fn search_subscribers_pages_forward_and_back_in_both_orders(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let mut everyone = Vec::new();
    let mut matching = Vec::new();
    for i in 0..8 {
        let email = if i % 3 == 2 {
            "x@other.org"
        } else {
            "x@example.com"
        };
        let s = person(store, &env, &format!("s{i}"), None, None, Some(email), None).await;
        if i == 4 {
            // Deleted: out of every list, though its id still marks a position.
            store.delete_subscriber(&env.id, "s4").await.unwrap();
            continue;
        }
        if email.ends_with("example.com") {
            matching.push(s.id.clone());
        }
        everyone.push(s.id);
    }
    let none = SubscriberFilter::default();
    check_paging(store, &env.id, &List::Subscribers(&none), &everyone).await;
    let example = by("email", "example.com");
    check_paging(store, &env.id, &List::Subscribers(&example), &matching).await;
    check_paging(
        store,
        &env.id,
        &List::Subscribers(&by("email", "nowhere")),
        &[],
    )
    .await;
    check_unknown_cursor(
        store,
        &env.id,
        &List::Subscribers(&example),
        &crate::ObjectId::new(),
        matching.len() as u64,
    )
    .await;

    // Pages carry whole subscribers.
    let page = store
        .search_subscribers(&env.id, &example, &query(None, None, 1, true))
        .await
        .unwrap();
    assert_eq!(page.items, [get(store, &env, "s7").await]);
}

pub async fn search_subscribers_is_scoped_to_the_environment(store: &dyn Store) {
    let (a, b) = environments(store).await;
    people(store, &a).await;
    let ada_a = get(store, &a, "user-ada").await;
    assert!(search_ids(store, &b, &SubscriberFilter::default())
        .await
        .is_empty());
    assert!(search_ids(store, &b, &by("name", "ada")).await.is_empty());
    let ada_b = person(store, &b, "user-ada", Some("Ada"), None, None, None).await;
    assert_eq!(
        search_ids(store, &b, &by("name", "ada")).await,
        ["user-ada"]
    );
    check_unknown_cursor(
        store,
        &b.id,
        &List::Subscribers(&SubscriberFilter::default()),
        &ada_a.id,
        1,
    )
    .await;
    let page = store
        .search_subscribers(&b.id, &by("name", "ada"), &query(None, None, 10, false))
        .await
        .unwrap();
    assert_eq!(page.items, [ada_b]);
    assert_eq!(
        search_ids(store, &a, &by("name", "ada")).await,
        ["user-ada"]
    );
}
