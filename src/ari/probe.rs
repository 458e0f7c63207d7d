//! Short questions to an Asterisk for `switchboard doctor`: who it is, what is loaded, which
//! endpoints are online, which sounds and stored recordings it has.
//!
//! Separate from `link` for the same reason as `esl::probe`: the doctor wants no retries, no
//! WebSocket and every way of failing kept apart, since each has its own fix. The answers'
//! shapes are the captures' (`connect`: `/asterisk/info`, `/endpoints`, `/sounds`, a 401 for
//! wrong credentials; `record` and `errors`: `/recordings/stored/{name}`), except `/asterisk/modules`,
//! which no capture shows (read from `res/ari/resource_asterisk.c`: an array of objects with
//! `name` and `status`).

use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

use super::client::{AriClient, AriRequest};
use super::media::{media_of, Media};

/// Why the doctor could not get an answer.
#[derive(Debug, Error)]
pub enum AriProbeError {
    /// Nothing answered HTTP there (refused, timed out, unresolvable).
    #[error("no HTTP answer from {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// `401`: the user or password is not one of `ari.conf`'s.
    #[error("ARI refused the user {user:?} (401 Unauthorized)")]
    WrongCredentials { user: String },
    /// Any other answer than the one asked for.
    #[error("{path} answered {status}: {text}")]
    Refused {
        path: String,
        status: u16,
        text: String,
    },
    /// A 2xx whose body is not what ARI sends.
    #[error("{path} answered something that is not ARI's JSON: {reason}")]
    Unexpected { path: String, reason: String },
}

/// `GET /asterisk/info`, reduced to what the doctor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsteriskInfo {
    /// `system.version`, e.g. `22.10.1`.
    pub version: String,
}

impl AsteriskInfo {
    /// The major version (`22` of `22.10.1`), when the version starts with one.
    pub fn major(&self) -> Option<u32> {
        self.version.split('.').next()?.parse().ok()
    }
}

/// One loaded module (`GET /asterisk/modules`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedModule {
    /// Without `.so`.
    pub name: String,
    /// `Running` when usable.
    pub status: String,
}

/// An authenticated HTTP client to one Asterisk's ARI.
pub struct AriProbe {
    client: AriClient,
    url: String,
    user: String,
    timeout: Duration,
}

