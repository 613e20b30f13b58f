// A plain `main`: one part is timed in paired rounds beside its baseline (criterion's
// sequential arms drift apart on a busy two-core machine), the other measures memory.
#![allow(missing_docs)]

//! Attachment uploads through the whole HTTP stack, beside the raw cost of the same bytes.
//!
//! Run with `cargo bench --bench uploads`. The server runs in a child process (this binary,
//! re-executed): chat-http on the in-memory store, with attachment bytes in a directory
//! (`chat-blob-fs`) on the same file system as the baseline's files.
//!
//! 1. **Throughput**, in paired rounds: a raw file write of 5 MiB (create, write in 64 KiB
//!    chunks, `fsync`), then the same 5 MiB as a PDF uploaded over loopback HTTP
//!    (`POST /v1/rooms/{id}/uploads`, 64 KiB writes) until the server answers 201. The
//!    upload adds the HTTP parsing, the type sniffing, SHA-256 of every byte, the rename that
//!    makes the write atomic and the upload record. Reported: median MB/s of each, and their
//!    ratio.
//! 2. **Memory**: 100 clients upload 5 MiB each at once, in a fresh server; the server's
//!    resident memory (VmRSS, sampled every 5 ms) is compared with its size after one warm-up
//!    upload. Once with PDFs (streamed straight to disk) and once with 5 MiB JPEGs (stored,
//!    then decoded a bounded number at a time for their thumbnails).
//! 3. **Image bombs**: 20 clients at once, each sending a file of a few bytes to a few KB whose
//!    header declares gigabytes of pixels or thousands of frames (JPEG, PNG, WebP, animated
//!    WebP, GIF; half as attachments, half as profile pictures), beside the baseline: 20 real
//!    8 × 8 JPEGs of the same order of size uploaded the same way. Reported: each arm's slowest
//!    answer and the server's RSS growth (sampled every 5 ms).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "support/child.rs"]
mod child;
#[path = "support/world.rs"]
mod world;

const FILE: usize = 5 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
const ROUNDS: usize = 30;
const CLIENTS: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = child::runtime();
    match args.get(1).map(String::as_str) {
        Some("--serve") => rt.block_on(serve()),
        _ => rt.block_on(measure()),
    }
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("chat-bench-{name}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// chat-http on the in-memory store, blobs in a fresh directory; prints `port token room dir`.
async fn serve() {
    use chat_engine::{ChatService, MemoryStore, UserId};
    let dir = scratch_dir("server");
    let blobs = chat_blob_fs::FsBlobStore::open(&dir).await.unwrap();
    let chat = Arc::new(
        ChatService::builder(Arc::new(MemoryStore::new()))
            .blobs(Arc::new(blobs))
            .build(),
    );
    let user = UserId::new();
    world::profile(&chat, user, "Uploader").await;
    let (_, room) = world::main_room(&chat, user).await;
    let jwt = Arc::new(chat_http::JwtAuthenticator::new(b"bench secret"));
    let token = jwt.issue(user, Duration::from_secs(3600)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "{} {token} {} {}",
        listener.local_addr().unwrap().port(),
        room.id,
        dir.display()
    );
    let state = chat_http::AppState::new(chat, jwt);
    // The transport's own cost: a bare axum route that streams the body into a file and
    // flushes it, with nothing of chat-engine in between.
    let bare_dir = dir.join("bare");
    std::fs::create_dir_all(&bare_dir).unwrap();
    let bare = axum::Router::new().route(
        "/bare",
        axum::routing::post(move |body: axum::body::Body| {
            let path = bare_dir.join(uuid::Uuid::now_v7().to_string());
            async move {
                use futures::StreamExt;
                let mut file = tokio::fs::File::create(&path).await.unwrap();
                let mut stream = body.into_data_stream();
                while let Some(chunk) = stream.next().await {
                    file.write_all(&chunk.unwrap()).await.unwrap();
                }
                file.flush().await.unwrap();
                file.sync_data().await.unwrap();
                axum::http::StatusCode::CREATED
            }
        }),
    );
    let app = chat_http::router(state.clone()).merge(bare);
    chat_http::serve_router(listener, app, state, std::future::pending())
        .await
        .unwrap();
}

/// A valid PDF of exactly `size` bytes.
fn pdf(size: usize) -> Vec<u8> {
    chat_core::testing::fixtures::pdf(size)
}

/// A JPEG of noise (which does not compress) just under `size` bytes.
fn big_jpeg(size: usize) -> Vec<u8> {
    use image::codecs::jpeg::JpegEncoder;
    use image::{DynamicImage, Rgb, RgbImage};
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut side = 1600;
    loop {
        let img = RgbImage::from_fn(side, side * 3 / 4, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let b = state.to_le_bytes();
            Rgb([b[0], b[1], b[2]])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 80))
            .unwrap();
        if out.len() > size {
            side = side * 9 / 10;
            continue;
        }
        return out;
    }
}

