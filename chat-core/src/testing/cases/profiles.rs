//! Profiles and sign-in accounts.

use super::*;

/// Profiles: upsert creates then updates (keeping `created_at`); bad input is refused.
pub async fn profile_upsert_and_get(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let id = UserId::new();
    let p = |n: &str| ProfileInput {
        display_name: n.into(),
        avatar_url: None,
    };
    let first = h.chat.upsert_profile(id, p("  Sarah Chen ")).await.unwrap();
    assert_eq!(first.display_name, "Sarah Chen");
    h.advance_secs(5);
    let second = h
        .chat
        .upsert_profile(
            id,
            ProfileInput {
                display_name: "Sarah C".into(),
                avatar_url: Some("https://a.test/s.png".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(second.created_at, first.created_at);
    assert!(second.updated_at > first.updated_at);
    assert_eq!(h.chat.get_profile(id, id).await.unwrap(), second);
    assert_err!(
        h.chat.get_profile(id, UserId::new()).await,
        Error::NotFound { .. }
    );
    for bad in ["", "   ", "a\0b", "line\nbreak"] {
        assert_err!(
            h.chat.upsert_profile(id, p(bad)).await,
            Error::Validation { .. }
        );
    }
    assert_err!(
        h.chat.upsert_profile(id, p(&"x".repeat(65))).await,
        Error::Validation { .. }
    );
    assert!(h.chat.upsert_profile(id, p(&"é".repeat(64))).await.is_ok());
    let bad_avatar = ProfileInput {
        display_name: "S".into(),
        avatar_url: Some("javascript:alert(1)".into()),
    };
    assert_err!(
        h.chat.upsert_profile(id, bad_avatar).await,
        Error::Validation { .. }
    );
    assert_eq!(
        h.chat.get_profile(id, id).await.unwrap().display_name,
        "é".repeat(64)
    );
}

pub(super) fn profile(name: &str) -> ProfileInput {
    ProfileInput {
        display_name: name.into(),
        avatar_url: None,
    }
}

/// Accounts: created with their profile, found by any casing of the email; a taken email is
/// a conflict that stores nothing and leaves the first account as it was; bad input is
/// refused before anything is stored.
pub async fn accounts_create_find_and_refuse_duplicates(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (account, user) = h
        .chat
        .create_account(
            " Sarah@Example.com",
            "$hash$one".into(),
            profile(" Sarah Chen "),
        )
        .await
        .unwrap();
    assert_eq!(account.email, "sarah@example.com");
    assert_eq!(user.display_name, "Sarah Chen");
    assert_eq!(h.chat.get_profile(user.id, user.id).await.unwrap(), user);

    let found = h
        .chat
        .account_by_email("SARAH@example.COM")
        .await
        .unwrap()
        .expect("found by another casing");
    assert_eq!(found, account);
    assert_eq!(
        h.chat.account_by_email("nobody@example.com").await.unwrap(),
        None
    );
    assert_eq!(h.chat.account_by_email("not an email").await.unwrap(), None);

    assert_err!(
        h.chat
            .create_account("sarah@EXAMPLE.com", "$hash$two".into(), profile("Impostor"))
            .await,
        Error::Conflict { .. }
    );
    let still = h
        .chat
        .account_by_email("sarah@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.password_hash, "$hash$one");
    assert_eq!(still.user_id, user.id);

    assert_err!(
        h.chat
            .create_account("sarah", "$hash".into(), profile("Sarah"))
            .await,
        Error::Validation { ref field, .. } if field == "email"
    );
    assert_err!(
        h.chat
            .create_account("new@example.com", "$hash".into(), profile("  "))
            .await,
        Error::Validation { ref field, .. } if field == "display_name"
    );
    assert_err!(
        h.chat
            .create_account("new@example.com", "$hash".into(), profile("Bad\u{0}Name"))
            .await,
        Error::Validation { ref field, .. } if field == "display_name"
    );
    assert_eq!(
        h.chat.account_by_email("new@example.com").await.unwrap(),
        None
    );
}

/// Sixteen racing sign-ups with one email store one account and one profile; the others get
/// [`Error::Conflict`] and leave no profile behind.
pub async fn racing_sign_ups_create_one_account(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let now = h.chat.now();
    let ids: Vec<UserId> = (0..16).map(|_| UserId::new()).collect();
    let attempts = ids.iter().map(|&id| {
        let store = Arc::clone(&h.store);
        let account = Account {
            user_id: id,
            email: "race@example.com".into(),
            password_hash: format!("$hash${id}"),
            created_at: now,
        };
        let user = crate::User {
            id,
            display_name: "Racer".into(),
            avatar_url: None,
            created_at: now,
            updated_at: now,
            is_bot: false,
        };
        tokio::spawn(async move { store.create_account(account, user).await })
    });
    let results: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let stored = h
        .chat
        .account_by_email("race@example.com")
        .await
        .unwrap()
        .unwrap();
    for (id, result) in ids.iter().zip(&results) {
        match result {
            Ok(user) => {
                assert_eq!(user.id, *id);
                assert_eq!(stored.user_id, *id);
            }
            Err(e) => {
                assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
                assert_eq!(h.store.get_user(*id).await.unwrap(), None, "orphan profile");
            }
        }
    }
}
