//! An open-loop load generator for the example server: it sends on a schedule, not when the
//! previous send returns, so a slow server shows up as latency instead of hiding in a lower
//! rate. Latencies are measured from the scheduled time.
//!
//! ```sh
//! # terminal 1: the server, with a known secret and a send limit above the test's rate
//! cargo run --release --example server -- --jwt-secret "$SECRET" --no-demo --send-rate 100000
//! # terminal 2: 1,000 users in rooms of 10–100, 100 messages/s for 30 s
//! cargo run --release --example loadgen -- --jwt-secret "$SECRET" --users 1000 --rate 100 --duration 30
//! ```
//!
//! It creates users, events and rooms through the REST API (tokens are minted from the
//! server's JWT secret rather than signed up, see `seed.rs`), opens one WebSocket per user,
//! then for `--duration` seconds sends `--rate` messages per second in total, spread evenly
//! over the users and rooms, while opening rooms and searching at their own rates. It records, in
//! HdrHistogram:
//!
//! - **send**: scheduled send until the sender's `ack`;
//! - **real-time update**: scheduled send until each other member of the room receives it;
//! - **initial load**: opening a room (history page and a new subscribed WebSocket, in
//!   parallel) until both are there;
//! - **search**: a search request until its answer;
//! - **errors** by code, including acks and deliveries that never came.
//!
//! It prints a table (or JSON with `--json`) and exits non-zero on any error. It only targets
//! loopback addresses, and every loop is bounded in count and time.
//!
//! One process may hold at most `ulimit -n` descriptors, one per WebSocket; `--processes N`
//! splits the users over N processes of this program and reports for all of them (see
//! `shares.rs`). Give as many `--url`s as processes to spread the server side the same way.

mod connection;
mod seed;
mod shares;
mod stats;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use chat_http::JwtAuthenticator;
use clap::Parser;
use futures::{StreamExt, stream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::connection::Schedule;
use crate::seed::{Rest, World};
use crate::shares::Share;
use crate::stats::{Scenario, Stats};

/// Open-loop load generator for the chat-engine example server (loopback only).
#[derive(Debug, Parser)]
struct Args {
    /// A server's base URL; must be a loopback address. Repeat it for several instances of one
    /// deployment: user n's WebSocket and requests go to the n-th URL round-robin, so most
    /// deliveries cross instances.
    #[arg(long = "url", default_value = "http://127.0.0.1:3000")]
    urls: Vec<String>,
    /// The server's `--jwt-secret`, to mint the simulated users' tokens.
    #[arg(long, env = "CHAT_JWT_SECRET", hide_env_values = true)]
    jwt_secret: String,
    /// Simulated users, one WebSocket each (at most 200,000).
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Smallest room.
    #[arg(long, default_value_t = 10)]
    room_size_min: usize,
    /// Largest room.
    #[arg(long, default_value_t = 100)]
    room_size_max: usize,
    /// Messages per second, all users together.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Seconds of load (at most 900).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Room opens per second.
    #[arg(long, default_value_t = 5.0)]
    open_rate: f64,
    /// Searches per second.
    #[arg(long, default_value_t = 5.0)]
    search_rate: f64,
    /// Requests in flight while seeding, and WebSockets opened at once.
    #[arg(long, default_value_t = 64)]
    setup_concurrency: usize,
    /// Loopback source addresses to spread the WebSockets over (127.0.0.1, 127.0.0.2, …).
    /// Default: as many as `--users` needs, at 8,000 per address (see `PER_SOURCE`).
    #[arg(long)]
    source_addresses: Option<usize>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Processes to split the users over, each holding the WebSockets of its share (a process
    /// may hold at most `ulimit -n` descriptors). This one seeds, starts the others and
    /// reports for all.
    #[arg(long, default_value_t = 1)]
    processes: usize,
    /// Set by the first process on the others it starts: which share this process is.
    #[arg(long, hide = true, requires = "world")]
    share: Option<usize>,
    /// Set by the first process on the others it starts: the seeded world.
    #[arg(long, hide = true)]
    world: Option<PathBuf>,
}

const MAX_USERS: usize = 200_000;
const MAX_PROCESSES: usize = 64;
/// Connections per loopback source address. A socket bound before it connects (as the
/// generator's are, to choose the address) takes an ephemeral port of its own on that address,
/// whatever it connects to, out of 28,232 by default; near that ceiling each new connection
/// searches long for a free port, and the other connections from that address starve. At
/// 100,000 users over six servers, 25,000 per address took 230 s to connect and stalled the
/// run for seconds at a time (send p95 12.6 s); 8,400 per address, 30 s and 8.3 ms.
const PER_SOURCE: usize = 8_000;
const MAX_DURATION_SECS: u64 = 900;
const MAX_SENDS: f64 = 10_000_000.0;
/// How long after the last send the generator waits for outstanding acks and deliveries.
const DRAIN: Duration = Duration::from_secs(5);
/// How long after the connections are up the measured phase begins.
const SETTLE: Duration = Duration::from_secs(1);
const WORDS: [&str; 8] = [
    "pizza", "tonight", "venue", "music", "tickets", "parking", "dinner", "photos",
];

#[tokio::main]
async fn main() {
    match run(Args::parse()).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    }
}

/// The loopback addresses the WebSockets come from: `--source-addresses` of them, or as many
/// as `--users` needs.
fn source_addresses(args: &Args) -> Result<Vec<IpAddr>, String> {
    let n = args
        .source_addresses
        .unwrap_or_else(|| args.users.div_ceil(PER_SOURCE));
    if !(1..=250).contains(&n) {
        return Err("--source-addresses must be 1..=250".into());
    }
    let n = u8::try_from(n).map_err(|e| e.to_string())?;
    Ok((1..=n).map(|i| IpAddr::from([127, 0, 0, i])).collect())
}

/// Fails early, saying what runs out, when this process may not open `needed` descriptors
/// (one per WebSocket, and the server needs as many): a limit found half-way through the
/// connections would only say "Too many open files".
fn check_descriptors(needed: usize) -> Result<(), String> {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return Ok(()); // not Linux: let the connections tell
    };
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    match soft {
        Some(limit) if limit < needed => Err(format!(
            "needs about {needed} file descriptors, but this process may open {limit} \
             (`ulimit -n`); the server needs as many. Raise the limit or lower --users"
        )),
        _ => Ok(()),
    }
}

