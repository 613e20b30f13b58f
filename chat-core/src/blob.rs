//! [`BlobStore`]: where attachment bytes live. The message store keeps only their metadata
//! (see [`crate::attachment`]).
//!
//! A blob store is a flat map from [`BlobKey`] to bytes. Writes are streamed and bounded
//! while streaming; reads are streamed and may ask for a byte range. Implementations:
//! [`MemoryBlobStore`] here (tests and the in-memory server), `chat-blob-fs` (a directory, the
//! example server's default) and `chat-blob-s3` (any S3-compatible service). Every one passes
//! the conformance suite `chat_core::blob_store_tests!` (feature `testing`).

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};

use crate::clock::{Clock, SystemClock, Timestamp};
use crate::error::{Error, Result};

/// A stream of bytes: an upload's body going in, a blob's content coming out.
///
/// Items are `io::Result` so that a transport's read error (a client that disconnects mid
/// upload) reaches the store, which then keeps nothing.
pub type ByteStream<'a> = BoxStream<'a, std::io::Result<Bytes>>;

/// The name of a blob: 1 to 128 characters of `[a-z0-9.-]`, not starting with a dot. The
/// restricted alphabet makes every key a safe file name and a safe object key, so no store
/// has to escape anything (and no user input ever becomes a path).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

impl BlobKey {
    /// Checks and wraps a key.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `blob_key` for anything outside the alphabet.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        let ok = !key.is_empty()
            && key.len() <= 128
            && !key.starts_with('.')
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if ok {
            Ok(Self(key))
        } else {
            Err(Error::validation(
                "blob_key",
                "must be 1 to 128 characters of [a-z0-9.-], not starting with a dot",
            ))
        }
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored blob's key, size and write time, as [`BlobStore::list_written_before`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The key.
    pub key: BlobKey,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, as the store's own clock saw it.
    pub written_at: Timestamp,
}

/// Bytes by key.
///
/// # Contract (the conformance suite checks each point)
/// - [`put`](Self::put) reads the stream to its end and stores it under the key, replacing
///   any blob there. It never holds more than a bounded buffer of it in memory. The moment
///   the stream passes `max_bytes` it stops reading and answers
///   [`Error::TooLarge`]; a stream that fails answers its error as
///   [`Error::Validation`] on field `body`. Either way nothing new is stored under the key: a
///   reader sees the old blob or none, never a part.
/// - [`get`](Self::get) streams the bytes in `range`, clamped to the blob's size.
/// - [`delete`](Self::delete) removes a blob; deleting a missing one is not an error.
/// - [`list_written_before`](Self::list_written_before) lists what was written before a time,
///   so that a collector can remove uploads that were never attached.
#[async_trait]
pub trait BlobStore: fmt::Debug + Send + Sync + 'static {
    /// Stores `body` under `key`; returns its size.
    ///
    /// # Errors
    /// [`Error::TooLarge`] past `max_bytes`; [`Error::Validation`] (field `body`) when
    /// the stream fails; [`Error::Unavailable`] when the backend does.
    async fn put(&self, key: &BlobKey, body: ByteStream<'_>, max_bytes: u64) -> Result<u64>;

    /// The size of the blob under `key`, if there is one.
    async fn size(&self, key: &BlobKey) -> Result<Option<u64>>;

    /// Streams the bytes of `range` (clamped to the blob's size; an empty range streams
    /// nothing).
    ///
    /// # Errors
    /// [`Error::NotFound`] (`what: "blob"`) when there is no blob under `key`.
    async fn get(&self, key: &BlobKey, range: Range<u64>) -> Result<ByteStream<'static>>;

    /// Removes the blob under `key`. Returns whether there was one.
    async fn delete(&self, key: &BlobKey) -> Result<bool>;

    /// Up to `limit` blobs written before `before`, in no particular order.
    async fn list_written_before(&self, before: Timestamp, limit: usize) -> Result<Vec<BlobInfo>>;
}

