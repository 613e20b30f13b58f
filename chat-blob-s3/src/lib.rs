//! # chat-blob-s3
//!
//! [`S3BlobStore`]: a [`BlobStore`] in a bucket of any S3-compatible object store, through
//! the `object_store` crate.
//!
//! - **Streamed, one part in memory.** S3 must know a part's length before it is sent, so a
//!   put gathers up to one part (5 MiB, S3's smallest multipart part) in memory. A blob that
//!   ends within it is sent as one `PUT`, atomic by S3's own guarantee; a larger one goes up
//!   as a multipart upload, part by part, completed only once the whole stream is in and
//!   aborted otherwise. Either way a reader sees the old object or the new one, never a part.
//!   At chat-engine's 5 MiB attachment limit every upload is a single `PUT`.
//! - **Keys under a prefix.** Blobs live at `<prefix>/<key>`, so one bucket can serve several
//!   deployments.
//! - **TLS** through rustls on ring (aws-lc, the default of reqwest's rustls, stays out).
//!
//! ```no_run
//! use chat_blob_s3::{S3BlobStore, S3Config};
//! let blobs = S3BlobStore::new(S3Config {
//!     endpoint: Some("http://127.0.0.1:9000".into()),
//!     bucket: "chat".into(),
//!     ..S3Config::default()
//! })?;
//! # Ok::<(), chat_core::Error>(())
//! ```

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::BytesMut;
use chat_core::blob::{BlobInfo, BlobKey, BlobStore, ByteStream, body_error, clamp, too_large};
use chat_core::{Error, Result, Timestamp};
use futures::{StreamExt, TryStreamExt, stream};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

/// S3's smallest multipart part, and so the most a put holds in memory.
const PART: usize = 5 * 1024 * 1024;

/// Where the bucket is and how to sign requests to it. Fields left `None` fall back to the
/// standard `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_REGION`, `AWS_ENDPOINT`, …).
#[derive(Clone, Default)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// A custom endpoint (MinIO, Ceph, R2, a local test server); `None` for AWS itself.
    pub endpoint: Option<String>,
    /// The region (default `us-east-1`).
    pub region: Option<String>,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
    /// A key prefix inside the bucket, such as `chat/attachments`.
    pub prefix: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Blobs as objects in an S3 bucket. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

fn unavailable(err: object_store::Error) -> Error {
    Error::unavailable(err)
}

impl S3BlobStore {
    /// A store for the bucket in `config`. Makes no request: a wrong endpoint or credentials
    /// show on the first use, as [`Error::Unavailable`].
    ///
    /// # Errors
    /// [`Error::Validation`] (field `s3`) for a configuration `object_store` refuses.
    pub fn new(config: S3Config) -> Result<Self> {
        // reqwest is built without a crypto provider so that aws-lc stays out; install ring
        // unless the host installed a provider already (then the call fails, harmlessly).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&config.bucket);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                // Custom endpoints address buckets by path; virtual hosts need DNS per bucket.
                .with_virtual_hosted_style_request(false);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|e| Error::validation("s3", e.to_string()))?;
        Ok(Self::with_store(Arc::new(store), config.prefix.as_deref()))
    }

    /// A store over any `object_store` backend (for example one a host configured itself).
    #[must_use]
    pub fn with_store(store: Arc<dyn ObjectStore>, prefix: Option<&str>) -> Self {
        Self {
            store,
            prefix: Path::from(prefix.unwrap_or_default()),
        }
    }

    fn path(&self, key: &BlobKey) -> Path {
        self.prefix.clone().join(key.as_str())
    }

    async fn put_multipart(
        &self,
        path: &Path,
        first: BytesMut,
        mut body: ByteStream<'_>,
        max: u64,
    ) -> Result<u64> {
        let upload = self.store.put_multipart(path).await.map_err(unavailable)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut size = first.len() as u64;
        writer.write(&first);
        drop(first);
        let outcome = loop {
            let Some(chunk) = body.next().await else {
                break Ok(());
            };
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => break Err(body_error(e)),
            };
            size += chunk.len() as u64;
            if size > max {
                break Err(too_large(max));
            }
            // Back-pressure: at most two parts in flight.
            if let Err(e) = writer.wait_for_capacity(2).await {
                break Err(unavailable(e));
            }
            writer.write(&chunk);
        };
        match outcome {
            Ok(()) => {
                writer.finish().await.map_err(unavailable)?;
                Ok(size)
            }
            Err(err) => {
                let _ = writer.abort().await;
                Err(err)
            }
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &BlobKey, mut body: ByteStream<'_>, max_bytes: u64) -> Result<u64> {
        let path = self.path(key);
        let mut first = BytesMut::new();
        while first.len() < PART {
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(body_error)?;
                    if first.len() as u64 + chunk.len() as u64 > max_bytes {
                        return Err(too_large(max_bytes));
                    }
                    first.extend_from_slice(&chunk);
                }
                None => {
                    let size = first.len() as u64;
                    self.store
                        .put(&path, PutPayload::from(first.freeze()))
                        .await
                        .map_err(unavailable)?;
                    return Ok(size);
                }
            }
        }
        self.put_multipart(&path, first, body, max_bytes).await
    }

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>> {
        match self.store.head(&self.path(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, key: &BlobKey, range: Range<u64>) -> Result<ByteStream<'static>> {
        let size = self
            .size(key)
            .await?
            .ok_or(Error::NotFound { what: "blob" })?;
        let range = clamp(range, size);
        if range.is_empty() {
            // S3 refuses empty ranges; there is nothing to fetch.
            return Ok(stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let result = match self.store.get_opts(&self.path(key), options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Error::NotFound { what: "blob" });
            }
            Err(e) => return Err(unavailable(e)),
        };
        Ok(result
            .into_stream()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .boxed())
    }

    async fn delete(&self, key: &BlobKey) -> Result<bool> {
        // S3 answers a delete of a missing key with success; ask first to tell the two apart.
        if self.size(key).await?.is_none() {
            return Ok(false);
        }
        self.store
            .delete(&self.path(key))
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    async fn list_written_before(&self, before: Timestamp, limit: usize) -> Result<Vec<BlobInfo>> {
        let cutoff = before.as_datetime().unix_timestamp_nanos();
        let mut listing = self.store.list(Some(&self.prefix));
        let mut found = Vec::new();
        while found.len() < limit {
            let Some(meta) = listing.next().await else {
                break;
            };
            let meta = meta.map_err(unavailable)?;
            let Some(key) = meta.location.filename().and_then(|n| BlobKey::new(n).ok()) else {
                continue;
            };
            let written = meta.last_modified.timestamp_nanos_opt().unwrap_or(i64::MAX);
            if i128::from(written) < cutoff {
                let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(written))
                    .map(Timestamp::from)
                    .map_err(Error::internal)?;
                found.push(BlobInfo {
                    key,
                    size: meta.size,
                    written_at: at,
                });
            }
        }
        Ok(found)
    }
}
