//! How database failures become [`chat_core::Error`]s. The source is always kept.

use chat_core::Error;
use sqlx::error::ErrorKind;

/// Maps a sqlx error: lost connections and overload are `Unavailable` (retryable), a unique
/// violation is `Conflict`, anything else `Internal`.
pub(crate) fn db_err(err: sqlx::Error) -> Error {
    match &err {
        sqlx::Error::Database(db) => {
            if db.kind() == ErrorKind::UniqueViolation {
                return Error::conflict(format!(
                    "already exists ({})",
                    db.constraint().unwrap_or("unique constraint")
                ));
            }
            let code = db.code().unwrap_or_default();
            // Class 08: connection exceptions; 53: insufficient resources; 57P0x: the server is
            // shutting down or starting; 40001/40P01: serialization failure and deadlock, which
            // the caller may retry. 3D000 (the database does not exist) and class 28 (the role
            // may not connect) are the deployment's fault, not the request's: the service is
            // unavailable until an operator fixes it, and nothing about it reaches the client.
            let retryable = code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code.starts_with("28")
                || code == "3D000"
                || code == "40001"
                || code == "40P01";
            if retryable {
                Error::unavailable(err)
            } else {
                Error::internal(err)
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => Error::unavailable(err),
        _ => Error::internal(err),
    }
}

/// Maps a foreign-key violation on `constraint` to `NotFound { what }`, and anything else as
/// [`db_err`] does.
pub(crate) fn fk_as_not_found(err: sqlx::Error, cases: &[(&str, &'static str)]) -> Error {
    if let sqlx::Error::Database(db) = &err
        && db.kind() == ErrorKind::ForeignKeyViolation
    {
        let constraint = db.constraint().unwrap_or_default();
        for (name, what) in cases {
            if constraint == *name {
                return Error::NotFound { what };
            }
        }
    }
    db_err(err)
}
