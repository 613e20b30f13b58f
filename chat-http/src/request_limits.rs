//! Bounds on a request's head, answered with the JSON error envelope.
//!
//! This layer refuses, first and in JSON, what hyper can parse but the server will not serve:
//! a URI over [`MAX_URI_BYTES`] (414) and more than [`MAX_HEADERS`] header lines (431). What
//! hyper cannot parse at all (a URI over 64 KiB, a header section over its buffer) never
//! becomes a request; `serve` gives hyper's own answer to it the JSON envelope.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::error_response;

/// Longest request URI (path and query) served. 8 KiB is what common proxies allow; no route
/// of this API needs more.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Most header lines in a request. Browsers send about twenty.
pub const MAX_HEADERS: usize = 100;

/// The middleware: see the [module docs](self).
pub(crate) async fn enforce(req: Request, next: Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return error_response(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            &format!("the request URI is {uri_len} bytes; at most {MAX_URI_BYTES}"),
        );
    }
    if req.headers().len() > MAX_HEADERS {
        return error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            &format!("at most {MAX_HEADERS} header lines"),
        );
    }
    next.run(req).await
}
