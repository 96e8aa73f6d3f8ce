//! The backend-neutral store conformance suite. Each store crate runs every case against a fresh
//! store with [`conformance_tests!`](crate::conformance_tests). Cases are added here, never in a
//! backend, so that both backends are held to the same behaviour: the doc comments of
//! [`crate::store`] are the specification, and each case names the rule it checks.
//!
//! The v2 lists share one checker (`paging`), which walks each list forward and back in both
//! orders and checks every page, so that all lists page alike.
//!
//! Cases never sleep. Where time matters they compare values instead: a no-op keeps `updated_at`
//! equal, and "newest" relies on creation order (stores break `created_at` ties by insertion order).

mod atomic_writes;
mod credentials;
mod delivery;
mod delivery_jobs;
mod environments;
mod fixtures;
mod integrations;
mod isolation;
mod paging;
mod search;
mod secrets;
mod subscribers;
mod subscription_identifiers;
mod subscriptions;
mod token_ownership;
mod topics;
mod workflows;

use std::future::Future;
use std::pin::Pin;

pub use atomic_writes::*;
pub use credentials::*;
pub use delivery::*;
pub use delivery_jobs::*;
pub use environments::*;
pub use integrations::*;
pub use isolation::*;
pub use search::*;
pub use secrets::*;
pub use subscribers::*;
pub use subscription_identifiers::*;
pub use subscriptions::*;
pub use token_ownership::*;
pub use topics::*;
pub use workflows::*;

/// A unit of work for [`Spawn`].
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Starts a future as its own runtime task right away and returns a future that completes when
/// the task does (panicking if the task panicked). The macro passes a `tokio::spawn` wrapper, so
/// this crate needs no runtime of its own.
pub type Spawn = fn(BoxFuture) -> BoxFuture;