/// Reads `body` to its end into one buffer, failing as [`BlobStore::put`] does past
/// `max_bytes`. For stores that must hold a blob whole anyway (in memory), and for the image
/// pipeline, which decodes whole images of at most the attachment limit.
///
/// # Errors
/// [`Error::TooLarge`] past `max_bytes`; [`Error::Validation`] (field `body`) when the
/// stream fails.
pub async fn collect_bounded(mut body: ByteStream<'_>, max_bytes: u64) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(body_error)?;
        if buf.len() as u64 + chunk.len() as u64 > max_bytes {
            return Err(too_large(max_bytes));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The error [`BlobStore::put`] answers for a stream that passes `max_bytes`.
#[must_use]
pub fn too_large(max_bytes: u64) -> Error {
    Error::TooLarge {
        reason: format!("file exceeds {max_bytes} bytes"),
    }
}

/// The error [`BlobStore::put`] answers for a stream that fails (a client that went away).
#[must_use]
pub fn body_error(err: std::io::Error) -> Error {
    Error::validation("body", format!("upload interrupted: {err}"))
}

/// Clamps `range` to a blob of `size` bytes.
#[must_use]
pub fn clamp(range: Range<u64>, size: u64) -> Range<u64> {
    let end = range.end.min(size);
    range.start.min(end)..end
}

/// A stream of one chunk.
#[must_use]
pub fn once(bytes: Bytes) -> ByteStream<'static> {
    stream::once(async move { Ok(bytes) }).boxed()
}

/// Blobs in memory: for tests and for servers that keep nothing on disk.
#[derive(Debug, Clone)]
pub struct MemoryBlobStore {
    blobs: Arc<Mutex<HashMap<BlobKey, (Bytes, Timestamp)>>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryBlobStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBlobStore {
    /// An empty store on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store whose write times come from `clock`.
    #[must_use]
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            blobs: Arc::default(),
            clock,
        }
    }

    fn blobs(&self) -> std::sync::MutexGuard<'_, HashMap<BlobKey, (Bytes, Timestamp)>> {
        // A panic while holding the lock cannot leave the map half-updated: every write is
        // one insert or remove.
        self.blobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, key: &BlobKey, body: ByteStream<'_>, max_bytes: u64) -> Result<u64> {
        let bytes = collect_bounded(body, max_bytes).await?;
        let size = bytes.len() as u64;
        let now = self.clock.now();
        self.blobs().insert(key.clone(), (bytes, now));
        Ok(size)
    }

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>> {
        Ok(self.blobs().get(key).map(|(b, _)| b.len() as u64))
    }

    async fn get(&self, key: &BlobKey, range: Range<u64>) -> Result<ByteStream<'static>> {
        let bytes = self
            .blobs()
            .get(key)
            .map(|(b, _)| b.clone())
            .ok_or(Error::NotFound { what: "blob" })?;
        let r = clamp(range, bytes.len() as u64);
        // In-memory sizes fit in usize: they were collected into one buffer.
        #[allow(clippy::cast_possible_truncation)]
        Ok(once(bytes.slice(r.start as usize..r.end as usize)))
    }

    async fn delete(&self, key: &BlobKey) -> Result<bool> {
        Ok(self.blobs().remove(key).is_some())
    }

    async fn list_written_before(&self, before: Timestamp, limit: usize) -> Result<Vec<BlobInfo>> {
        Ok(self
            .blobs()
            .iter()
            .filter(|(_, (_, at))| *at < before)
            .take(limit)
            .map(|(key, (b, at))| BlobInfo {
                key: key.clone(),
                size: b.len() as u64,
                written_at: *at,
            })
            .collect())
    }
}

/// The blob store of a service whose durable store was given none: it keeps nothing, so
/// nothing it lacks can be mistaken for kept (see
/// [`ChatServiceBuilder::blobs`](crate::ChatServiceBuilder::blobs)). Writes are refused;
/// reads find nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlobStore;

#[async_trait]
impl BlobStore for NoBlobStore {
    async fn put(&self, _: &BlobKey, _: ByteStream<'_>, _: u64) -> Result<u64> {
        Err(Error::Forbidden {
            reason: "no blob store is configured",
        })
    }

    async fn size(&self, _: &BlobKey) -> Result<Option<u64>> {
        Ok(None)
    }

    async fn get(&self, _: &BlobKey, _: Range<u64>) -> Result<ByteStream<'static>> {
        Err(Error::NotFound { what: "blob" })
    }

    async fn delete(&self, _: &BlobKey) -> Result<bool> {
        Ok(false)
    }

    async fn list_written_before(&self, _: Timestamp, _: usize) -> Result<Vec<BlobInfo>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_a_safe_alphabet() {
        for good in ["a", "0190-abc.thumb", &"x".repeat(128)] {
            assert!(BlobKey::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".hidden",
            "../etc",
            "a/b",
            "A",
            "a b",
            "a\0",
            &"x".repeat(129),
        ] {
            assert!(BlobKey::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn clamp_keeps_ranges_inside_the_blob() {
        assert_eq!(clamp(0..10, 5), 0..5);
        assert_eq!(clamp(7..10, 5), 5..5);
        assert_eq!(clamp(2..3, 5), 2..3);
    }
}

#[cfg(all(test, feature = "media"))]
mod conformance {
    use std::sync::Arc;

    async fn blobs() -> Arc<dyn super::BlobStore> {
        Arc::new(super::MemoryBlobStore::new())
    }

    crate::blob_store_tests!(blobs);
}
