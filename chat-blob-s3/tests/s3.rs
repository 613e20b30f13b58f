//! The blob-store suite against a real S3-compatible server: `moto` in server mode, which
//! `.ci/run` starts (`CHAT_S3_ENDPOINT`, default `http://127.0.0.1:5000`). Without a server
//! the tests fail, unless `CHAT_SKIP_S3=1` says to skip them (never in CI).

use std::sync::Arc;

use chat_blob_s3::{S3BlobStore, S3Config};
use chat_core::BlobStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::OnceCell;

const BUCKET: &str = "chat-engine-tests";

fn endpoint() -> String {
    std::env::var("CHAT_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".into())
}

/// Creates the test bucket once per process with a plain `PUT /<bucket>` (moto accepts it
/// unsigned; an existing bucket answers 409, which is fine too).
async fn ensure_bucket() -> bool {
    static READY: OnceCell<bool> = OnceCell::const_new();
    *READY
        .get_or_init(|| async {
            let addr = endpoint()
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned();
            let Ok(mut conn) = tokio::net::TcpStream::connect(&addr).await else {
                return false;
            };
            let request = format!(
                "PUT /{BUCKET} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            conn.write_all(request.as_bytes()).await.expect("write");
            let mut answer = String::new();
            conn.read_to_string(&mut answer).await.expect("read");
            assert!(
                answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.1 409"),
                "creating the bucket: {answer}"
            );
            true
        })
        .await
}

async fn blobs() -> Arc<dyn BlobStore> {
    if !ensure_bucket().await {
        if std::env::var("CHAT_SKIP_S3").as_deref() == Ok("1") && std::env::var("CI").is_err() {
            eprintln!("skipped: no S3 server at {}", endpoint());
            // Still a working store, so the case runs: on memory, and says so above.
            return Arc::new(chat_core::MemoryBlobStore::new());
        }
        panic!(
            "no S3-compatible server at {} (start `moto_server -p 5000`, or set CHAT_SKIP_S3=1 outside CI)",
            endpoint()
        );
    }
    let store = S3BlobStore::new(S3Config {
        bucket: BUCKET.into(),
        endpoint: Some(endpoint()),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        // Each case its own prefix, so listings do not see each other's blobs.
        prefix: Some(format!("t-{}", uuid::Uuid::now_v7())),
    })
    .expect("config");
    Arc::new(store)
}

chat_core::blob_store_tests!(blobs);

/// Past one part the put becomes a multipart upload: 11 MiB round-trips, and a stream cut at
/// its limit mid-upload is aborted and leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_larger_than_a_part_go_up_in_parts() {
    use futures::StreamExt;
    let blobs = blobs().await;
    let data: Vec<u8> = (0..11 * 1024 * 1024 + 5).map(|i| (i % 253) as u8).collect();
    let chunks = || {
        futures::stream::iter(
            data.chunks(100_003)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect::<Vec<std::io::Result<bytes::Bytes>>>(),
        )
        .boxed()
    };
    let key = chat_core::BlobKey::new("big").unwrap();
    let size = blobs.put(&key, chunks(), 20 << 20).await.expect("put");
    assert_eq!(size, data.len() as u64);
    let mut back = Vec::new();
    let mut body = blobs.get(&key, 0..u64::MAX).await.expect("get");
    while let Some(chunk) = body.next().await {
        back.extend_from_slice(&chunk.expect("chunk"));
    }
    assert!(back == data, "the parts come back in order");

    let other = chat_core::BlobKey::new("too-big").unwrap();
    let refused = blobs.put(&other, chunks(), 8 << 20).await;
    assert!(matches!(refused, Err(chat_core::Error::TooLarge { .. })));
    assert_eq!(blobs.size(&other).await.unwrap(), None);
}
