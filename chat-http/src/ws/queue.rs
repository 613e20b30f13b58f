//! A connection's outbound queue: bounded like a channel, but holding no memory while it is
//! empty. A tokio `mpsc` channel allocates its first block of 32 slots when it is made: about
//! 2 KiB for every idle connection (BENCHMARKS.md, "WebSocket memory per idle connection").
//! This queue's buffer grows when frames wait in it and is given back after a burst.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// A buffer larger than this is given back once the queue empties.
const KEEP_CAPACITY: usize = 64;

/// The sending side; clones count as senders. The receiver sees the end once every sender is
/// dropped and the queue is empty.
#[derive(Debug)]
pub(super) struct FrameQueue<T> {
    inner: Arc<Inner<T>>,
}

/// The receiving side (the connection's writer).
#[derive(Debug)]
pub(super) struct FrameReceiver<T> {
    inner: Arc<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    state: Mutex<State<T>>,
    /// Wakes the receiver when an item arrives or the last sender goes. `notify_one` keeps a
    /// permit when nobody waits, so no wake-up is lost between a check and the wait.
    readable: Notify,
    capacity: usize,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    receiver_alive: bool,
}

/// Why an item was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PushError {
    /// `capacity` items are waiting.
    Full,
    /// The receiver is gone.
    Closed,
}

/// A queue of at most `capacity` items.
pub(super) fn frame_queue<T>(capacity: usize) -> (FrameQueue<T>, FrameReceiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            receiver_alive: true,
        }),
        readable: Notify::new(),
        capacity: capacity.max(1),
    });
    (
        FrameQueue {
            inner: Arc::clone(&inner),
        },
        FrameReceiver { inner },
    )
}

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> FrameQueue<T> {
    /// Queues `item` without waiting.
    pub(super) fn try_push(&self, item: T) -> Result<(), PushError> {
        let mut state = self.inner.lock();
        if !state.receiver_alive {
            return Err(PushError::Closed);
        }
        if state.items.len() >= self.inner.capacity {
            return Err(PushError::Full);
        }
        state.items.push_back(item);
        drop(state);
        self.inner.readable.notify_one();
        Ok(())
    }
}

impl<T> Clone for FrameQueue<T> {
    fn clone(&self) -> Self {
        self.inner.lock().senders += 1;
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Drop for FrameQueue<T> {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        state.senders -= 1;
        if state.senders == 0 {
            drop(state);
            self.inner.readable.notify_one();
        }
    }
}

impl<T> FrameReceiver<T> {
    /// The next item if one is waiting.
    pub(super) fn try_pop(&mut self) -> Option<T> {
        let mut state = self.inner.lock();
        let item = state.items.pop_front();
        if state.items.is_empty() && state.items.capacity() > KEEP_CAPACITY {
            state.items = VecDeque::new();
        }
        item
    }

    /// The next item; `None` once the queue is empty and every sender is gone. Cancel-safe:
    /// an item is taken only when it is returned.
    pub(super) async fn pop(&mut self) -> Option<T> {
        loop {
            {
                let state = self.inner.lock();
                if state.items.is_empty() && state.senders == 0 {
                    return None;
                }
            }
            if let Some(item) = self.try_pop() {
                return Some(item);
            }
            self.inner.readable.notified().await;
        }
    }
}

impl<T> Drop for FrameReceiver<T> {
    fn drop(&mut self) {
        // Senders learn at once that nobody reads; what was queued goes now (and with it any
        // replay-window permits it holds).
        let items = {
            let mut state = self.inner.lock();
            state.receiver_alive = false;
            std::mem::take(&mut state.items)
        };
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn items_come_in_order_up_to_the_capacity() {
        let (queue, mut rx) = frame_queue(2);
        assert_eq!(queue.try_push(1), Ok(()));
        assert_eq!(queue.try_push(2), Ok(()));
        assert_eq!(queue.try_push(3), Err(PushError::Full));
        assert_eq!(rx.pop().await, Some(1));
        assert_eq!(queue.try_push(3), Ok(()));
        assert_eq!(rx.try_pop(), Some(2));
        assert_eq!(rx.pop().await, Some(3));
        assert_eq!(rx.try_pop(), None);
    }

    #[tokio::test]
    async fn the_end_comes_after_the_last_sender_and_the_last_item() {
        let (queue, mut rx) = frame_queue(8);
        let other = queue.clone();
        queue.try_push("a").unwrap();
        drop(queue);
        other.try_push("b").unwrap();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(item) = rx.pop().await {
                got.push(item);
            }
            got
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        other.try_push("c").unwrap();
        drop(other);
        let got = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the reader ends")
            .unwrap();
        assert_eq!(got, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_for_an_item() {
        let (queue, mut rx) = frame_queue(8);
        let reader = tokio::spawn(async move { rx.pop().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.try_push(7).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(got, Some(7));
    }

    #[test]
    fn pushing_after_the_reader_is_gone_says_so_and_a_burst_gives_its_memory_back() {
        let (queue, mut rx) = frame_queue(1000);
        for i in 0..500 {
            queue.try_push(i).unwrap();
        }
        while rx.try_pop().is_some() {}
        assert_eq!(
            rx.inner.lock().items.capacity(),
            0,
            "the burst's buffer is given back"
        );
        drop(rx);
        assert_eq!(queue.try_push(1), Err(PushError::Closed));
    }
}
