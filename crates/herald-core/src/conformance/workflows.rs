//! Cases for workflows and notification groups: create, read by id and identifier, update,
//! soft delete, the filtered and ordered list, the `General` group of every environment, and
//! isolation between environments.

use serde_json::{json, Map};

use super::fixtures::*;
use crate::workflow::{
    NotificationGroup, PreferenceSettings, Severity, Step, StepExtras, StepKind, Workflow,
    WorkflowDefinition, WorkflowDetails, WorkflowOrder, WorkflowOrigin, WorkflowQuery,
    GENERAL_GROUP,
};
use crate::{ObjectId, Store, StoreError};

fn step(kind: StepKind, content: &str) -> Step {
    Step {
        id: ObjectId::new(),
        step_id: format!("{}-step", kind.as_str()),
        name: format!("{} step", kind.as_str()),
        kind,
        active: true,
        content: content.to_string(),
        title: (kind == StepKind::Push).then(|| "Title {{payload.x}}".to_string()),
        provider_overrides: Map::new(),
        extras: StepExtras::default(),
    }
}

/// An active v2 workflow with a chat step, tagged as given.
fn definition(identifier: &str, name: &str, tags: &[&str]) -> WorkflowDefinition {
    WorkflowDefinition {
        identifier: identifier.to_string(),
        name: name.to_string(),
        origin: WorkflowOrigin::V2,
        active: true,
        critical: false,
        tags: strings(tags),
        steps: vec![step(StepKind::Chat, "Hi {{payload.name}}")],
        details: WorkflowDetails::default(),
    }
}

async fn create(store: &dyn Store, env: &crate::Environment, def: &WorkflowDefinition) -> Workflow {
    store
        .create_workflow(&env.id, &env.organization_id, def)
        .await
        .unwrap()
}

fn query() -> WorkflowQuery {
    WorkflowQuery {
        text: None,
        tags: vec![],
        active: None,
        order: WorkflowOrder::CreatedAt,
        descending: false,
        offset: 0,
        limit: 100,
    }
}

fn identifiers(list: &[Workflow]) -> Vec<&str> {
    list.iter().map(|w| w.identifier.as_str()).collect()
}

pub async fn create_workflow_stores_every_field(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let mut push = step(StepKind::Push, "{{#each items}}{{name}}{{/each}}");
    push.active = false;
    push.provider_overrides = object(json!({"fcm": {"android": {"priority": "high"}}}));
    push.extras = StepExtras {
        should_stop_on_fail: true,
        filters: vec![json!({"isNegated": false, "type": "GROUP", "value": "AND", "children": []})],
        uuid: Some("c0ffee".into()),
        controls: object(json!({"skip": {"==": [1, 2]}})),
    };
    let def = WorkflowDefinition {
        identifier: "order.shipped_v1-x".into(),
        name: "Order shipped".into(),
        origin: WorkflowOrigin::V1,
        active: false,
        critical: true,
        tags: strings(&["orders", "ops"]),
        steps: vec![step(StepKind::Chat, "{{orderId}}"), push],
        details: WorkflowDetails {
            description: Some("When an order ships".into()),
            notification_group_id: Some(ObjectId::new()),
            preference_settings: PreferenceSettings {
                chat: false,
                ..Default::default()
            },
            data: Some(json!({"owner": "ops"})),
            severity: Severity::High,
            preferences: Some(object(json!({"user": null}))),
            payload_schema: Some(object(json!({"type": "object"}))),
            validate_payload: Some(true),
            is_translation_enabled: true,
        },
    };
    let w = create(store, &env, &def).await;
    assert_eq!(w.definition(), def);
    assert_eq!(w.environment_id, env.id);
    assert_eq!(w.organization_id, env.organization_id);
    assert_eq!(w.id.as_str().len(), 24);
    assert_eq!(w.created_at, w.updated_at);
    assert_eq!(
        store.get_workflow(&env.id, &w.id).await.unwrap(),
        Some(w.clone())
    );
    assert_eq!(
        store
            .workflow_by_identifier(&env.id, "order.shipped_v1-x")
            .await
            .unwrap(),
        Some(w)
    );
    assert_eq!(
        store
            .workflow_by_identifier(&env.id, "Order.shipped_v1-x")
            .await
            .unwrap(),
        None,
        "identifiers are compared exactly"
    );
}

pub async fn create_workflow_with_a_taken_identifier_conflicts(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let first = create(store, &env, &definition("welcome", "Welcome", &[])).await;
    let again = store
        .create_workflow(
            &env.id,
            &env.organization_id,
            &definition("welcome", "Other", &[]),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        store
            .workflow_by_identifier(&env.id, "welcome")
            .await
            .unwrap(),
        Some(first)
    );
}

