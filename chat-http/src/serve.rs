//! Serving a router on a bound listener: [`serve`] and [`serve_router`].
//!
//! The accept loop is hyper's HTTP/1 connection builder rather than `axum::serve`, for one
//! setting `axum::serve` does not expose: how many header lines hyper parses. It does what
//! `axum::serve` does otherwise: TCP_NODELAY, the client address as `ConnectInfo`, upgrades
//! (the WebSocket), and a graceful shutdown. hyper answers a
//! request over its limits itself, with an empty body; parsing more lets the router's
//! `request_limits` answer with the JSON error envelope every other error has.

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
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // Every connection task holds a receiver: the signal tells them to finish, and the
    // sender's `closed()` tells us when the last one has.
    let (stop_tx, stop_rx) = watch::channel(());
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
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
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
            drop(stop);
        });
    }
    drop(listener);
    drop(stop_rx);
    state.begin_shutdown();
    stop_tx.send_replace(());
    stop_tx.closed().await;
    Ok(())
}
