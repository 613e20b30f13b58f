//! The conformance suite of [`BlobStore`]: what every blob store must do (see the contract on
//! the trait). A backend runs it with one line:
//!
//! ```ignore
//! async fn blobs() -> Arc<dyn chat_core::BlobStore> { Arc::new(MyBlobs::new()) }
//! chat_core::blob_store_tests!(blobs);
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream;

use crate::assert_err;
use crate::blob::{BlobKey, BlobStore, ByteStream};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;

/// Calls `callback! { [args] case_a case_b … }` with the name of every blob-store case.
#[macro_export]
macro_rules! for_each_blob_case {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! { [$($args)*]
            blob_round_trip_in_uneven_chunks
            blob_limit_is_enforced_while_streaming
            blob_failed_stream_stores_nothing
            blob_ranges_are_clamped
            blob_delete_and_replace
            blob_listing_by_write_time
            blob_concurrent_puts_stay_apart
        }
    };
}

/// Expands into one `#[tokio::test]` per blob-store case, each given a store from
/// `$factory().await` (an async fn returning `Arc<dyn BlobStore>`).
#[macro_export]
macro_rules! blob_store_tests {
    ($factory:path) => {
        $crate::for_each_blob_case!([$crate::__blob_test] $factory);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __blob_test {
    ([$factory:path] $($case:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::testing::blobs::$case($factory().await).await;
            }
        )*
    };
}

/// `len` bytes of a pattern that differs per `seed`, so a swapped or shifted blob shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap_or(0) ^ seed)
        .collect()
}

/// `data` as a stream of uneven chunks (1, 2, 4, … up to 64 KiB, then repeating).
fn chunked(data: &[u8]) -> ByteStream<'static> {
    let mut chunks = Vec::new();
    let mut at = 0;
    let mut size = 1;
    while at < data.len() {
        let end = (at + size).min(data.len());
        chunks.push(Ok(Bytes::copy_from_slice(&data[at..end])));
        at = end;
        size = if size >= 64 * 1024 { 1 } else { size * 2 };
    }
    stream::iter(chunks).boxed()
}

