//! RFC 9457 problem details: the one error shape of the REST API.

use axum::http::{header, StatusCode};
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

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "/problems/unavailable",
            "Unavailable",
            detail,
        )
    }
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
