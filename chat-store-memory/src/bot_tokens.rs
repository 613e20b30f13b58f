//! Bots' tokens, in memory.

use async_trait::async_trait;
use chat_core::{BotToken, BotTokenId, BotTokenStore, Error, Result, Timestamp, UserId};

use crate::MemoryStore;

#[async_trait]
impl BotTokenStore for MemoryStore {
    async fn insert_bot_token(&self, token: BotToken) -> Result<()> {
        let mut s = self.write();
        if s.bot_tokens.contains_key(&token.id) {
            return Err(Error::conflict("the bot token id is taken"));
        }
        s.bot_tokens.insert(token.id, token);
        Ok(())
    }

    async fn get_bot_token(&self, id: BotTokenId) -> Result<Option<BotToken>> {
        Ok(self.read().bot_tokens.get(&id).cloned())
    }

    async fn bot_tokens(&self, bot: UserId) -> Result<Vec<BotToken>> {
        // Ids are UUIDv7: reverse id order is newest first.
        Ok(self
            .read()
            .bot_tokens
            .values()
            .rev()
            .filter(|t| t.bot_id == bot)
            .cloned()
            .collect())
    }

    async fn revoke_bot_token(&self, id: BotTokenId, at: Timestamp) -> Result<Option<BotToken>> {
        let mut s = self.write();
        Ok(s.bot_tokens.get_mut(&id).map(|token| {
            token.revoked_at.get_or_insert(at);
            token.clone()
        }))
    }
}
