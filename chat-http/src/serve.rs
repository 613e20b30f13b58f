//! Serving a router on a bound listener: [`serve`] and [`serve_router`].
//!
//! The accept loop is hyper's HTTP/1 connection builder rather than `axum::serve`, for one
//! setting `axum::serve` does not expose: how many header lines hyper parses. It does what
//! `axum::serve` does otherwise: TCP_NODELAY, the client address as `ConnectInfo`, upgrades
//! (the WebSocket), and a graceful shutdown. hyper answers a
//! request over its limits itself, with an empty body; parsing more lets the router's
//! `request_limits` answer with the JSON error envelope every other error has.
//!
//! What hyper cannot parse at all (a URI over 64 KiB, a malformed request line, a header
//! section over its buffer) never reaches the router: hyper answers it, with an empty body, and
//! closes. [`JsonParseErrors`] gives those answers the JSON envelope too.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::request_limits::MAX_HEADERS;
use crate::state::AppState;

/// Header lines hyper parses before refusing a request on its own (with an empty 431). Well
/// above [`MAX_HEADERS`], so the router sees and refuses such requests with a JSON body.
const PARSED_HEADERS: usize = MAX_HEADERS * 4;

/// The largest read buffer of one connection.
const MAX_READ_BUFFER: usize = 64 * 1024;

/// How long a client may take to send a request's headers: a slow sender cannot hold a
/// connection open for free.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `state` on an already-bound listener until `shutdown` completes. Then it stops
/// accepting, tells every WebSocket client to reconnect (close code 1012), and waits for
/// in-flight requests to finish.
///
/// # Errors
/// The listener's I/O errors.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_router(listener, crate::router(state.clone()), state, shutdown).await
}

/// As [`serve`], for an application that adds routes of its own (a web client, say) to
/// [`router`](crate::router)`(state)`: `app` is served, and `state` is the one it was built
/// from, whose WebSocket connections are told to reconnect on shutdown.
///
/// # Errors
/// The listener's I/O errors.
pub async fn serve_router<F>(
    listener: tokio::net::TcpListener,
    app: Router,
    state: AppState,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_headers(PARSED_HEADERS)
        // The read buffer of a connection grows with what the client sends fast, up to this
        // bound: 64 KiB holds any request head we accept (8 KiB URI, 100 headers), and keeps
        // a hundred fast uploads from holding 400 KiB each (hyper's default).
        .max_buf_size(MAX_READ_BUFFER)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // Every connection task holds a receiver: the signal tells them to finish, and the
    // sender's `closed()` tells us when the last one has.
    let (stop_tx, stop_rx) = watch::channel(());
    // Every connection's task, waited for at shutdown.
    let connections = tokio_util::task::TaskTracker::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Chat frames are small and latency-bound: without TCP_NODELAY, a frame written while
        // the previous one is unacknowledged waits for the peer's delayed ACK (40 ms on Linux).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            // Handlers read the client's address (the sign-in limit per address) from here.
            req.extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            app.clone().oneshot(req.map(Body::new))
        });
        let connection = http
            .serve_connection(TokioIo::new(JsonParseErrors::new(tcp)), service)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stop.changed() => {
                    // Finish the request in flight, then close instead of keeping alive.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drop(stop_rx);
    state.begin_shutdown();
    stop_tx.send_replace(());
    connections.close();
    connections.wait().await;
    // An upgraded connection leaves hyper's task at the handshake: its WebSocket task is
    // waited for here, so the 1012 Close is written before the caller (a `main` about to
    // return) stops the runtime. Bounded: each waits at most CLOSE_GRACE for its client.
    if !state
        .websockets_closed(crate::ws::CLOSE_GRACE + Duration::from_secs(1))
        .await
    {
        tracing::warn!("some WebSocket connections did not finish closing");
    }
    Ok(())
}

/// Gives hyper's own answers to unparseable requests the JSON error envelope.
///
/// hyper answers a request it cannot parse (400, 414, 431) before any service runs, with
/// `connection: close` and `content-length: 0`, then closes; no response of the router has
/// both (its errors always carry a body). This wrapper recognises that head as it is written
/// and writes the same status with a JSON body instead. Everything else passes through.
#[derive(Debug)]
struct JsonParseErrors<IO> {
    inner: IO,
    /// A replacement being written, and how many of its bytes are out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<IO> JsonParseErrors<IO> {
    fn new(inner: IO) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// The JSON answer for one of hyper's empty error heads, or `None` for any other bytes.
fn json_answer(head: &[u8]) -> Option<Vec<u8>> {
    const MARK: &[u8] = b"\r\nconnection: close\r\ncontent-length: 0\r\n";
    if !head.starts_with(b"HTTP/1.1 4") || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    if !head.windows(MARK.len()).any(|w| w == MARK) {
        return None;
    }
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let status_line = std::str::from_utf8(&head[..line_end]).ok()?;
    let status = status_line.get(9..12)?;
    let (code, message) = match status {
        "414" => (
            "uri_too_long",
            "the request URI is too long to read; at most 8 KiB",
        ),
        "431" => (
            "headers_too_large",
            "the request headers are too large to read",
        ),
        _ => ("bad_request", "the request could not be read as HTTP/1.1"),
    };
    let body = format!(r#"{{"error":{{"code":"{code}","message":"{message}"}}}}"#);
    Some(
        format!(
            "{status_line}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<IO: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for JsonParseErrors<IO> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for JsonParseErrors<IO> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        if self.pending.is_none() {
            match json_answer(buf) {
                Some(answer) => self.pending = Some((answer, 0)),
                None => return std::pin::Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        // Write the whole replacement, then report the original bytes as written.
        loop {
            let this = &mut *self;
            let Some((answer, sent)) = this.pending.as_mut() else {
                return Poll::Ready(Ok(buf.len()));
            };
            if *sent == answer.len() {
                this.pending = None;
                return Poll::Ready(Ok(buf.len()));
            }
            match std::pin::Pin::new(&mut this.inner).poll_write(cx, &answer[*sent..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => *sent += n,
                other => return other,
            }
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::json_answer;

    #[test]
    fn only_hypers_empty_error_heads_are_rewritten() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 26 Nov 2026 17:20:38 GMT\r\n\r\n";
        let answer = String::from_utf8(json_answer(hyper).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(answer.contains("content-type: application/json"));
        assert!(answer.ends_with(r#"{"error":{"code":"uri_too_long","message":"the request URI is too long to read; at most 8 KiB"}}"#));
        for other in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 57\r\n\r\n",
            b"\x81\x05hello",
        ] {
            assert!(json_answer(other).is_none());
        }
    }
}
