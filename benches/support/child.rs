//! Benchmark servers in child processes: the bench binary re-executes itself with a mode
//! flag, and the child prints one line of space-separated facts (port first) once it listens.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts this binary with `mode` and returns the child and the words of its first line.
pub(crate) fn spawn_server(mode: &str) -> (Child, Vec<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg(mode)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.split_whitespace().map(str::to_owned).collect())
}

/// The runtime every benchmark's `main` runs on: two worker threads, as the machine has cores.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
