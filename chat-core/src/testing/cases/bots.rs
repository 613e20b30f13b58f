//! Bots: service accounts limited to their rooms, whose messages are marked.

use super::*;

/// Bots: only owners and admins make them; a bot is a member of the event and of the rooms it
/// was given only, cannot join others itself (public ones included); every message it sends
/// is marked `is_ai_generated`, by either send call; a profile update keeps it a bot; a room of
/// another event is refused and makes nothing.
pub async fn bots_are_marked_and_stay_in_their_rooms(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, main) = h.owner_event_room().await;
    let member = h.joined("Member", owner, event, main).await;
    let side = h.room(owner, event, "Side", Visibility::Public).await;
    let other_owner = h.user("Elsewhere").await;
    let other_event = h.event(other_owner).await;
    let foreign = h
        .room(other_owner, other_event, "Theirs", Visibility::Public)
        .await;
    let profile = |name: &str| ProfileInput {
        display_name: name.into(),
        avatar_url: None,
    };

    assert_err!(
        h.chat
            .create_bot(member, event, profile("Helper"), &[main])
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .create_bot(owner, event, profile("Helper"), &[foreign])
            .await,
        Error::NotFound { what: "room" }
    );
    assert_err!(
        h.chat.create_bot(owner, event, profile("  "), &[main]).await,
        Error::Validation { ref field, .. } if field == "display_name"
    );
    assert_eq!(
        h.chat.event_members(owner, event).await.unwrap().len(),
        2,
        "nothing made"
    );

    let made = h
        .chat
        .create_bot(owner, event, profile("Helper"), &[main])
        .await
        .unwrap();
    assert!(made.is_bot);
    let bot = made.id;
    assert!(h.chat.get_profile(member, bot).await.unwrap().is_bot);
    let rooms: Vec<_> = h
        .chat
        .list_rooms(bot, RoomFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.membership.is_some())
        .map(|v| v.room.id)
        .collect();
    assert_eq!(rooms, vec![main]);
    assert_err!(h.chat.join_room(bot, side).await, Error::Forbidden { .. });

    let sent = h
        .chat
        .send_message(bot, main, text("beep"))
        .await
        .unwrap()
        .message;
    assert!(sent.is_ai_generated, "marked though sent with send_message");
    let stored = h.chat.get_message(member, sent.id).await.unwrap();
    assert!(stored.is_ai_generated);
    assert!(!h.send(member, main, "a person").await.is_ai_generated);
    // A person's message written by a model (a host's assistant posting for them) is marked
    // by the call that sends it, and stays theirs.
    let drafted = h
        .chat
        .send_ai_message(member, main, text("drafted for you"))
        .await
        .unwrap()
        .message;
    assert!(drafted.is_ai_generated);
    assert_eq!(drafted.author_id, member);
    assert!(
        h.chat
            .get_message(owner, drafted.id)
            .await
            .unwrap()
            .is_ai_generated
    );

    // Still a bot after a profile update; admins may put it in more rooms.
    h.chat
        .upsert_profile(bot, profile("Helper v2"))
        .await
        .unwrap();
    assert!(h.chat.get_profile(owner, bot).await.unwrap().is_bot);
    h.chat.invite(owner, side, bot).await.unwrap();
    assert!(
        h.chat
            .send_message(bot, side, text("hi"))
            .await
            .unwrap()
            .message
            .is_ai_generated
    );
}

