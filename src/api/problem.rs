//! RFC 9457 problem details: the one error shape of the REST API.

use axum::extract::rejection::JsonRejection;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;
use tracing::error;

/// A refusal or a failure, as RFC 9457 problem details (`application/problem+json`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The request field that was refused (`skills[1]`, `dial_string`), when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a file that was refused (a flow): `file` and `line` members. Boxed: rare, and
    /// every handler's `Result` carries a `Problem`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub location: Option<Box<FileLocation>>,
}

/// Where in a file on the server a refused value is.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FileLocation {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Problem {
    /// A problem of its own `type`, for refusals clients tell apart.
    pub(super) fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            title,
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            location: None,
        }
    }

    /// A file on the server that does not pass its checks (a flow on reload): `detail` reads
    /// `file:line: key: message`, and `file`, `line` and `field` (the key) say it apart.
    pub fn invalid_file(error: &crate::config::ConfigError) -> Self {
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-file",
            "Invalid file",
            error.to_string(),
        );
        problem.location = Some(Box::new(FileLocation {
            file: error.file.display().to_string(),
            line: error.line,
        }));
        problem.field = (!error.key.is_empty()).then(|| error.key.clone());
        problem
    }

    /// A well-formed request with a value we refuse; `field` names it, and so does `detail`.
    pub fn invalid(field: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        let field = field.into();
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-field",
            "Invalid field",
            format!("{field}: {detail}"),
        );
        problem.field = Some(field);
        problem
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "/problems/not-found",
            "Not found",
            detail,
        )
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "/problems/bad-request",
            "Bad request",
            detail,
        )
    }

    /// No token, or one we do not know (the caller adds `WWW-Authenticate`).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "/problems/unauthorized",
            "Unauthorized",
            detail,
        )
    }

    /// A valid token whose role does not allow the request.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "/problems/forbidden",
            "Forbidden",
            detail,
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "/problems/conflict",
            "Conflict",
            detail,
        )
    }

    /// Logs the cause with its chain; the client sees only that something failed on our side.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        error!(cause = %chain, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "/problems/internal",
            "Internal error",
            "the request could not be completed; the cause is in the server log",
        )
    }

    /// A refusal of the framework's own (a path parameter or query string that does not
    /// parse, a body over the limit or not JSON, a method the route does not have), with its
    /// status kept.
    pub fn rejected(status: StatusCode, detail: impl Into<String>) -> Self {
        let (kind, title) = kind_of(status);
        Self::new(status, kind, title, detail)
    }

    /// A JSON body a handler could not take: one over the limit (413) or not sent as JSON
    /// (415) keeps its status; one that is not the JSON asked for is a 400, as ever.
    pub fn bad_body(rejection: &JsonRejection, detail: impl Into<String>) -> Self {
        match rejection.status() {
            status @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => {
                Self::rejected(status, detail)
            }
            _ => Self::bad_request(detail),
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "/problems/unavailable",
            "Unavailable",
            detail,
        )
    }
}

/// The `type` and `title` of a problem with this status and nothing more specific to say.
fn kind_of(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("/problems/bad-request", "Bad request"),
        StatusCode::UNAUTHORIZED => ("/problems/unauthorized", "Unauthorized"),
        StatusCode::FORBIDDEN => ("/problems/forbidden", "Forbidden"),
        StatusCode::NOT_FOUND => ("/problems/not-found", "Not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("/problems/method-not-allowed", "Method not allowed"),
        StatusCode::CONFLICT => ("/problems/conflict", "Conflict"),
        StatusCode::PAYLOAD_TOO_LARGE => ("/problems/too-large", "Content too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("/problems/unsupported-media-type", "Unsupported media type")
        }
        StatusCode::UNPROCESSABLE_ENTITY => ("/problems/unprocessable", "Unprocessable content"),
        StatusCode::INTERNAL_SERVER_ERROR => ("/problems/internal", "Internal error"),
        StatusCode::SERVICE_UNAVAILABLE => ("/problems/unavailable", "Unavailable"),
        // RFC 9457 §4.2.1: no more to say than the status.
        other => ("about:blank", other.canonical_reason().unwrap_or("Error")),
    }
}

/// The longest error body of the framework's read back into a problem's `detail`.
const MAX_PLAIN_DETAIL: usize = 1024;

/// The outermost layer: an error response that is not already problem details (one axum
/// made: a `Path`, `Query` or body rejection in a handler that takes it plainly, the 413 of
/// the body limit, the 405 of a route without the method) becomes one, with its status and
/// headers (`Allow`, `WWW-Authenticate`) kept and its text as the `detail`.
pub(super) async fn problems_only(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_PLAIN_DETAIL)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if !text.is_empty() {
        text
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        let allowed = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        format!("{method} is not allowed on this path; allowed: {allowed}")
    } else {
        format!(
            "{method} {}: {}",
            path.chars().take(200).collect::<String>(),
            status.canonical_reason().unwrap_or("error")
        )
    };
    let mut problem = Problem::rejected(status, detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    problem
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}
