//! A worked example of a bot on chat-engine: it follows the change feed (`POST /v1/feed`,
//! long-polled) and
//! - answers each mention of itself with a summary of the room's last messages: who wrote how
//!   many, and the words used most;
//! - answers `/poll Question? | A | B` with a poll (a structured message, see
//!   `chat_core::poll`) that members vote in.
//!
//! No model: counting is enough to show the loop every bot or AI feature runs: read the
//! conversation, write back into it.
//!
//! ```sh
//! # an event owner or admin makes the bot and gets its token:
//! curl -X POST http://127.0.0.1:3000/v1/events/$EVENT/bots -H "Authorization: Bearer $TOKEN" \
//!      -H 'Content-Type: application/json' -d '{"display_name": "Summary Bot", "room_ids": ["…"]}'
//! cargo run --example bot -- --url http://127.0.0.1:3000 --token $BOT_TOKEN
//! ```
//!
//! It keeps its feed cursor in `--state` after each page, so a restart resumes where it was.
//! Delivery is at least once: each answer carries `client_msg_id = summary-{message id}` (or
//! `poll-{message id}`), so answering a message twice posts once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(about = "A chat-engine bot that summarises a room when mentioned, and makes polls")]
struct Args {
    /// The server's base URL.
    #[arg(long, env = "CHAT_URL", default_value = "http://127.0.0.1:3000")]
    url: String,
    /// The bot's bearer token (from `POST /v1/events/{id}/bots`).
    #[arg(long, env = "CHAT_BOT_TOKEN", hide_env_values = true)]
    token: String,
    /// Where the feed cursor is kept between runs.
    #[arg(long, default_value = "bot-cursor.json")]
    state: PathBuf,
    /// How many of the room's latest messages a summary covers.
    #[arg(long, default_value_t = 20)]
    last: u32,
}

struct Bot {
    http: reqwest::Client,
    api: String,
    token: String,
    me: String,
    last: u32,
}

impl Bot {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(format!("{path}: {status} {value}"))
        }
    }

    /// Handles one change: a `/poll` command gets its poll, a new message that mentions the
    /// bot gets a summary in reply.
    async fn handle(&self, change: &Value) -> Result<(), String> {
        let message = &change["data"];
        if change["kind"] != "message_posted"
            || message["author_id"] == self.me.as_str()
            || message["is_deleted"] == true
        {
            return Ok(());
        }
        let room = message["room_id"].as_str().unwrap_or_default();
        let id = message["id"].as_str().unwrap_or_default();
        if let Some(command) = parse_poll(message["text"].as_str().unwrap_or_default()) {
            return self.answer_poll(room, id, command).await;
        }
        let mentions_me = message["mentions"]
            .as_array()
            .is_some_and(|m| m.iter().any(|id| id == self.me.as_str()));
        if !mentions_me {
            return Ok(());
        }
        let page = self
            .call(
                reqwest::Method::GET,
                &format!("/rooms/{room}/messages?limit={}", self.last),
                None,
            )
            .await?;
        let text = summarise(
            page["messages"].as_array().map_or(&[][..], Vec::as_slice),
            &self.me,
        );
        self.call(
            reqwest::Method::POST,
            &format!("/rooms/{room}/messages"),
            Some(json!({"text": text, "reply_to": id, "client_msg_id": format!("summary-{id}")})),
        )
        .await?;
        println!("answered {id}");
        Ok(())
    }

    /// Posts the poll a `/poll` command asked for, in reply to it; a command the bot cannot
    /// read, or the server refuses (two options alike, say), gets the reason instead.
    async fn answer_poll(
        &self,
        room: &str,
        id: &str,
        command: Result<(String, Vec<String>), String>,
    ) -> Result<(), String> {
        let path = format!("/rooms/{room}/messages");
        let key = format!("poll-{id}");
        let refusal = match command {
            Ok((question, options)) => {
                let poll = json!({
                    "text": question,
                    "payload": {"kind": "poll", "data": {"options": options}},
                    "reply_to": id,
                    "client_msg_id": key,
                });
                match self.call(reqwest::Method::POST, &path, Some(poll)).await {
                    Ok(_) => {
                        println!("made a poll for {id}");
                        return Ok(());
                    }
                    // Bad input is the asker's to fix; anything else is the bot's to retry.
                    Err(e) if e.contains(" 400 ") => format!("I could not make that poll: {e}"),
                    Err(e) => return Err(e),
                }
            }
            Err(usage) => usage,
        };
        let reply = json!({"text": refusal, "reply_to": id, "client_msg_id": key});
        self.call(reqwest::Method::POST, &path, Some(reply)).await?;
        Ok(())
    }
}

/// Reads `/poll Question? | A | B`: the question and the options, or why not. `None` for a
/// message that is not a `/poll` command.
fn parse_poll(text: &str) -> Option<Result<(String, Vec<String>), String>> {
    let rest = text.trim_start().strip_prefix("/poll")?;
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let mut parts = rest.split('|').map(str::trim);
    let question = parts.next().unwrap_or_default().to_owned();
    let options: Vec<String> = parts.filter(|o| !o.is_empty()).map(str::to_owned).collect();
    if question.is_empty() || options.len() < 2 {
        return Some(Err(
            "To make a poll: /poll Question? | first option | second option".to_owned(),
        ));
    }
    Some(Ok((question, options)))
}