/// Bots' tokens: issued (shown once), listed and revoked by the event's owners and admins
/// only; a token authenticates its bot while live, and not once revoked (on a second service
/// over the same store too, at once) or expired; forged, altered and unknown tokens are
/// refused with `Unauthenticated`; another bot's token, or a token through another bot, is
/// `NotFound`.
pub async fn bot_tokens_are_listed_and_revoked_at_once(store: Arc<dyn Store>) {
    use crate::ChatService;
    use crate::bot_token::PREFIX;
    let h = Harness::with_limits(Arc::clone(&store), relaxed()).await;
    let (owner, event, main) = h.owner_event_room().await;
    let member = h.joined("Member", owner, event, main).await;
    let profile = |name: &str| ProfileInput {
        display_name: name.into(),
        avatar_url: None,
    };
    let bot = h
        .chat
        .create_bot(owner, event, profile("Helper"), &[main])
        .await
        .unwrap()
        .id;
    let other_bot = h
        .chat
        .create_bot(owner, event, profile("Other"), &[main])
        .await
        .unwrap()
        .id;
    let day = Duration::from_secs(24 * 3600);

    assert_err!(
        h.chat.issue_bot_token(member, event, bot, day).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.issue_bot_token(owner, event, member, day).await,
        Error::NotFound { what: "bot" }
    );
    assert_err!(
        h.chat.issue_bot_token(owner, event, bot, Duration::ZERO).await,
        Error::Validation { ref field, .. } if field == "ttl"
    );
    let first = h
        .chat
        .issue_bot_token(owner, event, bot, day)
        .await
        .unwrap();
    let second = h
        .chat
        .issue_bot_token(owner, event, bot, day)
        .await
        .unwrap();
    assert!(first.token.starts_with(PREFIX));
    assert_ne!(first.token, second.token);
    for issued in [&first, &second] {
        assert_eq!(
            h.chat.authenticate_bot_token(&issued.token).await.unwrap(),
            bot
        );
    }
    let listed = h.chat.bot_tokens(owner, event, bot).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id).collect::<Vec<_>>(),
        [second.record.id, first.record.id],
        "newest first"
    );
    assert!(listed.iter().all(|t| t.revoked_at.is_none()));
    assert_err!(
        h.chat.bot_tokens(member, event, bot).await,
        Error::Forbidden { .. }
    );

    // Forgeries, alterations and strangers.
    let mut altered = first.token.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == '0' { '1' } else { '0' });
    let unknown = format!(
        "{PREFIX}{}_{}",
        crate::BotTokenId::new().as_uuid().simple(),
        "a".repeat(64)
    );
    for bad in [
        altered.as_str(),
        unknown.as_str(),
        "",
        "cbt_",
        "not a token",
    ] {
        assert_err!(
            h.chat.authenticate_bot_token(bad).await,
            Error::Unauthenticated
        );
    }

    // Revoked: refused at once, here and by another service over the same store.
    assert_err!(
        h.chat
            .revoke_bot_token(owner, event, other_bot, first.record.id)
            .await,
        Error::NotFound { what: "bot token" }
    );
    assert_err!(
        h.chat
            .revoke_bot_token(member, event, bot, first.record.id)
            .await,
        Error::Forbidden { .. }
    );
    let other_instance = ChatService::builder(Arc::clone(&store))
        .clock(h.clock.clone())
        .build();
    assert_eq!(
        other_instance
            .authenticate_bot_token(&first.token)
            .await
            .unwrap(),
        bot
    );
    let revoked = h
        .chat
        .revoke_bot_token(owner, event, bot, first.record.id)
        .await
        .unwrap();
    let at = revoked.revoked_at.expect("revoked");
    assert_err!(
        h.chat.authenticate_bot_token(&first.token).await,
        Error::Unauthenticated
    );
    assert_err!(
        other_instance.authenticate_bot_token(&first.token).await,
        Error::Unauthenticated
    );
    assert_eq!(
        other_instance
            .authenticate_bot_token(&second.token)
            .await
            .unwrap(),
        bot,
        "the other token still works"
    );
    h.clock.advance(Duration::from_secs(5));
    let again = h
        .chat
        .revoke_bot_token(owner, event, bot, first.record.id)
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(at),
        "the first revocation time is kept"
    );

    // Expired: refused.
    h.clock.advance(day);
    assert_err!(
        h.chat.authenticate_bot_token(&second.token).await,
        Error::Unauthenticated
    );
}
