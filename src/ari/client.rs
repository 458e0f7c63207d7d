//! A thin ARI HTTP client: one keep-alive reqwest client with Basic auth, requests described
//! as data (so rendering can be tested without a network) and replies reduced to a status and
//! a body.

use std::time::Duration;

use reqwest::Method;
use thiserror::Error;

/// One ARI request: the method, the path below `/ari` (segments already checked), query
/// parameters (URL-encoded when sent) and an optional JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct AriRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
}

impl AriRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path)
    }

    pub fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The value of a query parameter.
    #[cfg(test)]
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What ARI answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AriReply {
    pub status: u16,
    /// The reason phrase as we know it (reqwest does not keep Asterisk's own) and the body.
    pub body: String,
}

impl AriReply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `<status line> <message>`, as `CommandFailed` reports a refusal.
    pub fn failure_text(&self) -> String {
        let reason = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let message = serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("error"))
                    .and_then(|m| m.as_str().map(str::to_owned))
            })
            .unwrap_or_else(|| self.body.chars().take(200).collect());
        format!("{} {reason} {message}", self.status)
            .trim()
            .to_owned()
    }
}

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("ARI request failed: {0}")]
    Transport(String),
}

/// The HTTP side of one switch.
#[derive(Clone)]
pub struct AriClient {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl AriClient {
    /// `url` is where ARI answers, without `/ari` (`http://127.0.0.1:8088`).
    pub fn new(url: &str, user: &str, password: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            base: format!("{}/ari", url.trim_end_matches('/')),
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }

    pub async fn send(&self, request: &AriRequest) -> Result<AriReply, ClientError> {
        let url = format!("{}{}", self.base, request.path);
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .basic_auth(&self.user, Some(&self.password));
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        builder = match &request.body {
            Some(body) => builder.json(body),
            // Asterisk wants a Content-Length on every POST/PUT (README: timeline).
            None if request.method == Method::POST || request.method == Method::PUT => {
                builder.header(reqwest::header::CONTENT_LENGTH, "0")
            }
            None => builder,
        };
        let response = builder
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(AriReply { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_status_and_message() {
        let reply = AriReply {
            status: 404,
            body: r#"{"message":"Channel not found"}"#.into(),
        };
        assert_eq!(reply.failure_text(), "404 Not Found Channel not found");
        let allocation = AriReply {
            status: 500,
            body: r#"{"error":"Allocation failed"}"#.into(),
        };
        assert_eq!(
            allocation.failure_text(),
            "500 Internal Server Error Allocation failed"
        );
    }
}