/// Refuses anything but loopback: this tool is a load test, not a weapon.
fn loopback_only(url: &str) -> Result<(String, String), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad --url: {e}"))?;
    if parsed.scheme() != "http" {
        return Err("--url must be http:// (loopback needs no TLS)".into());
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if !loopback {
        return Err(format!(
            "refusing {url}: the load generator only targets loopback addresses"
        ));
    }
    let base = url.trim_end_matches('/').to_owned();
    let ws = format!("ws{}/v1/ws", base.trim_start_matches("http"));
    Ok((base, ws))
}

async fn run(args: Args) -> Result<bool, String> {
    let targets = args
        .urls
        .iter()
        .map(|u| loopback_only(u))
        .collect::<Result<Vec<_>, _>>()?;
    let base = targets[0].0.clone();
    let ws_urls: Vec<String> = targets.iter().map(|(_, ws)| ws.clone()).collect();
    let ws_url_of = |user: usize| ws_urls[user % ws_urls.len()].clone();
    if args.users < 2 || args.users > MAX_USERS {
        return Err(format!("--users must be 2..={MAX_USERS}"));
    }
    if args.duration == 0 || args.duration > MAX_DURATION_SECS {
        return Err(format!("--duration must be 1..={MAX_DURATION_SECS}"));
    }
    if args.room_size_min < 2 || args.room_size_min > args.room_size_max {
        return Err("room sizes must satisfy 2 <= --room-size-min <= --room-size-max".into());
    }
    let total_sends = args.rate * args.duration as f64;
    if !(args.rate > 0.0 && total_sends <= MAX_SENDS) {
        return Err(format!("--rate × --duration must be in (0, {MAX_SENDS}]"));
    }
    for (name, rate) in [
        ("--open-rate", args.open_rate),
        ("--search-rate", args.search_rate),
    ] {
        if !(0.0..=10_000.0).contains(&rate) {
            return Err(format!("{name} must be 0..=10000"));
        }
    }
    let total_sends = total_sends as usize;
    if args.processes == 0 || args.processes > MAX_PROCESSES {
        return Err(format!("--processes must be 1..={MAX_PROCESSES}"));
    }
    let share = Share {
        index: args.share.unwrap_or(0),
        of: args.processes,
    };
    if share.index >= share.of {
        return Err("--share must be below --processes".into());
    }
    // The first process reports, and alone opens rooms and searches.
    let reporter = args.share.is_none();
    let sources = source_addresses(&args)?;
    check_descriptors(args.users.div_ceil(share.of) + args.setup_concurrency + 64)?;
    let source_of = |user: usize| sources[user % sources.len()];

    let rest = Rest {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(args.setup_concurrency)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?,
        base: base.clone(),
    };
    let jwt = JwtAuthenticator::new(args.jwt_secret.as_bytes());
    let setup = Instant::now();
    let world = match &args.world {
        Some(path) => shares::read_world(path)?,
        None => {
            let world = seed::seed(
                &rest,
                &jwt,
                args.users,
                (args.room_size_min, args.room_size_max),
                args.setup_concurrency,
            )
            .await?;
            eprintln!(
                "seeded {} users in {} rooms in {:.1} s",
                world.users.len(),
                world.rooms.len(),
                setup.elapsed().as_secs_f64()
            );
            world
        }
    };
    let mut others = if reporter && share.of > 1 {
        Some(shares::start(&world, share.of)?)
    } else {
        None
    };

    let schedule = Schedule {
        interval: Duration::from_secs_f64(1.0 / args.rate),
        sends: total_sends,
    };
    let stats = Arc::new(Stats::new());
    let connect = Instant::now();
    // Each connection is read from the moment it is open, so that it answers the server's
    // pings however long the others take to open (minutes, at 100,000 over several processes).
    let opened: Vec<_> = stream::iter(world.users.iter().enumerate())
        .filter(|(n, _)| std::future::ready(share.holds(*n)))
        .map(|(n, user)| {
            let (ws_url, room) = (ws_url_of(n), &world.rooms[user.room].id);
            let source = source_of(n);
            let stats = Arc::clone(&stats);
            async move {
                let ws = connection::open(&ws_url, source, &user.token, room).await?;
                Ok::<_, String>((n, connection::run(ws, user.id.to_string(), stats, schedule)))
            }
        })
        .buffered(args.setup_concurrency)
        .collect()
        .await;
    let opened: Vec<_> = opened.into_iter().collect::<Result<_, _>>()?;
    eprintln!(
        "{}opened {} WebSockets from {} source address(es) in {:.1} s; measuring for {} s",
        if share.of > 1 {
            format!("share {} of {}: ", share.index + 1, share.of)
        } else {
            String::new()
        },
        opened.len(),
        sources.len(),
        connect.elapsed().as_secs_f64(),
        args.duration
    );

    // The schedule starts a moment from now. Split over processes, the first one names the
    // moment once every share is connected.
    let start = match others.as_mut() {
        _ if !reporter => shares::ready_then_start().await?,
        Some(others) => {
            let at = SystemTime::now() + SETTLE;
            others.start_all_at(at).await?;
            shares::instant_of(at)
        }
        None => Instant::now() + SETTLE,
    };
    stats.begin(start);
    // Indexed by user; `None` for the users of other shares.
    let mut writers: Vec<Option<mpsc::Sender<Message>>> = vec![None; world.users.len()];
    for (n, writer) in opened {
        writers[n] = Some(writer);
    }
    let world = Arc::new(world);
    let end = start + Duration::from_secs(args.duration);

    let (open_rate, search_rate) = if reporter {
        (args.open_rate, args.search_rate)
    } else {
        (0.0, 0.0)
    };
    let opens = tokio::spawn(open_rooms(
        Arc::clone(&world),
        Arc::clone(&stats),
        rest.clone(),
        ws_urls.clone(),
        open_rate,
        end,
    ));
    let searches = tokio::spawn(search(
        Arc::clone(&world),
        Arc::clone(&stats),
        rest.clone(),
        search_rate,
        end,
    ));
    send_messages(&world, &stats, schedule, &writers).await;
    let measured = Instant::now().saturating_duration_since(start);
    let _ = opens.await;
    let _ = searches.await;
    drain(&stats, share.of > 1).await;
    if !reporter {
        shares::report(&stats.partial()).await?;
        return Ok(true);
    }
    if let Some(others) = others {
        for partial in others.results().await? {
            stats.absorb(&partial)?;
        }
    }

    let sends = stats.sends.load(Ordering::Relaxed);
    let answered = stats.acks.load(Ordering::Relaxed) + stats.send_errors.load(Ordering::Relaxed);
    for _ in answered..sends {
        stats.error("missing_ack");
    }
    let delivered = stats.deliveries.load(Ordering::Relaxed);
    for _ in delivered..stats.expected_deliveries.load(Ordering::Relaxed) {
        stats.error(stats::MISSING_DELIVERY);
    }

    // The report is taken before the connections close, which readers would count as errors.
    let report = stats.report(
        Scenario {
            url: targets
                .iter()
                .map(|(b, _)| b.as_str())
                .collect::<Vec<_>>()
                .join(","),
            users: world.users.len(),
            rooms: world.rooms.len(),
            room_size_min: args.room_size_min,
            room_size_max: args.room_size_max,
            rate_per_sec: args.rate,
            duration_secs: args.duration,
            open_rate_per_sec: args.open_rate,
            search_rate_per_sec: args.search_rate,
        },
        measured,
    );
    drop(writers);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", report.table());
    }
    Ok(report.errors == 0 && report.acks > 0)
}

