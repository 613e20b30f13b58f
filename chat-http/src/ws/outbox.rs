//! A connection's outbound frames, written by the connection's own task.
//!
//! The outbox is a plain queue owned by the connection: no channel, no lock, no second task.
//! It holds no memory while empty and gives a burst's buffer back once it drains (a tokio
//! `mpsc` would allocate 32 slots up front for every idle connection; see "WebSocket memory
//! per idle connection" in BENCHMARKS.md).

use std::collections::VecDeque;
use std::task::{Context, Poll, ready};

use axum::extract::ws::Message as WsMessage;
use futures::{Sink, SinkExt};

use super::REPLAY_WINDOW;

/// How many frames are written before one flush. Batching turns a burst into one write; the
/// bound keeps one flush from waiting on a long queue.
const WRITE_BATCH: usize = 64;

/// A buffer larger than this is given back once the outbox empties.
const KEEP_CAPACITY: usize = 64;

/// Frames waiting to be written, live and replayed.
#[derive(Debug)]
pub(super) struct Outbox {
    frames: VecDeque<Outgoing>,
    /// `ws_outbound_queue + REPLAY_WINDOW`: replays hold at most the window, so live frames
    /// always have their `ws_outbound_queue` places.
    capacity: usize,
    /// Replayed frames among `frames`.
    replayed: usize,
    /// Frames were handed to the socket and not flushed yet.
    unflushed: bool,
}

#[derive(Debug)]
struct Outgoing {
    frame: WsMessage,
    replayed: bool,
}

/// A live frame found the outbox full: the client does not read fast enough.
#[derive(Debug)]
pub(super) struct Full;

impl Outbox {
    /// An outbox that holds up to `live` live frames beside the replay window.
    pub(super) fn new(live: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            capacity: live.max(1) + REPLAY_WINDOW,
            replayed: 0,
            unflushed: false,
        }
    }

    /// Queues a live frame. Live frames never wait: a full outbox is the caller's cue to close
    /// the connection as too slow.
    pub(super) fn push(&mut self, frame: WsMessage) -> Result<(), Full> {
        if self.frames.len() >= self.capacity {
            return Err(Full);
        }
        self.frames.push_back(Outgoing {
            frame,
            replayed: false,
        });
        Ok(())
    }

    /// How many more replayed frames the window takes now.
    pub(super) fn replay_room(&self) -> usize {
        REPLAY_WINDOW.saturating_sub(self.replayed)
    }

    /// Queues a replayed frame; callers keep within [`Self::replay_room`].
    pub(super) fn push_replayed(&mut self, frame: WsMessage) {
        self.replayed += 1;
        self.frames.push_back(Outgoing {
            frame,
            replayed: true,
        });
    }

    /// Whether there is anything to write or flush.
    pub(super) fn wants_write(&self) -> bool {
        !self.frames.is_empty() || self.unflushed
    }

    /// Writes up to [`WRITE_BATCH`] queued frames and flushes them. Cancel-safe: a frame
    /// leaves the outbox only once the socket has taken it.
    pub(super) fn poll_write<S>(
        &mut self,
        sink: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), S::Error>>
    where
        S: Sink<WsMessage> + Unpin,
    {
        for _ in 0..WRITE_BATCH {
            if self.frames.is_empty() {
                break;
            }
            ready!(sink.poll_ready_unpin(cx))?;
            let Some(item) = self.frames.pop_front() else {
                break;
            };
            if item.replayed {
                self.replayed -= 1;
            }
            self.unflushed = true;
            sink.start_send_unpin(item.frame)?;
        }
        if self.frames.is_empty() && self.frames.capacity() > KEEP_CAPACITY {
            self.frames = VecDeque::new();
        }
        ready!(sink.poll_flush_unpin(cx))?;
        self.unflushed = false;
        Poll::Ready(Ok(()))
    }

    /// Writes and flushes everything queued.
    pub(super) async fn write_all<S>(&mut self, sink: &mut S) -> Result<(), S::Error>
    where
        S: Sink<WsMessage> + Unpin,
    {
        while self.wants_write() {
            std::future::poll_fn(|cx| self.poll_write(sink, cx)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> WsMessage {
        WsMessage::Text(s.into())
    }

    /// A sink that takes `budget` frames, then is not ready until the budget is raised.
    #[derive(Default)]
    struct Socket {
        written: Vec<WsMessage>,
        budget: usize,
        flushes: usize,
    }

    impl Sink<WsMessage> for Socket {
        type Error = std::convert::Infallible;
        fn poll_ready(
            self: std::pin::Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            if self.budget > 0 {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }
        fn start_send(
            mut self: std::pin::Pin<&mut Self>,
            item: WsMessage,
        ) -> Result<(), Self::Error> {
            self.budget -= 1;
            self.written.push(item);
            Ok(())
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn live_frames_fill_their_share_and_replays_their_window() {
        let mut outbox = Outbox::new(2);
        for _ in 0..REPLAY_WINDOW {
            assert!(outbox.replay_room() > 0);
            outbox.push_replayed(text("r"));
        }
        assert_eq!(outbox.replay_room(), 0);
        // The window is full of replays; live frames still have their two places.
        assert!(outbox.push(text("a")).is_ok());
        assert!(outbox.push(text("b")).is_ok());
        assert!(outbox.push(text("c")).is_err());
    }

    #[test]
    fn frames_leave_in_order_only_when_the_socket_takes_them() {
        let mut outbox = Outbox::new(10);
        outbox.push_replayed(text("1"));
        outbox.push(text("2")).unwrap();
        outbox.push(text("3")).unwrap();
        let mut socket = Socket {
            budget: 2,
            ..Socket::default()
        };
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(outbox.poll_write(&mut socket, &mut cx).is_pending());
        assert_eq!(socket.written, [text("1"), text("2")]);
        assert_eq!(
            outbox.replay_room(),
            REPLAY_WINDOW,
            "the written replay left the window"
        );
        assert!(outbox.wants_write());
        socket.budget = 5;
        assert!(outbox.poll_write(&mut socket, &mut cx).is_ready());
        assert_eq!(socket.written, [text("1"), text("2"), text("3")]);
        assert_eq!(socket.flushes, 1);
        assert!(!outbox.wants_write());
    }

    #[test]
    fn a_burst_gives_its_memory_back() {
        let mut outbox = Outbox::new(1_000);
        for _ in 0..500 {
            outbox.push(text("x")).unwrap();
        }
        assert!(outbox.frames.capacity() >= 500);
        let mut socket = Socket {
            budget: usize::MAX,
            ..Socket::default()
        };
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        while outbox.wants_write() {
            assert!(outbox.poll_write(&mut socket, &mut cx).is_ready());
        }
        assert_eq!(socket.written.len(), 500);
        assert_eq!(socket.flushes, 500_usize.div_ceil(WRITE_BATCH));
        assert_eq!(outbox.frames.capacity(), 0);
    }
}
