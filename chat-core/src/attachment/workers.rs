//! Threads of their own for image work.
//!
//! Decoding an image allocates in proportion to its pixels, and an allocator keeps some of
//! what a thread freed for that thread's next use. Run on tokio's blocking pool, successive
//! images land on whichever of its (up to hundreds of) threads is free, and each keeps its
//! share: measured, 100 uploads of 2.7 MB JPEGs grew the server by over 200 MiB. A few
//! dedicated threads, started on first use, keep that memory in a few places.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of named threads that run jobs in arrival order.
#[derive(Debug)]
pub(crate) struct Workers {
    threads: usize,
    jobs: OnceLock<Mutex<Sender<Job>>>,
}

impl Workers {
    /// Workers that will start `threads` threads (at least one) on first use.
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            jobs: OnceLock::new(),
        }
    }

    fn start(&self) -> Mutex<Sender<Job>> {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..self.threads {
            let rx = Arc::clone(&rx);
            // A thread that cannot start shows as the error of the jobs that find no worker.
            let _ = std::thread::Builder::new()
                .name(format!("chat-images-{i}"))
                .spawn(move || work(&rx));
        }
        Mutex::new(tx)
    }

    /// Runs `f` on a worker thread and waits for its result without blocking the runtime.
    ///
    /// # Errors
    /// [`Error::Internal`] when `f` panics or no worker thread could be started.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic (a decoder bug on hostile input) fails this job, not the thread.
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        });
        self.jobs
            .get_or_init(|| self.start())
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job)
            .map_err(|_| Error::internal("no image worker thread is running"))?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(Error::internal("image processing panicked")),
            Err(_) => Err(Error::internal("no image worker thread is running")),
        }
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(),
            // The service was dropped: its sender with it.
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_panics_stay_inside_them() {
        let workers = Workers::new(1);
        assert_eq!(workers.run(|| 2 + 2).await.unwrap(), 4);
        assert!(workers.run(|| panic!("hostile input")).await.is_err());
        let name = workers
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(
            name.as_deref(),
            Some("chat-images-0"),
            "the thread survived the panic"
        );
    }
}