async fn read_all(blobs: &dyn BlobStore, key: &BlobKey, range: std::ops::Range<u64>) -> Vec<u8> {
    let mut body = blobs.get(key, range).await.expect("get");
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

fn key(name: &str) -> BlobKey {
    BlobKey::new(format!("{name}-{}", uuid::Uuid::now_v7())).expect("key")
}

/// A 1 MiB + 7 byte blob written in uneven chunks reads back whole and sized.
pub async fn blob_round_trip_in_uneven_chunks(blobs: Arc<dyn BlobStore>) {
    let data = pattern(1024 * 1024 + 7, 1);
    let k = key("round-trip");
    let size = blobs.put(&k, chunked(&data), 5 << 20).await.expect("put");
    assert_eq!(size, data.len() as u64);
    assert_eq!(blobs.size(&k).await.expect("size"), Some(size));
    assert!(read_all(blobs.as_ref(), &k, 0..u64::MAX).await == data);
    let empty = key("empty");
    assert_eq!(blobs.put(&empty, chunked(&[]), 10).await.expect("put"), 0);
    assert_eq!(blobs.size(&empty).await.expect("size"), Some(0));
    assert!(read_all(blobs.as_ref(), &empty, 0..10).await.is_empty());
}

/// Exactly the limit is stored; one byte more is refused with `TooLarge` and stores
/// nothing (an older blob under the key stays whole); an endless stream is refused too, which
/// shows the store stops reading at the limit.
pub async fn blob_limit_is_enforced_while_streaming(blobs: Arc<dyn BlobStore>) {
    let limit = 256 * 1024 + 3;
    let at_limit = pattern(usize::try_from(limit).expect("fits"), 2);
    let k = key("limit");
    assert_eq!(
        blobs.put(&k, chunked(&at_limit), limit).await.expect("put"),
        limit
    );
    let over = pattern(at_limit.len() + 1, 3);
    assert_err!(
        blobs.put(&k, chunked(&over), limit).await,
        Error::TooLarge { .. }
    );
    assert!(
        read_all(blobs.as_ref(), &k, 0..u64::MAX).await == at_limit,
        "a refused replacement must leave the old blob whole"
    );
    let fresh = key("limit-fresh");
    assert_err!(
        blobs.put(&fresh, chunked(&over), limit).await,
        Error::TooLarge { .. }
    );
    assert_eq!(blobs.size(&fresh).await.expect("size"), None);

    let endless = stream::repeat_with(|| Ok(Bytes::from_static(&[7; 4096]))).boxed();
    let put = tokio::time::timeout(Duration::from_secs(30), blobs.put(&fresh, endless, limit))
        .await
        .expect("put must stop reading an endless stream at the limit");
    assert_err!(put, Error::TooLarge { .. });
    assert_eq!(blobs.size(&fresh).await.expect("size"), None);
}

/// A stream that fails midway (a client gone) is `Validation` on `body` and stores nothing.
pub async fn blob_failed_stream_stores_nothing(blobs: Arc<dyn BlobStore>) {
    let k = key("broken");
    let broken = stream::iter(vec![
        Ok(Bytes::from(pattern(10_000, 4))),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ])
    .boxed();
    assert_err!(
        blobs.put(&k, broken, 1 << 20).await,
        Error::Validation { field, .. } if field == "body"
    );
    assert_eq!(blobs.size(&k).await.expect("size"), None);
}

/// Ranges read exactly their bytes, clamped to the blob; a missing blob is `NotFound`.
pub async fn blob_ranges_are_clamped(blobs: Arc<dyn BlobStore>) {
    let data = pattern(100_000, 5);
    let k = key("ranges");
    blobs.put(&k, chunked(&data), 1 << 20).await.expect("put");
    assert!(read_all(blobs.as_ref(), &k, 0..10).await == data[..10]);
    assert!(read_all(blobs.as_ref(), &k, 99_990..u64::MAX).await == data[99_990..]);
    assert!(read_all(blobs.as_ref(), &k, 12_345..54_321).await == data[12_345..54_321]);
    assert!(
        read_all(blobs.as_ref(), &k, 100_000..100_005)
            .await
            .is_empty()
    );
    assert_err!(
        blobs.get(&key("missing"), 0..1).await,
        Error::NotFound { what: "blob" }
    );
}

/// Delete answers whether there was a blob; a put replaces the blob under its key.
pub async fn blob_delete_and_replace(blobs: Arc<dyn BlobStore>) {
    let k = key("delete");
    blobs
        .put(&k, chunked(&pattern(1000, 6)), 1 << 20)
        .await
        .expect("put");
    let second = pattern(500, 7);
    blobs.put(&k, chunked(&second), 1 << 20).await.expect("put");
    assert!(read_all(blobs.as_ref(), &k, 0..u64::MAX).await == second);
    assert!(blobs.delete(&k).await.expect("delete"));
    assert!(!blobs.delete(&k).await.expect("delete again"));
    assert_eq!(blobs.size(&k).await.expect("size"), None);
    assert_err!(blobs.get(&k, 0..1).await, Error::NotFound { what: "blob" });
}

/// What is listed as written before a time is what a collector may remove.
pub async fn blob_listing_by_write_time(blobs: Arc<dyn BlobStore>) {
    let before_put = SystemClock.now().saturating_sub(Duration::from_secs(3600));
    let k = key("listed");
    blobs
        .put(&k, chunked(&pattern(10, 8)), 1 << 20)
        .await
        .expect("put");
    let later = SystemClock.now().saturating_add(Duration::from_secs(3600));
    let listed = blobs
        .list_written_before(later, 100_000)
        .await
        .expect("list");
    let entry = listed
        .iter()
        .find(|b| b.key == k)
        .expect("a blob written before `later` is listed");
    assert_eq!(entry.size, 10);
    assert!(entry.written_at >= before_put && entry.written_at <= later);
    let earlier = blobs
        .list_written_before(before_put, 100_000)
        .await
        .expect("list");
    assert!(earlier.iter().all(|b| b.key != k));
    let one = blobs.list_written_before(later, 1).await.expect("list");
    assert_eq!(one.len(), 1, "the limit bounds the listing");
}

/// Eight puts at once under different keys each keep their own bytes.
pub async fn blob_concurrent_puts_stay_apart(blobs: Arc<dyn BlobStore>) {
    let puts = (0..8u8).map(|i| {
        let blobs = Arc::clone(&blobs);
        async move {
            let k = key("concurrent");
            let data = pattern(200_000 + usize::from(i), i);
            blobs.put(&k, chunked(&data), 1 << 20).await.expect("put");
            (k, data)
        }
    });
    for (k, data) in futures::future::join_all(puts).await {
        assert!(read_all(blobs.as_ref(), &k, 0..u64::MAX).await == data);
    }
}