pub async fn update_workflow_replaces_the_definition(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let w = create(store, &env, &definition("welcome", "Welcome", &["a"])).await;
    create(store, &env, &definition("taken", "Taken", &[])).await;

    let mut def = w.definition();
    def.name = "Welcome aboard".into();
    def.identifier = "welcome-aboard".into();
    def.active = false;
    def.tags = strings(&["b", "c"]);
    def.steps = vec![step(StepKind::Push, "Body"), step(StepKind::Chat, "Text")];
    def.details.severity = Severity::Low;
    let updated = store
        .update_workflow(&env.id, &w.id, &def)
        .await
        .unwrap()
        .expect("the workflow exists");
    assert_eq!(updated.definition(), def);
    assert_eq!(
        (updated.id.clone(), updated.created_at),
        (w.id.clone(), w.created_at)
    );
    assert!(updated.updated_at >= w.updated_at);
    assert_eq!(
        store.get_workflow(&env.id, &w.id).await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(
        store
            .workflow_by_identifier(&env.id, "welcome")
            .await
            .unwrap(),
        None
    );

    // Keeping its own identifier is fine; taking another workflow's is a conflict.
    assert!(store
        .update_workflow(&env.id, &w.id, &def)
        .await
        .unwrap()
        .is_some());
    def.identifier = "taken".into();
    let clash = store.update_workflow(&env.id, &w.id, &def).await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert_eq!(
        store
            .get_workflow(&env.id, &w.id)
            .await
            .unwrap()
            .map(|w| w.identifier),
        Some("welcome-aboard".into())
    );
    assert_eq!(
        store
            .update_workflow(&env.id, &ObjectId::new(), &def)
            .await
            .unwrap(),
        None
    );
}

pub async fn delete_workflow_is_soft_and_frees_the_identifier(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let w = create(store, &env, &definition("welcome", "Welcome", &[])).await;
    assert!(store.delete_workflow(&env.id, &w.id).await.unwrap());
    assert!(!store.delete_workflow(&env.id, &w.id).await.unwrap());
    assert_eq!(store.get_workflow(&env.id, &w.id).await.unwrap(), None);
    assert_eq!(
        store
            .workflow_by_identifier(&env.id, "welcome")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.list_workflows(&env.id, &query()).await.unwrap().1, 0);
    let mut def = w.definition();
    assert_eq!(
        store.update_workflow(&env.id, &w.id, &def).await.unwrap(),
        None
    );
    def.name = "Welcome again".into();
    let again = create(store, &env, &def).await;
    assert_ne!(again.id, w.id);
    assert!(!store
        .delete_workflow(&env.id, &ObjectId::new())
        .await
        .unwrap());
}

pub async fn list_workflows_filters_by_text_tags_and_status(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create(
        store,
        &env,
        &definition("order-shipped", "Order Shipped", &["orders"]),
    )
    .await;
    let mut inactive = definition("password-reset", "Reset your password", &["auth", "ops"]);
    inactive.active = false;
    create(store, &env, &inactive).await;
    create(
        store,
        &env,
        &definition("digest.weekly", "Weekly ORDERS digest", &["ops"]),
    )
    .await;

    let env = &env;
    let list = |q: WorkflowQuery| async move { store.list_workflows(&env.id, &q).await.unwrap() };
    let (all, total) = list(query()).await;
    assert_eq!(total, 3);
    assert_eq!(
        identifiers(&all),
        ["order-shipped", "password-reset", "digest.weekly"]
    );

    // Name or identifier, ignoring case.
    let (found, total) = list(WorkflowQuery {
        text: Some("order".into()),
        ..query()
    })
    .await;
    assert_eq!(
        (identifiers(&found), total),
        (vec!["order-shipped", "digest.weekly"], 2)
    );
    let (found, _) = list(WorkflowQuery {
        text: Some("R-SHIP".into()),
        ..query()
    })
    .await;
    assert_eq!(identifiers(&found), ["order-shipped"]);
    let (found, _) = list(WorkflowQuery {
        text: Some("%".into()),
        ..query()
    })
    .await;
    assert!(found.is_empty(), "pattern characters are literal");

    // Any of the tags.
    let (found, _) = list(WorkflowQuery {
        tags: strings(&["ops", "nope"]),
        ..query()
    })
    .await;
    assert_eq!(identifiers(&found), ["password-reset", "digest.weekly"]);
    let (found, _) = list(WorkflowQuery {
        tags: strings(&["Orders"]),
        ..query()
    })
    .await;
    assert!(found.is_empty(), "tags are compared exactly");

    let (found, total) = list(WorkflowQuery {
        active: Some(false),
        ..query()
    })
    .await;
    assert_eq!((identifiers(&found), total), (vec!["password-reset"], 1));
    let (found, _) = list(WorkflowQuery {
        active: Some(true),
        tags: strings(&["ops"]),
        ..query()
    })
    .await;
    assert_eq!(identifiers(&found), ["digest.weekly"]);
}

pub async fn list_workflows_orders_and_pages_with_the_total(store: &dyn Store) {
    let (env, _) = environments(store).await;
    for (identifier, name) in [
        ("c", "banana"),
        ("a", "Cherry"),
        ("b", "apple"),
        ("d", "Apple"),
    ] {
        create(store, &env, &definition(identifier, name, &[])).await;
    }
    let env = &env;
    let list = |q: WorkflowQuery| async move { store.list_workflows(&env.id, &q).await.unwrap() };
    let (newest_first, _) = list(WorkflowQuery {
        descending: true,
        ..query()
    })
    .await;
    assert_eq!(identifiers(&newest_first), ["d", "b", "a", "c"]);
    // Names sort bytewise (upper case first), as both backends do.
    let (by_name, _) = list(WorkflowQuery {
        order: WorkflowOrder::Name,
        ..query()
    })
    .await;
    assert_eq!(identifiers(&by_name), ["d", "a", "b", "c"]);
    let (page, total) = list(WorkflowQuery {
        offset: 1,
        limit: 2,
        ..query()
    })
    .await;
    assert_eq!((identifiers(&page), total), (vec!["a", "b"], 4));
    let (past_end, total) = list(WorkflowQuery {
        offset: 10,
        ..query()
    })
    .await;
    assert_eq!((past_end.len(), total), (0, 4));

    let (by_update, _) = list(WorkflowQuery {
        order: WorkflowOrder::UpdatedAt,
        ..query()
    })
    .await;
    let mut expected = by_update.clone();
    expected.sort_by_key(|w| w.updated_at);
    assert_eq!(identifiers(&by_update), identifiers(&expected));
}

pub async fn every_environment_has_a_general_notification_group(store: &dyn Store) {
    let (dev, prod) = environments(store).await;
    for env in [&dev, &prod] {
        let groups = store.list_notification_groups(&env.id).await.unwrap();
        assert_eq!(groups.len(), 1, "{groups:?}");
        let general = &groups[0];
        assert_eq!(general.name, GENERAL_GROUP);
        assert_eq!(general.environment_id, env.id);
        assert_eq!(general.organization_id, env.organization_id);
        assert_eq!(general.id.as_str().len(), 24);
        assert_eq!(
            store
                .get_notification_group(&env.id, &general.id)
                .await
                .unwrap()
                .as_ref(),
            Some(general)
        );
    }
}

pub async fn create_notification_group_returns_the_group_of_that_name(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let env = &env;
    let make = |name: &'static str| async move {
        store
            .create_notification_group(&env.id, &env.organization_id, name)
            .await
            .unwrap()
    };
    let (marketing, created) = make("Marketing").await;
    assert!(created);
    assert_eq!(marketing.name, "Marketing");
    let (again, created) = make("Marketing").await;
    assert!(!created);
    assert_eq!(again, marketing);
    let (general, created) = make(GENERAL_GROUP).await;
    assert!(!created);
    let names: Vec<String> = store
        .list_notification_groups(&env.id)
        .await
        .unwrap()
        .into_iter()
        .map(|g: NotificationGroup| g.name)
        .collect();
    assert_eq!(names, [GENERAL_GROUP, "Marketing"]);
    assert_ne!(general.id, marketing.id);
    assert_eq!(
        store
            .get_notification_group(&env.id, &ObjectId::new())
            .await
            .unwrap(),
        None
    );
}

