//! Structured messages: polls, and a host's own payload kind.

use serde_json::{Value, json};

use super::*;
use crate::{ChatService, Message, MessageId, Payload, PayloadKind, Poll};

fn poll(question: &str, options: &[&str]) -> SendMessage {
    SendMessage {
        payload: Some(Payload {
            kind: "poll".into(),
            data: json!({ "options": options }),
        }),
        ..text(question)
    }
}

fn poll_of(message: &Message) -> Poll {
    Poll::of(message).expect("a poll")
}

/// The room's last seq, as `user` reads it.
async fn last_seq(h: &Harness, user: UserId, room: crate::RoomId) -> RoomSeq {
    h.chat
        .changes(user, room, RoomSeq::ZERO, None)
        .await
        .unwrap()
        .last_seq
}

/// The kinds of the log entries after `after`, with the message each names.
async fn log_after(
    h: &Harness,
    user: UserId,
    room: crate::RoomId,
    after: RoomSeq,
) -> Vec<(&'static str, Option<Message>)> {
    h.chat
        .changes(user, room, after, Some(100))
        .await
        .unwrap()
        .changes
        .into_iter()
        .map(|c| (c.kind.name(), c.kind.message().cloned()))
        .collect()
}

/// Polls: a refused poll stores nothing; a new one is open with no votes; 16 racing voters
/// are all counted; a member changes and withdraws their vote, each a `payload_updated`
/// change in the log and live, a repeated vote logging nothing; bad options, non-polls,
/// outsiders and muted members are refused with their exact errors; only the author or a
/// moderator closes, after which votes are refused and the tallies stay; a deleted poll
/// leaves no options or votes in any log entry.
#[allow(clippy::too_many_lines)]
pub async fn polls_count_one_changeable_vote_per_member(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let mut voters = Vec::new();
    for i in 0..16 {
        voters.push(h.joined(&format!("Voter {i}"), owner, event, room).await);
    }
    let outsider = h.user("Outsider").await;

    // Refused polls store nothing.
    let refused = [
        (poll(" ", &["A", "B"]), "text"),
        (poll("Where?", &["A"]), "payload.data.options"),
        (poll("Where?", &["A", "a"]), "payload.data.options[1]"),
        (poll("Where?", &["A", "B\u{0}"]), "payload.data"),
    ];
    for (input, expected) in refused {
        assert_err!(
            h.chat.send_message(owner, room, input).await,
            Error::Validation { ref field, .. } if field == expected
        );
    }
    let unknown = SendMessage {
        payload: Some(Payload {
            kind: "survey".into(),
            data: json!({}),
        }),
        ..text("hm")
    };
    assert_err!(
        h.chat.send_message(owner, room, unknown).await,
        Error::Validation { ref field, .. } if field == "payload.kind"
    );
    let page = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert!(page.messages.is_empty(), "refused polls stored nothing");

    let sent = h
        .chat
        .send_message(owner, room, poll("Where do we eat?", &["Lake", " Hills "]))
        .await
        .unwrap()
        .message;
    assert_eq!(sent.text, "Where do we eat?");
    assert_eq!(
        poll_of(&sent),
        Poll::new(vec!["Lake".into(), "Hills".into()])
    );
    assert_eq!(
        h.chat.get_message(voters[0], sent.id).await.unwrap(),
        sent,
        "stored as sent"
    );

    let mut live = h.chat.subscribe(owner, room, None).await.unwrap();
    let votes = voters.iter().enumerate().map(|(i, v)| {
        let option = u32::try_from(i % 2).unwrap();
        let chat = Arc::clone(&h.chat);
        let (voter, id) = (*v, sent.id);
        async move { chat.vote_in_poll(voter, id, Some(option)).await }
    });
    for result in join_all(votes).await {
        result.unwrap();
    }
    let now = poll_of(&h.chat.get_message(owner, sent.id).await.unwrap());
    assert_eq!(now.counts, [8, 8], "every racing vote counted once");
    assert_eq!(now.votes.len(), 16);
    let log = log_after(&h, owner, room, sent.seq).await;
    assert_eq!(log.len(), 16);
    assert!(
        log.iter()
            .all(|(kind, m)| *kind == "payload_updated"
                && m.as_ref().is_some_and(|m| m.id == sent.id))
    );
    for _ in 0..16 {
        let delivered = tokio::time::timeout(Duration::from_secs(5), live.recv())
            .await
            .expect("a live change")
            .expect("open");
        let Delivery::Change(change) = delivered else {
            panic!("expected a change, got {delivered:?}");
        };
        assert_eq!(change.kind.name(), "payload_updated");
    }

    // Changing, repeating and withdrawing a vote.
    let changed = h
        .chat
        .vote_in_poll(voters[0], sent.id, Some(1))
        .await
        .unwrap();
    assert_eq!(poll_of(&changed).counts, [7, 9]);
    let last = last_seq(&h, owner, room).await;
    let same = h
        .chat
        .vote_in_poll(voters[0], sent.id, Some(1))
        .await
        .unwrap();
    assert_eq!(poll_of(&same).counts, [7, 9]);
    assert!(
        log_after(&h, owner, room, last).await.is_empty(),
        "a repeated vote logs nothing"
    );
    let withdrawn = h.chat.vote_in_poll(voters[0], sent.id, None).await.unwrap();
    assert_eq!(poll_of(&withdrawn).counts, [7, 8]);
    assert!(!poll_of(&withdrawn).votes.contains_key(&voters[0]));

    // Refusals.
    assert_err!(
        h.chat.vote_in_poll(voters[1], sent.id, Some(2)).await,
        Error::Validation { ref field, .. } if field == "option"
    );
    assert_err!(
        h.chat.vote_in_poll(outsider, sent.id, Some(0)).await,
        Error::NotFound { what: "message" }
    );
    assert_err!(
        h.chat
            .vote_in_poll(voters[1], MessageId::new(), Some(0))
            .await,
        Error::NotFound { what: "message" }
    );
    let plain = h.send(owner, room, "not a poll").await;
    assert_err!(
        h.chat.vote_in_poll(voters[1], plain.id, Some(0)).await,
        Error::Conflict { .. }
    );
    let muted = voters[2];
    h.chat
        .mute_member(
            owner,
            room,
            muted,
            Some(h.chat.now().saturating_add(Duration::from_secs(3600))),
        )
        .await
        .unwrap();
    assert_err!(
        h.chat.vote_in_poll(muted, sent.id, Some(1)).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.close_poll(voters[1], sent.id).await,
        Error::Forbidden { .. }
    );
    let counts_before = poll_of(&h.chat.get_message(owner, sent.id).await.unwrap()).counts;
    assert_eq!(counts_before, [7, 8], "refusals changed nothing");

    // Closing.
    let closed = h.chat.close_poll(owner, sent.id).await.unwrap();
    assert!(poll_of(&closed).closed);
    let last = last_seq(&h, owner, room).await;
    assert_eq!(h.chat.close_poll(owner, sent.id).await.unwrap(), closed);
    assert!(
        log_after(&h, owner, room, last).await.is_empty(),
        "closing twice logs once"
    );
    assert_err!(
        h.chat.vote_in_poll(voters[1], sent.id, Some(0)).await,
        Error::Conflict { .. }
    );
    assert_eq!(
        poll_of(&h.chat.get_message(owner, sent.id).await.unwrap()).counts,
        [7, 8]
    );

    // Deleting: no entry about the poll keeps its options or votes.
    h.chat.delete_message(owner, sent.id).await.unwrap();
    assert_eq!(
        h.chat.get_message(owner, sent.id).await.unwrap().payload,
        None
    );
    for (_, message) in log_after(&h, owner, room, RoomSeq::ZERO).await {
        if let Some(m) = message.filter(|m| m.id == sent.id) {
            assert_eq!(m.payload, None, "a deleted poll's entries carry no payload");
        }
    }
    assert_err!(
        h.chat.vote_in_poll(voters[1], sent.id, Some(0)).await,
        Error::Conflict { .. }
    );
}