impl AriProbe {
    /// `url` is where ARI answers, without `/ari`.
    pub fn new(
        url: &str,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Self, AriProbeError> {
        let client =
            AriClient::new(url, user, password).map_err(|e| AriProbeError::Unreachable {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(AriProbe {
            client,
            url: url.to_owned(),
            user: user.to_owned(),
            timeout,
        })
    }

    async fn get(&self, path: &str) -> Result<Option<Value>, AriProbeError> {
        let request = AriRequest::get(path);
        let reply = tokio::time::timeout(self.timeout, self.client.send(&request))
            .await
            .map_err(|_| AriProbeError::Unreachable {
                url: self.url.clone(),
                reason: format!("no answer within {:?}", self.timeout),
            })?
            .map_err(|e| AriProbeError::Unreachable {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        match reply.status {
            401 => Err(AriProbeError::WrongCredentials {
                user: self.user.clone(),
            }),
            404 => Ok(None),
            s if (200..300).contains(&s) => {
                serde_json::from_str(&reply.body)
                    .map(Some)
                    .map_err(|e| AriProbeError::Unexpected {
                        path: path.to_owned(),
                        reason: e.to_string(),
                    })
            }
            status => Err(AriProbeError::Refused {
                path: path.to_owned(),
                status,
                text: reply.failure_text(),
            }),
        }
    }

    async fn get_found(&self, path: &str) -> Result<Value, AriProbeError> {
        self.get(path).await?.ok_or_else(|| AriProbeError::Refused {
            path: path.to_owned(),
            status: 404,
            text: "404 Not Found".into(),
        })
    }

    /// A resource that answers a JSON array.
    async fn list(&self, path: &str) -> Result<Vec<Value>, AriProbeError> {
        match self.get_found(path).await? {
            Value::Array(items) => Ok(items),
            _ => Err(Self::unexpected(path, "not an array")),
        }
    }

    fn unexpected(path: &str, reason: &str) -> AriProbeError {
        AriProbeError::Unexpected {
            path: path.to_owned(),
            reason: reason.to_owned(),
        }
    }

    pub async fn info(&self) -> Result<AsteriskInfo, AriProbeError> {
        let path = "/asterisk/info";
        let info = self.get_found(path).await?;
        let version = info
            .pointer("/system/version")
            .and_then(Value::as_str)
            .ok_or_else(|| Self::unexpected(path, "no system.version"))?;
        Ok(AsteriskInfo {
            version: version.to_owned(),
        })
    }

    /// The loaded modules; `None` when this Asterisk has no such resource.
    pub async fn modules(&self) -> Result<Option<Vec<LoadedModule>>, AriProbeError> {
        let path = "/asterisk/modules";
        let Some(list) = self.get(path).await? else {
            return Ok(None);
        };
        let list = list
            .as_array()
            .ok_or_else(|| Self::unexpected(path, "not an array"))?;
        Ok(Some(
            list.iter()
                .filter_map(|m| {
                    let name = m.get("name")?.as_str()?;
                    Some(LoadedModule {
                        name: name.trim_end_matches(".so").to_owned(),
                        status: m.get("status")?.as_str().unwrap_or_default().to_owned(),
                    })
                })
                .collect(),
        ))
    }

    /// The PJSIP endpoints that are `online` (a contact registered, or a static one).
    pub async fn online_endpoints(&self) -> Result<Vec<String>, AriProbeError> {
        Ok(self
            .list("/endpoints")
            .await?
            .iter()
            .filter(|e| e.get("technology").and_then(Value::as_str) == Some("PJSIP"))
            .filter(|e| e.get("state").and_then(Value::as_str) == Some("online"))
            .filter_map(|e| e.get("resource").and_then(Value::as_str))
            .map(str::to_owned)
            .collect())
    }

    /// The ids of the sounds Asterisk has, in any language.
    pub async fn sounds(&self) -> Result<Vec<String>, AriProbeError> {
        Ok(self
            .list("/sounds")
            .await?
            .iter()
            .filter_map(|s| s.get("id").and_then(Value::as_str))
            .map(str::to_owned)
            .collect())
    }

    /// Whether Asterisk has a stored recording `name` (a path below its recording folder,
    /// without extension).
    pub async fn has_stored_recording(&self, name: &str) -> Result<bool, AriProbeError> {
        let segment = name.replace('/', "%2F");
        Ok(self
            .get(&format!("/recordings/stored/{segment}"))
            .await?
            .is_some())
    }
}

/// How Asterisk would play a prompt given as `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptOnAsterisk {
    /// A sound of Asterisk's sounds folder, by id (`ivr/ivr-welcome` for `ivr/ivr-welcome.wav`).
    Sound(String),
    /// An absolute file, which `/sounds` does not list.
    AbsoluteFile(String),
    /// A music class (`local_stream://…`).
    MusicClass(String),
    /// A tone or silence, nothing to install.
    Tone,
    /// Not playable on Asterisk (the adapter refuses it).
    Refused,
}

/// What `source` (a prompt or hold music as the config gives it) needs on an Asterisk.
pub fn prompt_on_asterisk(source: &str) -> PromptOnAsterisk {
    match media_of(source) {
        Ok(Media::Moh(class)) => PromptOnAsterisk::MusicClass(class),
        Ok(Media::Uri(uri)) => match uri.strip_prefix("sound:") {
            Some(path) if path.starts_with('/') => PromptOnAsterisk::AbsoluteFile(path.to_owned()),
            Some(id) => PromptOnAsterisk::Sound(id.to_owned()),
            None => PromptOnAsterisk::Tone,
        },
        Err(_) => PromptOnAsterisk::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_read_as_sounds_classes_tones_or_refused() {
        assert_eq!(
            prompt_on_asterisk("ivr/ivr-welcome.wav"),
            PromptOnAsterisk::Sound("ivr/ivr-welcome".into())
        );
        assert_eq!(
            prompt_on_asterisk("/srv/prompts/hello.wav"),
            PromptOnAsterisk::AbsoluteFile("/srv/prompts/hello".into())
        );
        assert_eq!(
            prompt_on_asterisk("local_stream://moh"),
            PromptOnAsterisk::MusicClass("default".into())
        );
        assert_eq!(
            prompt_on_asterisk("tone_stream://%(200,0,440)"),
            PromptOnAsterisk::Tone
        );
        assert_eq!(
            prompt_on_asterisk("silence_stream://500"),
            PromptOnAsterisk::Tone
        );
        assert_eq!(
            prompt_on_asterisk("a.wav;hangup"),
            PromptOnAsterisk::Refused
        );
    }

    #[test]
    fn the_major_version_is_read_from_the_version() {
        let info = AsteriskInfo {
            version: "22.10.1".into(),
        };
        assert_eq!(info.major(), Some(22));
        let odd = AsteriskInfo {
            version: "GIT-master-abc".into(),
        };
        assert_eq!(odd.major(), None);
    }
}