/// One upload over a fresh connection; returns when the server has answered 201.
async fn upload(port: u16, token: &str, room: &str, name: &str, kind: &str, body: &[u8]) {
    let path = format!("/v1/rooms/{room}/uploads?file_name={name}");
    post(port, &path, token, kind, body).await;
}

/// A POST of `body` over a fresh connection, in 64 KiB writes; returns on the 201.
async fn post(port: u16, path: &str, token: &str, kind: &str, body: &[u8]) {
    let answer = request(port, "POST", path, token, kind, body).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&answer[..answer.len().min(300)])
    );
}

/// A request over a fresh connection, in 64 KiB writes; returns the whole answer.
async fn request(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    kind: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {token}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(CHUNK) {
        s.write_all(chunk).await.unwrap();
    }
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    answer
}

/// The baseline: the same bytes into a new file, flushed to disk. The files stay until the
/// run ends, as the uploads do, so both arms write into an equally full page cache.
async fn raw_write(dir: &std::path::Path, body: &[u8]) {
    let path = dir.join(uuid::Uuid::now_v7().to_string());
    let mut file = tokio::fs::File::create(&path).await.unwrap();
    for chunk in body.chunks(CHUNK) {
        file.write_all(chunk).await.unwrap();
    }
    file.flush().await.unwrap();
    file.sync_data().await.unwrap();
}

/// The service alone, in this process, over the same kind of blob store: what the upload
/// costs without HTTP.
struct InProcess {
    chat: chat_engine::ChatService,
    user: chat_engine::UserId,
    room: chat_engine::RoomId,
    dir: std::path::PathBuf,
}

impl InProcess {
    async fn new() -> Self {
        use chat_engine::{ChatService, MemoryStore, UserId};
        let dir = scratch_dir("service");
        let blobs = chat_blob_fs::FsBlobStore::open(&dir).await.unwrap();
        let chat = ChatService::builder(Arc::new(MemoryStore::new()))
            .blobs(Arc::new(blobs))
            .build();
        let user = UserId::new();
        world::profile(&chat, user, "Uploader").await;
        let (_, room) = world::main_room(&chat, user).await;
        Self {
            chat,
            user,
            room: room.id,
            dir,
        }
    }

    /// The body as the chunks a transport would hand over (made outside the timing).
    fn chunks(body: &[u8]) -> Vec<std::io::Result<bytes::Bytes>> {
        body.chunks(CHUNK)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect()
    }

