//! Sign-in accounts: an email and a password hash bound to a user.
//!
//! The engine does not need accounts: a host application that owns identity issues its own
//! tokens and only keeps profiles here. Accounts exist for deployments without such a host,
//! such as the example server, which signs users up and in with them. Hashing the password is
//! the transport's job (chat-http uses argon2); the core and the stores only ever see the hash.

use std::fmt;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::id::UserId;

/// Longest email address accepted, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// An account: the email a user signs in with and the hash of their password.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The user this account signs in as.
    pub user_id: UserId,
    /// The email, normalized by [`normalize_email`]; unique per store.
    pub email: String,
    /// A self-describing password hash (a PHC string such as `$argon2id$…`), never the
    /// password.
    pub password_hash: String,
    /// When the account was created.
    pub created_at: Timestamp,
}

impl fmt::Debug for Account {
    // The hash stays out of logs and panic messages: it is an offline-guessing target.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The canonical form of an email address, so `Sarah@Example.com ` and `sarah@example.com`
/// are one account: trimmed and lowercased.
///
/// Lowercasing the local part is not what RFC 5321 says, but it is what every mail provider
/// people use does, and two accounts differing only in case are a support ticket waiting to
/// happen.
///
/// # Errors
/// [`Error::Validation`] on field `email` when it is longer than [`MAX_EMAIL_BYTES`], holds a
/// control character or whitespace, or is not `local@domain` with a dot in the domain.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim();
    let invalid = |reason: &str| Err(Error::validation("email", reason));
    if email.len() > MAX_EMAIL_BYTES {
        return invalid("too long (max 254 bytes)");
    }
    if email.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return invalid("must not contain spaces or control characters");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return invalid("must look like name@example.com");
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || local.contains('@') || !domain_ok {
        return invalid("must look like name@example.com");
    }
    Ok(email.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_space() {
        assert_eq!(
            normalize_email("  Sarah.Chen@Example.COM ").unwrap(),
            "sarah.chen@example.com"
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "sarah",
            "@example.com",
            "sarah@",
            "sarah@example",
            "sarah@.example.com",
            "sarah@example.com.",
            "sa rah@example.com",
            "sarah@exa\u{0}mple.com",
            "a@b@example.com",
        ] {
            assert!(
                matches!(normalize_email(bad), Err(Error::Validation { .. })),
                "{bad:?} was accepted"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalize_email(&long).is_err());
    }

    #[test]
    fn debug_hides_the_hash() {
        let account = Account {
            user_id: UserId::new(),
            email: "a@example.com".into(),
            password_hash: "$argon2id$secret".into(),
            created_at: Timestamp::from(time::OffsetDateTime::UNIX_EPOCH),
        };
        assert!(!format!("{account:?}").contains("secret"));
    }
}
