//! A graceful shutdown tells every WebSocket client to reconnect (close code 1012), however
//! young the connection: one still authenticating by its first frame, one authenticated a
//! moment ago, one subscribed. The server runs on a runtime of its own that is dropped the
//! moment `serve` returns, as a `main` that returns ends the process: every Close frame must
//! be on the wire by then.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chat_store_memory::MemoryStore;
use serde_json::json;
use support::App;
use support::ws_client::{close_frame, connect, next, send};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_websocket_gets_1012_before_serve_returns() {
    let app = App::new(Arc::new(MemoryStore::new()));
    let (owner, _event, room) = app.world().await;
    let state = app.state.clone();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            chat_http::serve(listener, state, async move {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
        // What a returning `main` does: every task still running is dropped.
        runtime.shutdown_background();
    });
    let addr = addr_rx.recv().unwrap();

    // Still authenticating: opened without a token, its first frame not sent yet.
    let (mut unauthenticated, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws"))
        .await
        .unwrap();
    // Subscribed.
    let mut subscribed = connect(addr, &owner).await;
    send(
        &mut subscribed,
        json!({"type": "subscribe", "room_id": room}),
    )
    .await;
    assert_eq!(next(&mut subscribed).await["type"], "subscribed");
    // Opened just before the shutdown, by token.
    let mut young = connect(addr, &owner).await;

    stop_tx.send(()).unwrap();
    for (name, ws) in [
        ("authenticating", &mut unauthenticated),
        ("subscribed", &mut subscribed),
        ("young", &mut young),
    ] {
        let frame = close_frame(ws, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{name}: a close frame with a code"));
        assert_eq!(frame.code, CloseCode::Restart, "{name}: {frame:?}");
    }
    tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
}
