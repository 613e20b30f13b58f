//! The app's own pages: home, sign-up, sign-in and sign-out, as an app has them before it adds
//! chat. Sessions are tower-sessions cookies; users are rows of the app's `users` table. The
//! only chat call here is admitting a user who signs in to the team's event.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use sqlx::PgPool;
use tower_sessions::Session;

use crate::chat::{Chat, MOUNT, SESSION_USER};

/// What the pages need.
#[derive(Debug, Clone)]
pub(crate) struct App {
    /// The app's database.
    pub(crate) db: PgPool,
    /// Chat, for admitting users.
    pub(crate) chat: Arc<Chat>,
}

/// The app's pages.
pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/signup", get(signup_form).post(signup))
        .route("/logout", post(logout))
        .with_state(app)
}

async fn home(State(app): State<App>, session: Session) -> Response {
    let Some(user) = signed_in(&session).await else {
        return page(
            "Welcome",
            r#"<p><a href="/login">Sign in</a> or <a href="/signup">sign up</a>.</p>"#,
        );
    };
    let name: Option<(String,)> = sqlx::query_as("SELECT display_name FROM users WHERE id = $1")
        .bind(user)
        .fetch_optional(&app.db)
        .await
        .unwrap_or(None);
    let name = name.map_or_else(String::new, |(n,)| escape(&n));
    page(
        "Home",
        &format!(
            r#"<p id="greeting">Hello, {name}.</p>
<p><a id="open-chat" href="{MOUNT}/">Open the team chat</a></p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>"#
        ),
    )
}

#[derive(Debug, Deserialize)]
struct Next {
    next: Option<String>,
}

async fn login_form(Query(next): Query<Next>) -> Response {
    login_page(&safe_next(next.next.as_deref()), "")
}

fn login_page(next: &str, error: &str) -> Response {
    page(
        "Sign in",
        &format!(
            r#"<form method="post" action="/login">
<input type="hidden" name="next" value="{}">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<p class="error" role="alert">{}</p>
<button type="submit">Sign in</button>
</form>
<p>No account? <a href="/signup">Sign up</a></p>"#,
            escape(next),
            escape(error)
        ),
    )
}

#[derive(Debug, Deserialize)]
struct Login {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login(State(app): State<App>, session: Session, Form(form): Form<Login>) -> Response {
    let next = safe_next(form.next.as_deref());
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
            .bind(form.username.trim())
            .fetch_optional(&app.db)
            .await
            .unwrap_or(None);
    let password = form.password;
    let verified = match row {
        Some((id, hash)) => tokio::task::spawn_blocking(move || {
            let ok = PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            });
            ok.then_some(id)
        })
        .await
        .unwrap_or(None),
        None => None,
    };
    let Some(user) = verified else {
        return login_page(&next, "Wrong username or password.");
    };
    start_session(&app, &session, user, &next).await
}

async fn signup_form() -> Response {
    signup_page("")
}

fn signup_page(error: &str) -> Response {
    page(
        "Sign up",
        &format!(
            r#"<form method="post" action="/signup">
<label>Username <input name="username" autocomplete="username" required pattern="[a-z0-9_]{{2,32}}"></label>
<label>Your name <input name="display_name" autocomplete="nickname" required maxlength="64"></label>
<label>Password <input name="password" type="password" autocomplete="new-password" required minlength="8"></label>
<p class="error" role="alert">{}</p>
<button type="submit">Sign up</button>
</form>"#,
            escape(error)
        ),
    )
}

#[derive(Debug, Deserialize)]
struct Signup {
    username: String,
    display_name: String,
    password: String,
}

async fn signup(State(app): State<App>, session: Session, Form(form): Form<Signup>) -> Response {
    let username = form.username.trim().to_ascii_lowercase();
    let display_name = form.display_name.trim().to_owned();
    let valid_name = (2..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_name || username == "team" {
        return signup_page("Usernames are 2 to 32 of a-z, 0-9 and _.");
    }
    if display_name.is_empty() || display_name.chars().count() > 64 {
        return signup_page("Your name is 1 to 64 characters.");
    }
    if form.password.len() < 8 {
        return signup_page("Passwords are at least 8 characters.");
    }
    let password = form.password;
    let hash = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
            .map(|h| h.to_string())
    })
    .await;
    let Ok(Ok(hash)) = hash else {
        return signup_page("Something went wrong; please try again.");
    };
    let created: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO users (username, display_name, password_hash) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(&username)
    .bind(&display_name)
    .bind(hash)
    .fetch_one(&app.db)
    .await;
    match created {
        Ok((user,)) => start_session(&app, &session, user, &format!("{MOUNT}/")).await,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            signup_page("That username is taken.")
        }
        Err(e) => {
            tracing::warn!(error = %e, "sign-up failed");
            signup_page("Something went wrong; please try again.")
        }
    }
}

/// Signs `user` in: a new session id (no fixation), their id in it, and a place in the team's
/// chat.
async fn start_session(app: &App, session: &Session, user: i64, next: &str) -> Response {
    let stored = match session.cycle_id().await {
        Ok(()) => session.insert(SESSION_USER, user).await,
        Err(e) => Err(e),
    };
    if let Err(e) = stored {
        tracing::warn!(error = %e, "the session could not be stored");
        return login_page(next, "Something went wrong; please try again.");
    }
    if let Err(e) = app.chat.admit(user).await {
        tracing::warn!(error = %e, "could not add the user to the team's chat");
    }
    Redirect::to(next).into_response()
}

async fn logout(session: Session) -> Redirect {
    if let Err(e) = session.flush().await {
        tracing::warn!(error = %e, "the session could not be deleted");
    }
    Redirect::to("/login")
}

async fn signed_in(session: &Session) -> Option<i64> {
    session.get(SESSION_USER).await.ok().flatten()
}

/// Where to go after signing in: a path of this app, never another site (`//evil.example`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Host app</title></head>
<body><header><strong>Host app</strong></header><main><h1>{title}</h1>
{body}
</main></body></html>"#
    ))
    .into_response()
}

/// `text` for HTML text and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