/// Sends this process's share of the schedule's messages, spread over the users, each at its
/// scheduled time whatever happened to the previous ones.
async fn send_messages(
    world: &World,
    stats: &Stats,
    schedule: Schedule,
    writers: &[Option<mpsc::Sender<Message>>],
) {
    let users = world.users.len();
    // Users are numbered room by room, so plain round-robin would send bursts into one room
    // after another. A stride coprime to the user count still visits every user equally
    // often, but consecutive sends land in different rooms, as in real traffic.
    let stride = [7919, 7907, 7901]
        .into_iter()
        .find(|p| !users.is_multiple_of(*p))
        .unwrap_or(1);
    for n in 0..schedule.sends {
        let user = (n * stride) % users;
        let Some(writer) = &writers[user] else {
            continue; // another process's user
        };
        tokio::time::sleep_until((stats.start() + schedule.at(n)).into()).await;
        let room = &world.rooms[world.users[user].room];
        let frame = serde_json::json!({
            "type": "send",
            "room_id": room.id,
            "text": format!("load message {n} {}", WORDS[n % WORDS.len()]),
            "client_msg_id": format!("lg-{n}"),
        })
        .to_string();
        stats.sends.fetch_add(1, Ordering::Relaxed);
        stats
            .expected_deliveries
            .fetch_add(room.members.len() as u64 - 1, Ordering::Relaxed);
        if writer.try_send(Message::text(frame)).is_err() {
            // The generator's own queue to that socket is full: count it, never wait.
            stats.send_errors.fetch_add(1, Ordering::Relaxed);
            stats.error("generator_queue_full");
        }
    }
}

