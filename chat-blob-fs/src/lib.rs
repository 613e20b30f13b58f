//! # chat-blob-fs
//!
//! [`FsBlobStore`]: a [`BlobStore`] in one directory, the example server's default
//! (`--blob-dir`).
//!
//! - **Streamed and atomic.** A put writes the stream into a temporary file under `.tmp/`,
//!   counting bytes as they arrive, flushes it to disk, and renames it over the key. A reader
//!   sees the old blob or the new one, never a part; a put refused at the size limit or cut
//!   off by its client leaves nothing behind. Memory per put is at most two 64 KiB buffers.
//! - **Durable.** The file's data is flushed (`fsync`) before the rename and the directory
//!   after it, so an acknowledged upload survives a crash of the machine, not just of the
//!   process.
//! - **Safe names.** Files are named by [`BlobKey`] alone, whose alphabet (`[a-z0-9.-]`, no
//!   leading dot) cannot express a path: no client input ever reaches the file system.
//!
//! ```no_run
//! use std::sync::Arc;
//! # async fn demo(store: Arc<dyn chat_core::Store>) -> std::io::Result<()> {
//! let blobs = chat_blob_fs::FsBlobStore::open("/var/lib/chat/blobs").await?;
//! let chat = chat_core::ChatService::builder(store).blobs(Arc::new(blobs)).build();
//! # let _ = chat; Ok(()) }
//! ```

use std::io::{ErrorKind, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chat_core::blob::{BlobInfo, BlobKey, BlobStore, ByteStream, body_error, clamp, too_large};
use chat_core::{Error, Result, Timestamp};
use futures::StreamExt;
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// The size of the writes a put makes, whatever the size of the chunks it is given.
const WRITE_SIZE: usize = 64 * 1024;

/// Temporary files older than this are left-overs of a crash and are removed while listing.
const STALE_TEMP: Duration = Duration::from_secs(24 * 60 * 60);

/// Blobs as files in one directory. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl FsBlobStore {
    /// Uses `dir` (created if missing) for blobs, and `dir/.tmp` for puts in progress. The
    /// two must be on one file system for the final rename to be atomic, which a
    /// subdirectory guarantees.
    ///
    /// # Errors
    /// When the directories cannot be created.
    pub async fn open(dir: impl AsRef<Path>) -> std::io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let tmp = dir.join(".tmp");
        fs::create_dir_all(&tmp).await?;
        Ok(Self { dir, tmp })
    }

    /// The directory blobs live in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        self.dir.join(key.as_str())
    }

    async fn write_temp(&self, temp: &Path, mut body: ByteStream<'_>, max: u64) -> Result<u64> {
        let mut file = fs::File::create(temp).await.map_err(unavailable)?;
        // Every write to a tokio file is a trip to the blocking pool, and a network body
        // arrives in chunks of a few KiB: gather them into writes of WRITE_SIZE. The file's
        // own buffer is capped at the same size, so a put holds at most two of them.
        file.set_max_buf_size(WRITE_SIZE);
        let mut file = tokio::io::BufWriter::with_capacity(WRITE_SIZE, file);
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(body_error)?;
            size += chunk.len() as u64;
            if size > max {
                return Err(too_large(max));
            }
            file.write_all(&chunk).await.map_err(unavailable)?;
        }
        file.flush().await.map_err(unavailable)?;
        file.get_ref().sync_data().await.map_err(unavailable)?;
        Ok(size)
    }
}