/// A task card, as a host would register it.
#[derive(Debug)]
struct Task;

impl PayloadKind for Task {
    fn validate(&self, data: Value, _text: &str) -> crate::Result<Value> {
        let title = data.get("title").and_then(Value::as_str).unwrap_or("");
        if title.trim().is_empty() {
            return Err(Error::validation(
                "payload.data.title",
                "a task needs a title",
            ));
        }
        let done = data.get("done").and_then(Value::as_bool).unwrap_or(false);
        Ok(json!({ "title": title.trim(), "done": done }))
    }
}

/// A host's kind: registered kinds are validated (and normalized) by their validator, others
/// refused; a payload may stand without text; its author updates it (validated again, logged
/// as `payload_updated`, an unchanged update logging nothing), nobody else does, and a poll or
/// a plain message cannot be updated this way; an edit keeps the payload.
pub async fn host_payload_kinds_validate_and_update(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let chat = Arc::new(
        ChatService::builder(Arc::clone(&h.store))
            .clock(h.clock.clone())
            .limits(relaxed())
            .payload_kind("task", Arc::new(Task))
            .build(),
    );
    let (owner, event, room) = h.owner_event_room().await;
    let member = h.joined("Member", owner, event, room).await;
    let task = |data: Value| SendMessage {
        payload: Some(Payload {
            kind: "task".into(),
            data,
        }),
        ..SendMessage::default()
    };

    assert_err!(
        chat.send_message(owner, room, task(json!({"title": " "}))).await,
        Error::Validation { ref field, .. } if field == "payload.data.title"
    );
    assert_err!(
        h.chat.send_message(owner, room, task(json!({"title": "Tickets"}))).await,
        Error::Validation { ref field, .. } if field == "payload.kind"
    );
    let card = chat
        .send_message(
            owner,
            room,
            task(json!({"title": " Book tickets ", "extra": 1})),
        )
        .await
        .unwrap()
        .message;
    assert_eq!(card.text, "", "a payload stands without text");
    let stored = card.payload.clone().unwrap();
    assert_eq!(stored.data, json!({"title": "Book tickets", "done": false}));

    let done = chat
        .update_payload(
            owner,
            card.id,
            json!({"title": "Book tickets", "done": true}),
        )
        .await
        .unwrap();
    assert_eq!(done.payload.as_ref().unwrap().data["done"], json!(true));
    let log = log_after(&h, owner, room, card.seq).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, "payload_updated");
    assert_eq!(log[0].1.as_ref().unwrap().payload, done.payload);
    let last = last_seq(&h, owner, room).await;
    let again = chat
        .update_payload(
            owner,
            card.id,
            json!({"title": "Book tickets", "done": true}),
        )
        .await
        .unwrap();
    assert_eq!(again.payload, done.payload);
    assert!(
        log_after(&h, owner, room, last).await.is_empty(),
        "an unchanged update logs nothing"
    );

    assert_err!(
        chat.update_payload(member, card.id, json!({"title": "Mine"}))
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        chat.update_payload(owner, card.id, json!({"title": ""})).await,
        Error::Validation { ref field, .. } if field == "payload.data.title"
    );
    let a_poll = chat
        .send_message(owner, room, poll("Q?", &["A", "B"]))
        .await
        .unwrap()
        .message;
    assert_err!(
        chat.update_payload(owner, a_poll.id, json!({"options": ["A", "B"]}))
            .await,
        Error::Forbidden { .. }
    );
    let plain = h.send(owner, room, "plain").await;
    assert_err!(
        chat.update_payload(owner, plain.id, json!({"title": "x"}))
            .await,
        Error::Conflict { .. }
    );
    assert_eq!(
        chat.get_message(owner, card.id).await.unwrap().payload,
        done.payload,
        "refused updates changed nothing"
    );

    let edited = chat
        .edit_message(owner, card.id, "see the card".into())
        .await
        .unwrap();
    assert_eq!(edited.payload, done.payload, "an edit keeps the payload");
    // A poll's question stays required through edits.
    assert_err!(
        chat.edit_message(owner, a_poll.id, " ".into()).await,
        Error::Validation { ref field, .. } if field == "text"
    );
}
