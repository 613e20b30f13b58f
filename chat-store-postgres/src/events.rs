//! [`EventStore`]: events and their members.

use async_trait::async_trait;
use chat_core::{Event, EventId, EventMember, EventStore, EventSummary, Result, UserId};
use sqlx::{PgConnection, Row};

use crate::error::{db_err, fk_as_not_found};
use crate::rows::{EVENT_COLS, EVENT_MEMBER_COLS, EventMemberRow, EventRow, event_role};

use crate::PostgresStore;
use crate::dt;

#[async_trait]
impl EventStore for PostgresStore {
    async fn create_event(&self, event: Event, owner: EventMember) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_event(&mut tx, &event).await?;
        insert_event_member(&mut tx, &owner).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>> {
        let row: Option<EventRow> =
            sqlx::query_as(&format!("SELECT {EVENT_COLS} FROM events WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(row.map(Event::from))
    }

    async fn events_of_user(&self, user: UserId) -> Result<Vec<EventSummary>> {
        let rows = sqlx::query(
            "SELECT e.id, e.name, e.kind, e.created_by, e.created_at, m.role
             FROM event_members m JOIN events e ON e.id = m.event_id
             WHERE m.user_id = $1 ORDER BY e.id",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|row| {
                let role: String = row.try_get("role").map_err(db_err)?;
                let event = <EventRow as sqlx::FromRow<_>>::from_row(&row).map_err(db_err)?;
                Ok(EventSummary {
                    event: event.into(),
                    role: event_role(&role)?,
                })
            })
            .collect()
    }

    async fn get_event_member(&self, event: EventId, user: UserId) -> Result<Option<EventMember>> {
        let row: Option<EventMemberRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_MEMBER_COLS} FROM event_members WHERE event_id = $1 AND user_id = $2"
        ))
        .bind(event.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(EventMember::try_from).transpose()
    }

    async fn event_members(&self, event: EventId) -> Result<Vec<EventMember>> {
        let rows: Vec<EventMemberRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_MEMBER_COLS} FROM event_members WHERE event_id = $1 ORDER BY joined_at, user_id"
        ))
        .bind(event.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(EventMember::try_from).collect()
    }

    async fn put_event_member(&self, member: EventMember) -> Result<EventMember> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        insert_event_member(&mut conn, &member).await
    }

    async fn remove_event_member(&self, event: EventId, user: UserId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM event_members WHERE event_id = $1 AND user_id = $2")
            .bind(event.as_uuid())
            .bind(user.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }
}

/// Inserts a new event.
pub(crate) async fn insert_event(conn: &mut PgConnection, event: &Event) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO events ({EVENT_COLS}) VALUES ($1, $2, $3, $4, $5)"
    ))
    .bind(event.id.as_uuid())
    .bind(&event.name)
    .bind(&event.kind)
    .bind(event.created_by.as_uuid())
    .bind(dt(event.created_at))
    .execute(conn)
    .await
    .map_err(|e| fk_as_not_found(e, &[("events_created_by_fkey", "user")]))?;
    Ok(())
}

pub(crate) async fn insert_event_member(
    conn: &mut PgConnection,
    m: &EventMember,
) -> Result<EventMember> {
    let row: EventMemberRow = sqlx::query_as(&format!(
        "INSERT INTO event_members ({EVENT_MEMBER_COLS}) VALUES ($1, $2, $3, $4)
         ON CONFLICT (event_id, user_id) DO UPDATE SET role = EXCLUDED.role
         RETURNING {EVENT_MEMBER_COLS}"
    ))
    .bind(m.event_id.as_uuid())
    .bind(m.user_id.as_uuid())
    .bind(m.role.as_str())
    .bind(dt(m.joined_at))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        fk_as_not_found(
            e,
            &[
                ("event_members_event_id_fkey", "event"),
                ("event_members_user_id_fkey", "user"),
            ],
        )
    })?;
    EventMember::try_from(row)
}
