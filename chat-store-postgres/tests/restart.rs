//! Restarting the database server mid-test: the store reports the outage as a retryable error,
//! recovers on its own once the server is back, and loses no acknowledged message.
//!
//! This runs on a private cluster the test creates (initdb and pg_ctl as the `postgres` user,
//! on a free port) and kills with `pg_ctl stop -m immediate`, a crash. The shared server is
//! never touched: other tests use it in parallel.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chat_core::testing::{Harness, text};
use chat_core::{Error, HistoryCursor};
use chat_store_postgres::PostgresStore;
use sqlx::postgres::PgPoolOptions;

struct Cluster {
    bin: PathBuf,
    dir: String,
    port: u16,
}

fn as_postgres(program: &Path, args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("runuser")
        .arg("-u")
        .arg("postgres")
        .arg("--")
        .arg(program)
        .args(args)
        .output()
}

fn pg_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    fn create() -> Result<Self, String> {
        let bin = pg_bin().ok_or("no PostgreSQL server binaries under /usr/lib/postgresql")?;
        let out = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "mktemp",
                "-d",
                "/tmp/chat-engine-pg-XXXXXX",
            ])
            .output()
            .map_err(|e| format!("runuser: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot run as postgres: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let out = as_postgres(
            &bin.join("initdb"),
            &["-D", &dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        )
        .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let cluster = Self {
            bin,
            dir,
            port: free_port(),
        };
        cluster.start()?;
        Ok(cluster)
    }

    fn start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port, self.dir
        );
        let log = format!("{}/server.log", self.dir);
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.dir, "-l", &log, "-o", &opts, "-w", "start"],
        )
        .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl start: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// A crash: no shutdown checkpoint; only what was committed (and so fsynced) survives.
    fn crash(&self) {
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.dir, "-m", "immediate", "-w", "stop"],
        )
        .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.dir, "-m", "immediate", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_from_a_crash_and_keeps_every_acknowledged_message() {
    let cluster = match Cluster::create() {
        Ok(c) => c,
        Err(why) => {
            assert!(
                common::skip_allowed(),
                "cannot start a private PostgreSQL cluster ({why}); set CHAT_SKIP_POSTGRES=1 to skip"
            );
            eprintln!("SKIPPED: cannot start a private PostgreSQL cluster ({why})");
            return;
        }
    };
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&cluster.url())
        .await
        .expect("connect to the private cluster");
    let store = PostgresStore::from_pool(pool);
    store.migrate().await.unwrap();
    let h = Harness::with_limits(
        Arc::new(store),
        chat_core::Limits {
            send_rate_max: 1_000_000,
            ..Default::default()
        },
    )
    .await;
    let (owner, _event, room) = h.owner_event_room().await;

    let mut acknowledged = Vec::new();
    for i in 0..20 {
        acknowledged.push(h.send(owner, room, &format!("before {i}")).await.id);
    }
    cluster.crash();
    // While the server is down every send fails with a retryable error, never a panic.
    match h
        .chat
        .send_message(owner, room, text("during the outage"))
        .await
    {
        Err(e) => assert!(
            matches!(e, Error::Unavailable { .. }),
            "expected Unavailable, got {e:?}"
        ),
        Ok(sent) => panic!("a send succeeded with the server down: {sent:?}"),
    }
    cluster.start().unwrap();
    // The pool reconnects by itself: retry the way a client would, with a short backoff.
    let mut recovered = None;
    for _ in 0..50 {
        match h
            .chat
            .send_message(owner, room, text("after the restart"))
            .await
        {
            Ok(sent) => {
                recovered = Some(sent.message.id);
                break;
            }
            Err(e) if e.is_retryable() => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("unexpected error after restart: {e:?}"),
        }
    }
    acknowledged.push(recovered.expect("the store recovers within 10 s"));
    let page = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, Some(100))
        .await
        .unwrap();
    let stored: Vec<_> = page.messages.iter().rev().map(|m| m.id).collect();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged message survived the crash, in order"
    );
    let seqs: Vec<u64> = page.messages.iter().rev().map(|m| m.seq.get()).collect();
    assert_eq!(
        seqs,
        (1..=21).collect::<Vec<_>>(),
        "no seq was lost or reused"
    );
}