/// Expands to one `#[tokio::test]` per conformance case. `$factory` is an async closure-like
/// expression returning `Option<Arc<dyn Store>>` for a fresh, empty store; `None` skips (e.g. no
/// PostgreSQL available and not required). The calling crate needs `tokio` (with `macros` and
/// `rt-multi-thread`).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!(@cases $factory;
            // environments
            bootstrap_creates_two_environments_once,
            authenticate_rejects_unknown_and_revoked_keys,
            add_api_key_returns_the_stored_key_for_a_known_hash,
            add_api_key_to_an_unknown_environment_returns_none,
            revoke_api_key_succeeds_once_per_key,
            list_api_keys_names_each_keys_environment,
            ping_answers_while_the_store_is_open_and_fails_once_it_is_closed,
            // subscribers
            upsert_creates_a_subscriber_with_version_zero,
            upsert_of_an_existing_subscriber_applies_the_patch,
            null_and_absent_profile_fields_survive_a_round_trip,
            get_subscriber_ignores_unknown_and_deleted_subscribers,
            list_subscribers_is_oldest_first_with_offset_and_limit,
            list_subscribers_excludes_deleted_subscribers,
            update_subscriber_changes_only_the_given_fields_and_replaces_data,
            update_subscriber_that_changes_nothing_keeps_updated_at,
            update_subscriber_of_an_unknown_or_deleted_subscriber_returns_none,
            delete_subscriber_soft_deletes_it_and_drops_its_channels,
            upsert_after_delete_creates_a_fresh_subscriber,
            bulk_upsert_reports_created_and_updated_in_input_order,
            bulk_upsert_revives_deleted_subscribers_as_updated,
            bulk_upsert_sets_the_given_fields_and_keeps_the_others,
            set_online_sets_last_online_at_only_when_going_offline,
            set_online_of_an_unknown_subscriber_returns_none,
            // writes that bind channels: whole or absent
            upsert_with_channels_writes_the_profile_and_every_channel,
            upsert_with_a_channel_over_the_token_limit_writes_nothing,
            bulk_write_rolls_back_only_the_item_that_fails,
            bulk_write_of_a_failing_new_subscriber_creates_nothing_for_it,
            // credentials
            a_new_channel_stores_all_eight_fields_and_the_integration_identifier,
            a_new_channel_without_device_tokens_has_no_device_tokens,
            put_credentials_replaces_device_tokens,
            patch_credentials_appends_unique_tokens_in_order,
            put_credentials_without_device_tokens_clears_them,
            patch_credentials_without_device_tokens_keeps_them,
            an_empty_token_list_clears_the_tokens_in_both_modes,
            credentials_fields_not_given_are_kept,
            a_credentials_write_that_changes_nothing_keeps_updated_at,
            channels_of_one_provider_bound_to_different_integrations_stay_apart,
            more_than_100_device_tokens_are_refused_and_nothing_is_stored,
            a_channel_loses_its_integration_identifier_when_the_integration_is_deleted,
            update_credentials_of_an_unknown_or_deleted_subscriber_returns_none,
            delete_credentials_removes_every_channel_of_that_provider_only,
            delete_credentials_of_an_unknown_subscriber_returns_false,
            // one owner per device token, and removing tokens one by one
            registering_a_held_token_with_put_moves_it_from_the_other_subscriber,
            registering_a_held_token_with_patch_keeps_the_emptied_channel,
            a_subscriber_create_or_bulk_write_with_channels_moves_held_tokens,
            a_bulk_write_claiming_many_tokens_moves_them_all,
            sharing_keeps_a_token_on_every_subscriber_that_registered_it,
            re_registering_a_held_token_takes_it_from_those_sharing_it,
            a_token_moves_only_between_channels_of_the_same_integration,
            registering_a_token_never_touches_another_environment,
            removing_device_tokens_takes_them_from_every_channel_of_the_provider_only,
            // integrations
            create_integration_stores_every_field,
            list_integrations_is_oldest_first_without_deleted_ones,
            create_integration_with_a_taken_identifier_conflicts,
            update_integration_replaces_credentials_wholesale_and_keeps_the_rest,
            update_integration_to_a_taken_identifier_conflicts,
            update_integration_of_an_unknown_or_deleted_integration_returns_none,
            delete_integration_is_soft_and_hides_it,
            set_primary_integration_clears_other_primaries_of_its_channel_and_activates_it,
            find_active_integration_returns_the_newest_active_one,
            find_active_integration_filters_by_identifier,
            find_active_integration_never_returns_inactive_or_deleted_ones,
            // topics
            create_topic_stores_every_field,
            create_topic_with_a_taken_key_conflicts,
            upsert_topic_creates_then_sets_only_the_given_fields,
            get_topic_of_an_unknown_key_returns_none,
            list_topics_pages_by_offset_in_creation_order_with_the_total,
            list_topics_filters_by_exact_key,
            search_topics_filters_by_exact_key_and_name_substring_ignoring_case,
            search_topics_pages_forward_and_back_in_both_orders,
            update_topic_sets_only_the_given_fields,
            delete_topic_removes_it_and_its_memberships,
            // topic subscriptions
            add_topic_subscribers_creates_a_missing_topic_with_the_given_name,
            add_topic_subscribers_reports_unknown_and_deleted_subscribers_as_not_found,
            add_topic_subscribers_is_idempotent_and_keeps_request_order,
            a_subscription_carries_the_topic_and_the_subscriber_profile,
            remove_topic_subscribers_returns_the_removed_memberships,
            topic_subscriptions_page_in_both_orders_and_filter_by_subscriber,
            get_topic_subscription_finds_only_existing_memberships,
            subscriber_subscriptions_list_a_subscribers_topics_and_filter_by_key,
            topic_subscriber_ids_are_in_membership_order,
            delete_subscriber_removes_its_memberships,
            // subscription identifiers
            a_subscription_keeps_the_identifier_and_name_it_was_created_with,
            a_subscription_without_an_identifier_is_named_topic_key_colon_subscriber_id,
            get_topic_subscription_by_identifier_finds_only_that_topics_subscription,
            an_identifier_taken_in_the_topic_is_reported_as_a_conflict_and_not_stored,
            subscribing_again_keeps_the_subscription_and_its_identifier,
            // subscriber search
            search_subscribers_filters_by_id_email_and_phone_substrings_ignoring_case,
            search_subscribers_by_name_matches_first_last_or_full_name,
            search_subscribers_combines_filters_and_skips_deleted_subscribers,
            search_subscribers_pages_forward_and_back_in_both_orders,
            // environment isolation
            subscribers_are_invisible_and_untouchable_from_another_environment,
            credentials_are_invisible_and_untouchable_from_another_environment,
            integrations_are_invisible_and_untouchable_from_another_environment,
            topics_and_subscriptions_are_invisible_and_untouchable_from_another_environment,
            subscription_identifiers_are_scoped_to_the_environment,
            search_subscribers_is_scoped_to_the_environment,
            // workflows and notification groups
            create_workflow_stores_every_field,
            create_workflow_with_a_taken_identifier_conflicts,
            update_workflow_replaces_the_definition,
            delete_workflow_is_soft_and_frees_the_identifier,
            list_workflows_filters_by_text_tags_and_status,
            list_workflows_orders_and_pages_with_the_total,
            every_environment_has_a_general_notification_group,
            create_notification_group_returns_the_group_of_that_name,
            workflows_and_groups_are_invisible_and_untouchable_from_another_environment,
            // delivery: events and fan-out
            create_event_reaches_named_subscribers_with_one_job_per_step,
            create_event_with_a_taken_transaction_id_writes_nothing,
            an_idempotency_key_is_stored_with_its_event_and_replayed,
            a_refused_event_leaves_its_idempotency_key_free,
            fan_out_reaches_each_topic_member_once_in_pages,
            broadcast_reaches_every_live_subscriber_of_the_environment,
            cancel_event_cancels_what_has_not_run,
            // delivery: the job queue and activity
            a_claimed_job_is_claimed_again_only_after_its_lease_expires,
            a_recorded_retry_is_due_at_its_time_and_a_finished_job_never,
            released_jobs_are_due_at_once,
            a_job_sees_its_targets_and_what_earlier_runs_recorded,
            a_job_sees_tokens_as_stored_now,
            a_pruned_token_leaves_only_the_jobs_subscriber,
            messages_are_listed_filtered_and_deleted,
            delivery_records_are_invisible_from_another_environment,
            // encryption keys
            rotating_keys_re_encrypts_every_value_in_batches_and_reads_stay_the_same,
            a_key_still_encrypting_values_is_not_retired,
        );
        $crate::conformance_tests!(@spawning $factory;
            concurrent_appends_of_distinct_tokens_keep_every_token,
            concurrent_upserts_of_one_id_create_it_once,
            concurrent_fan_out_creates_each_notification_once,
            concurrent_claims_never_hand_out_a_job_twice,
            concurrent_registrations_of_one_token_leave_one_holder,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(store) = ($factory)().await else { return };
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
    (@spawning $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(store) = ($factory)().await else { return };
                $crate::conformance::$case(store, |task| {
                    // Spawned now, not when awaited, so that the tasks really race.
                    let handle = ::tokio::spawn(task);
                    ::std::boxed::Box::pin(async move {
                        handle.await.expect("a conformance task panicked")
                    })
                })
                .await;
            }
        )*
    };
}
