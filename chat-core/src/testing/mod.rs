//! The conformance suite every store must pass (feature `testing`).
//!
//! Each case is a plain `pub async fn case(store: Arc<dyn Store>)` that drives a
//! [`ChatService`](crate::ChatService) over the store and panics on failure. Error cases assert the exact
//! [`Error`](crate::Error) variant: error meaning is part of the store contract.
//!
//! A backend runs the whole suite with one line in its tests:
//!
//! ```ignore
//! async fn store() -> Arc<dyn chat_core::Store> { Arc::new(MyStore::new()) }
//! chat_core::conformance_tests!(store);
//! ```
//!
//! which expands into one `#[tokio::test]` per case (the calling crate needs `tokio` with the
//! `macros` and `rt-multi-thread` features). A backend that needs its own test attribute (such
//! as `#[sqlx::test]`) uses [`for_each_conformance_case!`](crate::for_each_conformance_case)
//! to receive the list of case names.
//!
//! [`blobs`] holds the blob-store suite (`blob_store_tests!`), and [`fixtures`] the files
//! attachment tests upload (images with EXIF, PDFs of exact sizes).
//!
//! [`brokers`] holds the broker suite: what every [`Broker`](crate::Broker) must do, alone or
//! as several instances sharing a store. A backend implements
//! [`BrokerCluster`](brokers::BrokerCluster) and runs every case with
//! [`for_each_broker_case!`](crate::for_each_broker_case).

pub mod blobs;
pub mod brokers;
mod cases;
mod edges;
pub mod fixtures;
mod harness;

pub use cases::*;
pub use edges::*;
pub use harness::{Harness, text};

/// Asserts that a result is an error matching a pattern (with an optional `if` guard),
/// printing what it was otherwise.
#[macro_export]
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {
        match $result {
            Err($pattern) $(if $guard)? => {}
            other => panic!(
                "expected Err({}), got {:?}",
                stringify!($pattern $(if $guard)?),
                other.map(|_| "Ok(..)")
            ),
        }
    };
}

/// Calls `callback! { [args] case_a case_b … }` with the name of every conformance case, so a
/// backend can wrap each case in the test attribute it needs.
#[macro_export]
macro_rules! for_each_conformance_case {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! { [$($args)*]
            profile_upsert_and_get
            events_create_list_and_hide
            event_members_and_roles
            rooms_create_list_and_filter
            room_settings_rename_archive_slow_mode
            room_membership_join_invite_leave_ban
            mute_and_room_roles
            history_pages_in_both_directions
            keyset_pages_stable_under_concurrent_sends
            seq_gap_free_under_32_concurrent_senders
            catch_up_from_any_seq_includes_edits_and_deletes
            idempotent_client_msg_id
            racing_duplicate_client_msg_ids_store_one_message
            rate_limit_exact_under_100_concurrent_sends
            rejected_sends_cost_no_quota
            slow_mode_per_room
            original_rate_limit_11th_message_fails
            original_message_too_long
            original_mentions_stored
            send_validation_stores_nothing
            the_store_authorises_each_send
            attachments_and_replies
            edit_rules
            delete_rules_and_tombstones
            reactions
            permission_matrix
            search_respects_permissions_and_deletions
            system_metrics_across_hour_and_day_boundaries
            member_prefix_lookup
            typing_is_throttled_and_fanned_out
            live_subscription_resumes_without_gap_or_duplicate
            mark_read_only_moves_forward
            room_log_records_every_visible_change
            racing_room_names_create_one_room
            accounts_create_find_and_refuse_duplicates
            event_members_added_by_email
            feed_reads_every_readable_change_from_a_cursor
            feed_follower_wakes_for_new_changes
            webhooks_deliver_in_order_with_backoff_and_dead_letters
            webhook_registration_and_addresses_are_the_hosts_to_allow
            bots_are_marked_and_stay_in_their_rooms
            a_host_provides_users_admits_them_and_sets_rules
            bot_tokens_are_listed_and_revoked_at_once
            polls_count_one_changeable_vote_per_member
            host_payload_kinds_validate_and_update
            racing_sign_ups_create_one_account
            deleted_and_replaced_text_is_gone_from_every_read_path
            mentions_carry_the_members_current_name
            moderation_needs_a_higher_standing
            profiles_are_visible_only_to_people_who_share_an_event
            resume_beyond_the_last_seq_is_refused
            names_refuse_invisible_and_direction_changing_characters
            uploads_are_sniffed_and_checked
            image_metadata_is_stripped
            attachments_attach_once_by_their_uploader
            attachment_reads_follow_room_access
            a_durable_store_is_never_paired_with_memory_blobs
            image_bombs_are_refused_from_their_headers
            thumbnails_are_never_larger_than_their_image
            a_new_picture_keeps_a_concurrent_rename
            unattached_uploads_are_collected_after_the_ttl
            profile_pictures_are_redrawn_and_kept
            direct_rooms_are_one_per_set_of_people
            direct_room_idempotent_under_16_concurrent_opens
            threads_count_replies_in_the_room_log
            history_around_centres_on_a_seq
            unread_counts_follow_the_rules
            mention_feed_newest_first_from_readable_rooms
            prefix_search_with_room_names_and_snippets
            read_receipts_follow_the_room_setting
            unread_feed_follows_every_room_live
            unread_counts_stay_exact_through_edits_reads_and_races
            presence_is_per_user_and_only_for_contacts
        }
    };
}

/// Expands into one `#[tokio::test]` per conformance case, each given a store from
/// `$factory().await` (an async fn returning `Arc<dyn Store>`).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::for_each_conformance_case!([$crate::__conformance_test] $factory);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test {
    ([$factory:path] $($case:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::testing::$case($factory().await).await;
            }
        )*
    };
}
