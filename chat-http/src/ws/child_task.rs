//! A task a WebSocket connection started (a subscription's forwarding, a presence or unread
//! watch), tied to the connection: dropping its handle aborts it. So it ends with the
//! connection however the connection ends, a panic in a frame's handler included (a bare
//! `JoinHandle` dropped while unwinding would leave the task running, writing to nobody). It
//! runs on the server's WebSocket tracker, so a shutdown also waits until it has ended.

use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// A spawned task that is aborted when this handle is dropped.
#[derive(Debug)]
pub(super) struct ChildTask(JoinHandle<()>);

impl ChildTask {
    /// Spawns `work` on `tasks` as a child of the current connection.
    pub(super) fn spawn(
        tasks: &TaskTracker,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        Self(tasks.spawn(work))
    }

    /// Whether the task has ended by itself.
    pub(super) fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for ChildTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_handle_ends_its_task_even_while_unwinding() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let child = ChildTask::spawn(&TaskTracker::new(), async move {
            // Runs until aborted; dropping `tx` is how the receiver learns it ended.
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        // The owner panics while holding the handle, as a handler might.
        let owner = tokio::spawn(async move {
            let _child = child;
            panic!("a handler bug");
        });
        assert!(owner.await.is_err());
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await;
        assert_eq!(ended, Ok(None), "the child task ended with its owner");
    }
}
