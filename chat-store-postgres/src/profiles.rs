//! [`ProfileStore`] and [`AccountStore`]: profiles, and accounts created with them.

use async_trait::async_trait;
use chat_core::{Account, AccountStore, ProfileStore, Result, Timestamp, User, UserId};

use crate::error::db_err;
use crate::rows::{AccountRow, USER_COLS, UserRow};

use crate::PostgresStore;
use crate::dt;

#[async_trait]
impl ProfileStore for PostgresStore {
    async fn upsert_user(&self, user: User) -> Result<User> {
        let row: UserRow = sqlx::query_as(&format!(
            // `is_bot` is set when the profile is created and kept by every update.
            "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name,
                 avatar_url = EXCLUDED.avatar_url, updated_at = EXCLUDED.updated_at
             RETURNING {USER_COLS}"
        ))
        .bind(user.id.as_uuid())
        .bind(&user.display_name)
        .bind(&user.avatar_url)
        .bind(dt(user.created_at))
        .bind(dt(user.updated_at))
        .bind(user.is_bot)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.into())
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        let row: Option<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(row.map(User::from))
    }

    async fn set_avatar_url(
        &self,
        id: UserId,
        avatar_url: Option<String>,
        updated_at: Timestamp,
    ) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "UPDATE users SET avatar_url = $2, updated_at = $3 WHERE id = $1 RETURNING {USER_COLS}"
        ))
        .bind(id.as_uuid())
        .bind(&avatar_url)
        .bind(dt(updated_at))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(User::from))
    }
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn create_account(&self, account: Account, profile: User) -> Result<User> {
        // One statement, so one round trip and atomic: the account's foreign key is checked
        // at the end of the statement, after the profile row exists. A taken email is the
        // primary key's unique violation, which rolls the profile back with it.
        let row: UserRow = sqlx::query_as(&format!(
            "WITH profile AS (
                 INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, false)
                 RETURNING {USER_COLS}
             ), account AS (
                 INSERT INTO accounts (email, user_id, password_hash, created_at)
                 VALUES ($6, $1, $7, $8)
             )
             SELECT {USER_COLS} FROM profile"
        ))
        .bind(profile.id.as_uuid())
        .bind(&profile.display_name)
        .bind(&profile.avatar_url)
        .bind(dt(profile.created_at))
        .bind(dt(profile.updated_at))
        .bind(&account.email)
        .bind(&account.password_hash)
        .bind(dt(account.created_at))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.into())
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        let row: Option<AccountRow> = sqlx::query_as(
            "SELECT email, user_id, password_hash, created_at FROM accounts WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(Account::from))
    }
}
