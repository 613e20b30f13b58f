//! The permission matrix: who may do what in a room, through every use case.

use super::*;

/// The permission matrix: roles against post, read, edit own, delete others', search, manage.
pub async fn permission_matrix(store: Arc<dyn Store>) {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Outcome {
        Ok,
        NotFound,
        Forbidden,
    }
    use Outcome::{Forbidden as F, NotFound as N, Ok as Y};
    fn outcome<T>(r: &crate::Result<T>) -> Outcome {
        match r {
            Ok(_) => Y,
            Err(Error::NotFound { .. }) => N,
            Err(Error::Forbidden { .. }) => F,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    for visibility in [Visibility::Private, Visibility::Public] {
        let h = Harness::new(Arc::clone(&store)).await;
        let owner = h.user("Owner").await;
        let event = h.event(owner).await;
        let room = h.room(owner, event, "Room", visibility).await;
        let user = |n: &'static str| {
            let h = h.clone();
            async move {
                let u = h.user(n).await;
                h.chat
                    .add_event_member(owner, event, u, EventRole::Member)
                    .await
                    .unwrap();
                u
            }
        };
        let outsider = h.user("Outsider").await;
        let non_member = user("NonMember").await;
        let member = user("Member").await;
        let muted = user("Muted").await;
        let banned = user("Banned").await;
        let moderator = user("Moderator").await;
        let admin = user("Admin").await;
        h.chat
            .set_event_role(owner, event, admin, EventRole::Admin)
            .await
            .unwrap();
        for u in [member, muted, banned, moderator, admin] {
            h.chat.invite(owner, room, u).await.unwrap();
        }
        h.chat
            .set_member_role(owner, room, moderator, RoomRole::Moderator)
            .await
            .unwrap();
        let victim = h.send(owner, room, "owner's message").await;
        let own: Vec<_> = {
            let mut v = Vec::new();
            for u in [member, muted, banned, moderator, admin] {
                v.push((u, h.send(u, room, "own message").await.id));
            }
            v
        };
        let own_msg = |u: UserId| {
            own.iter()
                .find(|(x, _)| *x == u)
                .map(|(_, m)| *m)
                .unwrap_or(victim.id)
        };
        let until = h.chat.now().saturating_add(Duration::from_secs(3600));
        h.chat
            .mute_member(owner, room, muted, Some(until))
            .await
            .unwrap();
        h.chat.ban_member(owner, room, banned, true).await.unwrap();

        let private = visibility == Visibility::Private;
        let hidden = if private { N } else { F };
        let banned_read = if private { N } else { F };
        // (name, user, post, read, edit own, delete other's, search room, manage)
        let table = [
            ("outsider", outsider, N, N, N, N, N, N),
            (
                "non-member",
                non_member,
                hidden,
                hidden,
                hidden,
                hidden,
                hidden,
                if private { N } else { F },
            ),
            ("member", member, Y, Y, Y, F, Y, F),
            ("muted", muted, F, Y, F, F, Y, F),
            (
                "banned",
                banned,
                banned_read,
                banned_read,
                banned_read,
                banned_read,
                banned_read,
                banned_read,
            ),
            ("moderator", moderator, Y, Y, Y, Y, Y, Y),
            ("admin", admin, Y, Y, Y, Y, Y, Y),
        ];
        for (name, u, post, read, edit, delete, search_room, manage) in table {
            let ctx = format!("{visibility:?} room, {name}");
            assert_eq!(
                outcome(&h.chat.send_message(u, room, text("hi")).await),
                post,
                "post: {ctx}"
            );
            assert_eq!(
                outcome(&h.chat.history(u, room, HistoryCursor::LATEST, None).await),
                read,
                "read: {ctx}"
            );
            // Outsiders and non-members own no message; they try the owner's, which hides or forbids.
            let edit_target = own_msg(u);
            let got = outcome(&h.chat.edit_message(u, edit_target, "edited".into()).await);
            assert_eq!(got, edit, "edit own: {ctx}");
            let d = h.send(owner, room, "to delete").await;
            assert_eq!(
                outcome(&h.chat.delete_message(u, d.id).await),
                delete,
                "delete other's: {ctx}"
            );
            let s = h.chat.search(u, search("message", Some(room))).await;
            assert_eq!(outcome(&s), search_room, "search: {ctx}");
            let m = h
                .chat
                .rename_room(u, room, format!("Renamed by {name}"))
                .await;
            assert_eq!(outcome(&m), manage, "manage: {ctx}");
        }
    }
}
