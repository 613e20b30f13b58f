//! Profiles and sign-in accounts, in memory.

use async_trait::async_trait;
use chat_core::{Account, AccountStore, Error, ProfileStore, Result, Timestamp, User, UserId};

use crate::MemoryStore;

#[async_trait]
impl ProfileStore for MemoryStore {
    async fn upsert_user(&self, user: User) -> Result<User> {
        Ok(self.write().upsert_user(user))
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        Ok(self.read().users.get(&id).cloned())
    }

    async fn set_avatar_url(
        &self,
        id: UserId,
        avatar_url: Option<String>,
        updated_at: Timestamp,
    ) -> Result<Option<User>> {
        let mut s = self.write();
        Ok(s.users.get_mut(&id).map(|user| {
            user.avatar_url = avatar_url;
            user.updated_at = updated_at;
            user.clone()
        }))
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn create_account(&self, account: Account, profile: User) -> Result<User> {
        let mut s = self.write();
        if s.accounts.contains_key(&account.email) {
            return Err(Error::conflict("an account with this email already exists"));
        }
        if s.accounts.values().any(|a| a.user_id == account.user_id) {
            return Err(Error::conflict("this user already has an account"));
        }
        let user = s.upsert_user(profile);
        s.accounts.insert(account.email.clone(), account);
        Ok(user)
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        Ok(self.read().accounts.get(email).cloned())
    }
}