    async fn upload(&self, chunks: Vec<std::io::Result<bytes::Bytes>>) {
        use futures::StreamExt;
        let input = chat_engine::UploadInput {
            file_name: "doc.pdf".into(),
            declared_type: Some("application/pdf".into()),
            body: futures::stream::iter(chunks).boxed(),
        };
        self.chat.upload(self.user, self.room, input).await.unwrap();
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A server child, and a guard that stops it and removes its blob directory.
struct Server {
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn() -> (Server, u16, String, String) {
    let (child, words) = child::spawn_server("--serve");
    let server = Server {
        child,
        dir: words[3].clone().into(),
    };
    (
        server,
        words[0].parse().unwrap(),
        words[1].clone(),
        words[2].clone(),
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn measure() {
    let body = pdf(FILE);
    let mb = FILE as f64 / 1e6;

    // 1. Throughput, paired rounds.
    let (server, port, token, room) = spawn();
    let dir = scratch_dir("raw");
    upload(port, &token, &room, "warm.pdf", "application/pdf", &body).await;
    raw_write(&dir, &body).await;
    let local = InProcess::new().await;
    let (mut raw, mut bare, mut service, mut ours) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let t = Instant::now();
        raw_write(&dir, &body).await;
        raw.push(mb / t.elapsed().as_secs_f64());
        let t = Instant::now();
        post(port, "/bare", "-", "application/pdf", &body).await;
        bare.push(mb / t.elapsed().as_secs_f64());
        let chunks = InProcess::chunks(&body);
        let t = Instant::now();
        local.upload(chunks).await;
        service.push(mb / t.elapsed().as_secs_f64());
        let t = Instant::now();
        upload(
            port,
            &token,
            &room,
            &format!("r{round}.pdf"),
            "application/pdf",
            &body,
        )
        .await;
        ours.push(mb / t.elapsed().as_secs_f64());
    }
    let (raw, bare, service, ours) = (median(raw), median(bare), median(service), median(ours));
    println!("throughput, 5 MiB, median of {ROUNDS} paired rounds:");
    println!("  raw file write + fsync      : {raw:8.1} MB/s");
    println!(
        "  bare axum POST to a file    : {bare:8.1} MB/s   ratio {:.2}",
        bare / raw
    );
    println!(
        "  ChatService::upload, no HTTP: {service:8.1} MB/s   ratio {:.2}",
        service / raw
    );
    println!(
        "  HTTP upload (chat-http)     : {ours:8.1} MB/s   ratio {:.2} (to bare axum {:.2})",
        ours / raw,
        ours / bare
    );
    drop(local);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

    // 2. Memory with 100 uploads at once.
    let jpeg = big_jpeg(FILE);
    for (label, name, kind, bytes) in [
        ("PDF", "doc.pdf", "application/pdf", &body),
        ("JPEG", "photo.jpg", "image/jpeg", &jpeg),
    ] {
        let (server, port, token, room) = spawn();
        let pid = server.child.id();
        upload(port, &token, &room, name, kind, bytes).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let base = rss_kib(pid);
        let sampler = RssPeak::start(pid);
        let shared = Arc::new(bytes.clone());
        let started = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (token, room, shared) = (token.clone(), room.clone(), Arc::clone(&shared));
                tokio::spawn(async move {
                    upload(port, &token, &room, &format!("{i}-{name}"), kind, &shared).await;
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        let took = started.elapsed();
        let peak = sampler.stop().await;
        println!(
            "memory, {CLIENTS} × {:.1} MB {label} at once: base {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB, all done in {:.1} s",
            bytes.len() as f64 / 1e6,
            base as f64 / 1024.0,
            peak as f64 / 1024.0,
            (peak - base) as f64 / 1024.0,
            took.as_secs_f64()
        );
        drop(server);
    }

    // 3. Image bombs, 20 at once, beside 20 real small JPEGs.
    bombs().await;
}

/// Samples a process's RSS every 5 ms until stopped; yields the peak in KiB.
struct RssPeak {
    done: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssPeak {
    fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(rss_kib(pid)));
        let done = Arc::new(AtomicBool::new(false));
        let task = {
            let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        Self { done, peak, task }
    }

    async fn stop(self) -> u64 {
        self.done.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        self.peak.load(Ordering::Relaxed)
    }
}

/// 20 uploads at once, half as attachments and half as profile pictures; returns the slowest
/// answer's time and every status line.
async fn twenty_at_once(
    port: u16,
    token: &str,
    room: &str,
    files: &[(&'static str, Vec<u8>)],
) -> (Duration, Vec<String>) {
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let (kind, body) = files[i % files.len()].clone();
            let (token, room) = (token.to_owned(), room.to_owned());
            tokio::spawn(async move {
                let t = Instant::now();
                let answer = if i % 2 == 0 {
                    let path = format!("/v1/rooms/{room}/uploads?file_name=f{i}");
                    request(port, "POST", &path, &token, kind, &body).await
                } else {
                    request(port, "PUT", "/v1/me/avatar", &token, kind, &body).await
                };
                let status = String::from_utf8_lossy(&answer[..12.min(answer.len())]).into_owned();
                (t.elapsed(), status)
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    let mut statuses = Vec::new();
    for c in clients {
        let (took, status) = c.await.unwrap();
        slowest = slowest.max(took);
        statuses.push(status);
    }
    (slowest, statuses)
}

async fn bombs() {
    use chat_core::testing::fixtures::{
        animated_webp_bomb, gif_bomb, jpeg_bomb, png_bomb, webp_bomb,
    };
    let bombs: Vec<(&'static str, Vec<u8>)> = vec![
        ("image/jpeg", jpeg_bomb(65535, 65535)),
        ("image/png", png_bomb(20_000, 20_000)),
        ("image/webp", webp_bomb(16383, 16383)),
        ("image/webp", animated_webp_bomb(65535, 65535, 10)),
        ("image/gif", gif_bomb(65535, 65535, 2000)),
    ];
    let baseline: Vec<(&'static str, Vec<u8>)> = vec![(
        "image/jpeg",
        chat_core::testing::fixtures::jpeg_with_gps(8, 8),
    )];
    let sizes: Vec<usize> = bombs.iter().map(|(_, b)| b.len()).collect();
    println!("image bombs, 20 at once (bomb sizes {sizes:?} bytes):");
    for (label, files, expect) in [
        (
            "baseline: 20 real 8 × 8 JPEGs",
            &baseline,
            ["HTTP/1.1 200", "HTTP/1.1 201"],
        ),
        ("bombs", &bombs, ["HTTP/1.1 413", "HTTP/1.1 413"]),
    ] {
        let (server, port, token, room) = spawn();
        let pid = server.child.id();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let base = rss_kib(pid);
        let sampler = RssPeak::start(pid);
        let (slowest, statuses) = twenty_at_once(port, &token, &room, files).await;
        let peak = sampler.stop().await;
        for status in &statuses {
            assert!(expect.contains(&status.as_str()), "{label}: {status}");
        }
        println!(
            "  {label:32}: slowest answer {:7.1} ms, RSS base {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB",
            slowest.as_secs_f64() * 1000.0,
            base as f64 / 1024.0,
            peak as f64 / 1024.0,
            (peak - base) as f64 / 1024.0,
        );
        drop(server);
    }
}
