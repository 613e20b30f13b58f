//! How a connection ends: the closing handshake, bounded in time, and the close code for a
//! frame that could not be read.

use axum::extract::ws::WebSocket;
use futures::StreamExt;
use tokio::task::JoinHandle;

/// How long the socket stays open after the Close frame was written when the client's input
/// could not be read to the end (see [`close`]).
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_millis(500);

/// How long a closing connection may take to deliver what is queued, its close frame, and to
/// receive the client's close frame.
pub(crate) const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Ends a connection whose outbound queue is dropped: the writer writes what is queued and a
/// Close frame. Meanwhile this keeps reading: that answers a Close the client sent, and
/// receives the client's answer to ours, so the TCP connection ends only after the closing
/// handshake (closing it with unread input would reset it and destroy frames the client has
/// not read yet). A client that reads nothing for [`CLOSE_GRACE`] loses the connection without
/// the handshake, so a dead peer cannot pin the connection's task and buffers.
pub(super) async fn close(
    mut writer: JoinHandle<()>,
    mut stream: futures::stream::SplitStream<WebSocket>,
    read_failed: bool,
) {
    let finish = async {
        let drain = drain(&mut stream);
        let (_, written) = futures::join!(drain, &mut writer);
        written
    };
    if tokio::time::timeout(CLOSE_GRACE, finish).await.is_err() {
        writer.abort();
        return;
    }
    if read_failed {
        // After a read error (an oversized message, say) the rest of the client's frame is
        // still arriving, and the WebSocket can no longer read it. Closing the socket with
        // unread input would reset it and destroy our Close frame before the client reads
        // it; lingering a moment first (as HTTP servers do on an error) lets it arrive.
        tokio::time::sleep(CLOSE_LINGER).await;
    }
    drop(stream);
}

/// Reads and drops what the client still sends until it closes (its answer to our Close, or
/// frames already on the way).
async fn drain(stream: &mut futures::stream::SplitStream<WebSocket>) {
    while let Some(Ok(_)) = stream.next().await {}
}

/// The close code and reason for a read error (RFC 6455, section 7.4.1).
pub(super) fn close_for_read_error(err: &axum::Error) -> (u16, &'static str) {
    use tungstenite::error::{CapacityError, Error as WsError};
    let inner: &(dyn std::error::Error + 'static) = err;
    let source = inner.source();
    match source.and_then(|s| s.downcast_ref::<WsError>()) {
        Some(WsError::Capacity(CapacityError::MessageTooLong { .. })) => {
            (1009, "message too big; see ws_max_message")
        }
        Some(WsError::Capacity(_)) => (1009, "frame too big"),
        Some(WsError::Utf8(_)) => (1007, "text frames must be UTF-8"),
        _ => (1002, "protocol error"),
    }
}