/// Who wrote how many of `messages`, and the five words used most (four letters or more,
/// mentions left out), leaving the bot's own messages out.
fn summarise(messages: &[Value], me: &str) -> String {
    let mut authors: Vec<(String, usize)> = Vec::new();
    let mut words: HashMap<String, usize> = HashMap::new();
    let mut counted = 0;
    for m in messages
        .iter()
        .filter(|m| m["author_id"] != me && m["is_deleted"] != true)
    {
        counted += 1;
        let name = m["author_name"].as_str().unwrap_or("someone").to_owned();
        match authors.iter_mut().find(|(n, _)| *n == name) {
            Some((_, n)) => *n += 1,
            None => authors.push((name, 1)),
        }
        let text = m["text"].as_str().unwrap_or_default();
        for word in text.split(|c: char| !c.is_alphanumeric() && c != '@' && c != '[' && c != ']') {
            if word.chars().count() >= 4 && !word.starts_with('@') && !word.contains(['[', ']']) {
                *words.entry(word.to_lowercase()).or_default() += 1;
            }
        }
    }
    if counted == 0 {
        return "Nothing to summarise yet.".into();
    }
    authors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut top: Vec<(String, usize)> = words.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let who: Vec<String> = authors.iter().map(|(n, c)| format!("{n} {c}")).collect();
    let what: Vec<String> = top
        .iter()
        .take(5)
        .map(|(w, c)| format!("{w} ({c})"))
        .collect();
    format!(
        "Summary of the last {counted} messages: {}. Most used words: {}.",
        who.join(", "),
        if what.is_empty() {
            "none".into()
        } else {
            what.join(", ")
        }
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()?;
    let mut bot = Bot {
        http,
        api: format!("{}/v1", args.url.trim_end_matches('/')),
        token: args.token,
        me: String::new(),
        last: args.last,
    };
    let me = bot.call(reqwest::Method::GET, "/me", None).await?;
    bot.me = me["id"].as_str().unwrap_or_default().to_owned();

    // The cursor of the last run, or "now".
    let mut cursor = match std::fs::read_to_string(&args.state) {
        Ok(saved) => serde_json::from_str(&saved)?,
        Err(_) => bot
            .call(reqwest::Method::POST, "/feed", Some(json!({})))
            .await?["cursor"]
            .clone(),
    };
    // Said once the cursor is set: from here on no message is missed (a message sent before
    // "now" was taken would be, and the browser test waits for this line).
    println!("bot {} ({}) following the feed", me["display_name"], bot.me);
    let mut backoff = Duration::from_millis(500);
    loop {
        let page = match bot
            .call(
                reqwest::Method::POST,
                "/feed",
                Some(json!({"cursor": cursor, "wait_ms": 25_000})),
            )
            .await
        {
            Ok(page) => page,
            Err(e) => {
                eprintln!("feed: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = Duration::from_millis(500);
        let mut handled = true;
        for change in page["changes"].as_array().into_iter().flatten() {
            if let Err(e) = bot.handle(change).await {
                // The cursor stays before this page: it is read again (at least once).
                eprintln!("answering: {e}");
                handled = false;
                tokio::time::sleep(Duration::from_secs(1)).await;
                break;
            }
        }
        if handled {
            cursor = page["cursor"].clone();
            std::fs::write(&args.state, serde_json::to_string(&cursor)?)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_count_authors_and_words() {
        let messages = vec![
            json!({"author_id": "a", "author_name": "Sarah", "text": "lake trip on saturday"}),
            json!({"author_id": "b", "author_name": "Tom", "text": "the lake is cold @[Bot](x)"}),
            json!({"author_id": "a", "author_name": "Sarah", "text": "bring towels to the lake"}),
            json!({"author_id": "me", "author_name": "Bot", "text": "lake lake lake"}),
            json!({"author_id": "b", "author_name": "Tom", "text": "gone", "is_deleted": true}),
        ];
        assert_eq!(
            summarise(&messages, "me"),
            "Summary of the last 3 messages: Sarah 2, Tom 1. Most used words: lake (3), bring (1), cold (1), saturday (1), towels (1)."
        );
        assert_eq!(summarise(&[], "me"), "Nothing to summarise yet.");
    }

    #[test]
    fn poll_commands_are_read_or_explained() {
        assert_eq!(
            parse_poll("/poll Where to eat? | Lake | Hills |  "),
            Some(Ok((
                "Where to eat?".to_owned(),
                vec!["Lake".to_owned(), "Hills".to_owned()]
            )))
        );
        assert!(matches!(parse_poll("/poll Where? | Lake"), Some(Err(_))));
        assert!(matches!(parse_poll("/poll"), Some(Err(_))));
        assert_eq!(parse_poll("/polls are fun | a | b"), None);
        assert_eq!(parse_poll("let us /poll | a | b"), None);
    }
}