/// Waits until every send is answered and every delivery arrived, or [`DRAIN`] passes. A share
/// of a split run cannot know how many deliveries its users await (other processes sent
/// them), so it waits until a second passes with none.
async fn drain(stats: &Stats, shared: bool) {
    const QUIET: Duration = Duration::from_secs(1);
    let deadline = Instant::now() + DRAIN;
    let (mut seen, mut quiet_since) = (0, Instant::now());
    while Instant::now() < deadline {
        let answered =
            stats.acks.load(Ordering::Relaxed) + stats.send_errors.load(Ordering::Relaxed);
        let delivered = stats.deliveries.load(Ordering::Relaxed);
        if delivered != seen {
            (seen, quiet_since) = (delivered, Instant::now());
        }
        let received = if shared {
            quiet_since.elapsed() >= QUIET
        } else {
            delivered >= stats.expected_deliveries.load(Ordering::Relaxed)
        };
        if answered >= stats.sends.load(Ordering::Relaxed) && received {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `job(n, scheduled)` at `rate` per second until `end`, each in its own task, so a slow
/// answer delays nothing that follows.
async fn open_loop<F, Fut>(stats: &Stats, rate: f64, end: Instant, job: F)
where
    F: Fn(usize, Instant) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    if rate <= 0.0 {
        return;
    }
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut tasks = Vec::new();
    for n in 0.. {
        let at = stats.start() + interval.mul_f64(n as f64);
        if at >= end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        tasks.push(tokio::spawn(job(n, at)));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// The error code of a failed REST call (`"… 429 {\"error\":{\"code\":\"rate_limited\"…"`).
fn code_of(error: &str) -> String {
    error
        .split("\"code\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map_or_else(|| "http_error".to_owned(), str::to_owned)
}

async fn open_rooms(
    world: Arc<World>,
    stats: Arc<Stats>,
    rest: Rest,
    ws_urls: Vec<String>,
    rate: f64,
    end: Instant,
) {
    let job = |n: usize, at: Instant| {
        let index = (n * 7919) % world.users.len();
        let (world, stats, rest, ws_url) = (
            Arc::clone(&world),
            Arc::clone(&stats),
            rest.clone(),
            ws_urls[index % ws_urls.len()].clone(),
        );
        async move {
            // A spread of users: a large prime stride visits every room.
            let user = &world.users[index];
            let room = &world.rooms[user.room].id;
            stats.opens.fetch_add(1, Ordering::Relaxed);
            let path = format!("/rooms/{room}/messages?limit=50");
            let history = rest.call(&user.token, reqwest::Method::GET, &path, None);
            let live = connection::open(&ws_url, IpAddr::from([127, 0, 0, 1]), &user.token, room);
            match tokio::join!(history, live) {
                (Ok(_), Ok(ws)) => {
                    stats.initial_load.record(at.elapsed());
                    drop(ws);
                }
                (Err(e), _) => stats.error(&code_of(&e)),
                (_, Err(_)) => stats.error("open_subscribe_failed"),
            }
        }
    };
    open_loop(&stats, rate, end, job).await;
}

async fn search(world: Arc<World>, stats: Arc<Stats>, rest: Rest, rate: f64, end: Instant) {
    let job = |n: usize, at: Instant| {
        let (world, stats, rest) = (Arc::clone(&world), Arc::clone(&stats), rest.clone());
        async move {
            let user = &world.users[(n * 104_729) % world.users.len()];
            let word = WORDS[n % WORDS.len()];
            // Half in the open room, half everywhere the user can read.
            let path = if n.is_multiple_of(2) {
                format!(
                    "/search?q={word}&room_id={}&limit=20",
                    world.rooms[user.room].id
                )
            } else {
                format!("/search?q={word}&limit=20")
            };
            stats.searches.fetch_add(1, Ordering::Relaxed);
            match rest
                .call(&user.token, reqwest::Method::GET, &path, None)
                .await
            {
                Ok(_) => stats.search.record(at.elapsed()),
                Err(e) => stats.error(&code_of(&e)),
            }
        }
    };
    open_loop(&stats, rate, end, job).await;
}

#[cfg(test)]
mod tests {
    use super::loopback_only;

    #[test]
    fn only_loopback_is_accepted() {
        assert!(loopback_only("http://127.0.0.1:3000").is_ok());
        assert!(loopback_only("http://localhost:3000/").is_ok());
        assert!(loopback_only("http://[::1]:3000").is_ok());
        assert!(loopback_only("http://10.0.0.1:3000").is_err());
        assert!(loopback_only("http://example.com").is_err());
        assert!(loopback_only("https://127.0.0.1:3000").is_err());
        let (_, ws) = loopback_only("http://127.0.0.1:3000/").unwrap();
        assert_eq!(ws, "ws://127.0.0.1:3000/v1/ws");
    }
}