pub async fn workflows_and_groups_are_invisible_and_untouchable_from_another_environment(
    store: &dyn Store,
) {
    let (owner, other) = environments(store).await;
    let w = create(store, &owner, &definition("welcome", "Welcome", &["x"])).await;
    let (group, _) = store
        .create_notification_group(&owner.id, &owner.organization_id, "Owners")
        .await
        .unwrap();

    assert_eq!(store.get_workflow(&other.id, &w.id).await.unwrap(), None);
    assert_eq!(
        store
            .workflow_by_identifier(&other.id, "welcome")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.list_workflows(&other.id, &query()).await.unwrap(),
        (vec![], 0)
    );
    let mut def = w.definition();
    def.name = "Hijacked".into();
    assert_eq!(
        store.update_workflow(&other.id, &w.id, &def).await.unwrap(),
        None
    );
    assert!(!store.delete_workflow(&other.id, &w.id).await.unwrap());
    assert_eq!(
        store
            .get_notification_group(&other.id, &group.id)
            .await
            .unwrap(),
        None
    );

    // The same identifier and group name are the other environment's own.
    let twin = create(store, &other, &definition("welcome", "Twin", &[])).await;
    assert_ne!(twin.id, w.id);
    let (twin_group, created) = store
        .create_notification_group(&other.id, &other.organization_id, "Owners")
        .await
        .unwrap();
    assert!(created);
    assert_ne!(twin_group.id, group.id);
    assert_eq!(store.get_workflow(&owner.id, &w.id).await.unwrap(), Some(w));
}