fn unavailable(err: std::io::Error) -> Error {
    Error::unavailable(err)
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, key: &BlobKey, body: ByteStream<'_>, max_bytes: u64) -> Result<u64> {
        let temp = self.tmp.join(uuid::Uuid::now_v7().to_string());
        match self.write_temp(&temp, body, max_bytes).await {
            Ok(size) => {
                fs::rename(&temp, self.path(key))
                    .await
                    .map_err(unavailable)?;
                // The rename is a change to the directory: flush it too, or a power cut could
                // keep the bytes and lose their name.
                fs::File::open(&self.dir)
                    .await
                    .map_err(unavailable)?
                    .sync_all()
                    .await
                    .map_err(unavailable)?;
                Ok(size)
            }
            Err(err) => {
                let _ = fs::remove_file(&temp).await;
                Err(err)
            }
        }
    }

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>> {
        match fs::metadata(self.path(key)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, key: &BlobKey, range: Range<u64>) -> Result<ByteStream<'static>> {
        let mut file = match fs::File::open(self.path(key)).await {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::NotFound { what: "blob" });
            }
            Err(e) => return Err(unavailable(e)),
        };
        let size = file.metadata().await.map_err(unavailable)?.len();
        let range = clamp(range, size);
        file.seek(SeekFrom::Start(range.start))
            .await
            .map_err(unavailable)?;
        // The open file keeps its bytes readable even if the blob is deleted or replaced
        // while this stream is read.
        Ok(ReaderStream::with_capacity(file.take(range.end - range.start), 64 * 1024).boxed())
    }

    async fn delete(&self, key: &BlobKey) -> Result<bool> {
        match fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list_written_before(&self, before: Timestamp, limit: usize) -> Result<Vec<BlobInfo>> {
        let cutoff = SystemTime::from(before.as_datetime());
        let mut found = Vec::new();
        let mut entries = fs::read_dir(&self.dir).await.map_err(unavailable)?;
        while found.len() < limit {
            let Some(entry) = entries.next_entry().await.map_err(unavailable)? else {
                break;
            };
            // Anything not named like a key (the temp directory, a stray file) is not ours.
            let Some(key) = entry
                .file_name()
                .to_str()
                .and_then(|n| BlobKey::new(n).ok())
            else {
                continue;
            };
            let meta = entry.metadata().await.map_err(unavailable)?;
            let written = meta.modified().map_err(unavailable)?;
            if meta.is_file() && written < cutoff {
                found.push(BlobInfo {
                    key,
                    size: meta.len(),
                    written_at: Timestamp::from(time::OffsetDateTime::from(written)),
                });
            }
        }
        self.remove_stale_temps().await;
        Ok(found)
    }
}

impl FsBlobStore {
    /// Removes temporary files a crash left behind. Best effort: listing must not fail on it.
    async fn remove_stale_temps(&self) {
        let Ok(mut entries) = fs::read_dir(&self.tmp).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let stale = entry
                .metadata()
                .await
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_TEMP));
            if stale {
                let _ = fs::remove_file(entry.path()).await;
            }
        }
    }
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use chat_core::BlobStore;

    use super::FsBlobStore;

    async fn blobs() -> Arc<dyn BlobStore> {
        let dir = std::env::temp_dir().join(format!("chat-blob-fs-{}", uuid::Uuid::now_v7()));
        Arc::new(FsBlobStore::open(dir).await.expect("open"))
    }

    chat_core::blob_store_tests!(blobs);

    #[tokio::test]
    async fn nothing_is_left_in_the_temp_directory() {
        let dir = std::env::temp_dir().join(format!("chat-blob-fs-{}", uuid::Uuid::now_v7()));
        let blobs = FsBlobStore::open(&dir).await.expect("open");
        let key = chat_core::BlobKey::new("a").expect("key");
        let ok = chat_core::blob::once(bytes::Bytes::from_static(b"hello"));
        blobs.put(&key, ok, 10).await.expect("put");
        let big = chat_core::blob::once(bytes::Bytes::from(vec![0; 11]));
        assert!(blobs.put(&key, big, 10).await.is_err());
        let temps = std::fs::read_dir(dir.join(".tmp")).expect("tmp").count();
        assert_eq!(temps, 0, "finished and refused puts leave no temp file");
        let _ = std::fs::remove_dir_all(dir);
    }
}
