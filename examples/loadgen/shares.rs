//! A run split over several processes (`--processes N`): one process may hold at most
//! `ulimit -n` descriptors, one per WebSocket, so beyond about 20,000 users here the users are
//! shared out. The first process seeds the world, starts the others with it, and reports for
//! all of them; share `k` holds the WebSockets of users `n` with `n % N == k` and sends their
//! messages, so every message is sent by one process and received by many.
//!
//! The processes talk over their standard streams, one line each way at a time: a share says
//! `ready` once its WebSockets are open, is told `start <ns since the Unix epoch>` (one wall
//! clock moment for all, since every latency is measured from a scheduled time that any share
//! can compute), and at the end writes its measurements ([`Partial`]) as one JSON line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::seed::World;
use crate::stats::Partial;

/// Which users this process acts for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Share {
    pub(crate) index: usize,
    pub(crate) of: usize,
}

impl Share {
    pub(crate) fn holds(self, user: usize) -> bool {
        user % self.of == self.index
    }
}

/// The other processes of a run, as the first one sees them.
pub(crate) struct Others {
    children: Vec<(Child, ChildStdin, Lines<BufReader<ChildStdout>>)>,
    world_file: PathBuf,
}

/// Writes the world where the others can read it and starts shares `1..of`, each with this
/// process's own arguments plus its share.
pub(crate) fn start(world: &World, of: usize) -> Result<Others, String> {
    let world_file =
        std::env::temp_dir().join(format!("loadgen-world-{}.json", std::process::id()));
    let json = serde_json::to_vec(world).map_err(|e| e.to_string())?;
    std::fs::write(&world_file, json).map_err(|e| format!("{}: {e}", world_file.display()))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut children = Vec::new();
    for index in 1..of {
        let mut child = Command::new(&exe)
            .args(&args)
            .arg("--share")
            .arg(index.to_string())
            .arg("--world")
            .arg(&world_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting share {index}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        children.push((child, stdin, BufReader::new(stdout).lines()));
    }
    Ok(Others {
        children,
        world_file,
    })
}

impl Others {
    /// Waits for every share's `ready`, then tells them all to start at `at`.
    pub(crate) async fn start_all_at(&mut self, at: SystemTime) -> Result<(), String> {
        for (index, (_, _, lines)) in self.children.iter_mut().enumerate() {
            match lines.next_line().await.map_err(|e| e.to_string())? {
                Some(line) if line == "ready" => {}
                other => return Err(format!("share {} failed to start: {other:?}", index + 1)),
            }
        }
        let line = format!("start {}\n", unix_nanos(at));
        for (_, stdin, _) in &mut self.children {
            stdin
                .write_all(line.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            stdin.flush().await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Each share's measurements, once it is done.
    pub(crate) async fn results(mut self) -> Result<Vec<Partial>, String> {
        let mut out = Vec::new();
        for (index, (child, _, lines)) in self.children.iter_mut().enumerate() {
            let line = lines
                .next_line()
                .await
                .map_err(|e| e.to_string())?
                .ok_or(format!("share {} ended without results", index + 1))?;
            out.push(serde_json::from_str(&line).map_err(|e| e.to_string())?);
            let _ = child.wait().await;
        }
        let _ = std::fs::remove_file(&self.world_file);
        Ok(out)
    }
}

/// The world the first process wrote.
pub(crate) fn read_world(path: &Path) -> Result<World, String> {
    let json = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&json).map_err(|e| e.to_string())
}

/// In a share: says `ready`, then waits to be told when the measured phase starts.
pub(crate) async fn ready_then_start() -> Result<Instant, String> {
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(b"ready\n")
        .await
        .map_err(|e| e.to_string())?;
    stdout.flush().await.map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let line = lines
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the first process went away")?;
    let nanos: u64 = line
        .strip_prefix("start ")
        .and_then(|n| n.parse().ok())
        .ok_or(format!("expected `start <ns>`, got {line:?}"))?;
    Ok(instant_of(UNIX_EPOCH + Duration::from_nanos(nanos)))
}

/// In a share: hands the measurements to the first process.
pub(crate) async fn report(partial: &Partial) -> Result<(), String> {
    let mut line = serde_json::to_vec(partial).map_err(|e| e.to_string())?;
    line.push(b'\n');
    let mut stdout = tokio::io::stdout();
    stdout.write_all(&line).await.map_err(|e| e.to_string())?;
    stdout.flush().await.map_err(|e| e.to_string())
}

/// This process's `Instant` for a wall-clock moment (the processes share one machine's clock).
pub(crate) fn instant_of(at: SystemTime) -> Instant {
    let (now, wall) = (Instant::now(), SystemTime::now());
    match at.duration_since(wall) {
        Ok(ahead) => now + ahead,
        Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
    }
}

fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
