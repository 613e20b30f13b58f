//! Webhooks, their positions and dead letters, in memory.

use async_trait::async_trait;
use chat_core::store::WebhookStore;
use chat_core::webhook::{DeadLetter, Webhook, WebhookPosition};
use chat_core::{Error, EventId, Result, WebhookId};

use crate::MemoryStore;

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn insert_webhook(&self, webhook: Webhook) -> Result<()> {
        let mut s = self.write();
        if !s.events.contains_key(&webhook.event_id) {
            return Err(Error::NotFound { what: "event" });
        }
        if s.webhooks.contains_key(&webhook.id) {
            return Err(Error::conflict("the webhook id is taken"));
        }
        s.webhooks.insert(webhook.id, webhook);
        Ok(())
    }

    async fn webhooks(&self, event: Option<EventId>) -> Result<Vec<Webhook>> {
        Ok(self
            .read()
            .webhooks
            .values()
            .filter(|w| event.is_none_or(|e| w.event_id == e))
            .cloned()
            .collect())
    }

    async fn delete_webhook(&self, id: WebhookId) -> Result<bool> {
        let mut s = self.write();
        let existed = s.webhooks.remove(&id).is_some();
        s.webhook_positions.retain(|(hook, _), _| *hook != id);
        s.dead_letters.retain(|_, letter| letter.webhook_id != id);
        Ok(existed)
    }

    async fn webhook_positions(&self, id: WebhookId) -> Result<Vec<WebhookPosition>> {
        Ok(self
            .read()
            .webhook_positions
            .values()
            .filter(|p| p.webhook_id == id)
            .copied()
            .collect())
    }

    async fn put_webhook_position(&self, position: WebhookPosition) -> Result<()> {
        let mut s = self.write();
        if s.webhooks.contains_key(&position.webhook_id) {
            s.webhook_positions
                .insert((position.webhook_id, position.room_id), position);
        }
        Ok(())
    }

    async fn add_dead_letter(&self, letter: DeadLetter) -> Result<()> {
        let mut s = self.write();
        if !s.webhooks.contains_key(&letter.webhook_id) {
            return Ok(());
        }
        let key = (letter.webhook_id, letter.room_id);
        let position = s.webhook_positions.entry(key).or_insert(WebhookPosition {
            webhook_id: letter.webhook_id,
            room_id: letter.room_id,
            delivered: letter.seq,
            attempts: 0,
            retry_at: None,
        });
        position.delivered = position.delivered.max(letter.seq);
        position.attempts = 0;
        position.retry_at = None;
        s.dead_letters.insert(letter.id, letter);
        Ok(())
    }

    async fn dead_letters(&self, id: WebhookId, limit: u32) -> Result<Vec<DeadLetter>> {
        Ok(self
            .read()
            .dead_letters
            .values()
            .rev()
            .filter(|l| l.webhook_id == id)
            .take(limit as usize)
            .cloned()
            .collect())
    }
}
