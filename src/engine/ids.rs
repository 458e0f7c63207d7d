//! Our own identities, distinct from FreeSWITCH's channel UUIDs and switch names.
//!
//! A call keeps its `CallId` across every channel it uses; agents, queues and the other
//! provisioned things are named by admins, so their ids are validated strings.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} {value:?} is too long (at most {max} characters)")]
    TooLong {
        kind: &'static str,
        value: String,
        max: usize,
    },
    #[error("{kind} {value:?} may only contain letters, digits, '-', '_' and '.'")]
    BadCharacter { kind: &'static str, value: String },
    #[error("{value:?} is not a valid {kind}")]
    Malformed { kind: &'static str, value: String },
}

/// The characters allowed in provisioned names: safe in URLs, SQL, ESL channel variables and
/// dial-string values without any quoting.
fn validate_name(kind: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > max {
        return Err(IdError::TooLong {
            kind,
            value: value.to_owned(),
            max,
        });
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(IdError::BadCharacter {
            kind,
            value: value.to_owned(),
        });
    }
    Ok(())
}

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                validate_name($kind, &value, 64)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

name_id!(
    /// An agent, as provisioned (for example their agent number).
    AgentId,
    "agent id"
);
name_id!(
    /// A queue, as provisioned.
    QueueId,
    "queue id"
);
name_id!(
    /// A skill, as provisioned.
    SkillId,
    "skill id"
);
name_id!(
    /// An IVR flow, as provisioned.
    FlowId,
    "flow id"
);
name_id!(
    /// A FreeSWITCH server, by the name given in the config.
    SwitchName,
    "switch name"
);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(uuid::Uuid);

        impl $name {
            pub fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }

            pub fn parse(value: &str) -> Result<Self, IdError> {
                uuid::Uuid::parse_str(value)
                    .map(Self)
                    .map_err(|_| IdError::Malformed {
                        kind: $kind,
                        value: value.to_owned(),
                    })
            }

            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(
    /// One call, from the moment it reaches the controller until it ends, whatever channels it uses.
    CallId,
    "call id"
);
uuid_id!(
    /// A recording.
    RecordingId,
    "recording id"
);

/// A channel on a switch: a FreeSWITCH UUID, or an Asterisk channel id (`1796607560.3`,
/// `<systemname>-1796607560.3`, or an id we chose ourselves). Validated so it can go into an ESL
/// command line or an ARI URL path as is: letters, digits and `._-` only, nothing that can end a
/// command line, start another argument or leave a path segment. UUIDs are kept hyphenated and
/// lower-case, so one channel has one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelId(String);

impl ChannelId {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        if let Ok(u) = uuid::Uuid::parse_str(value) {
            return Ok(Self(u.hyphenated().to_string()));
        }
        let safe = !value.is_empty()
            && value.len() <= 128
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if safe {
            Ok(Self(value.to_owned()))
        } else {
            Err(IdError::Malformed {
                kind: "channel id",
                value: value.to_owned(),
            })
        }
    }

    pub fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(uuid.hyphenated().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChannelId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::parse(&value)
    }
}

impl From<ChannelId> for String {
    fn from(id: ChannelId) -> String {
        id.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reject_characters_that_could_reach_a_command_line() {
        for bad in ["a b", "a\nb", "a,b", "{x}", "a'b", "", "a/b"] {
            assert!(AgentId::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(QueueId::new("support-tier_2.en").is_ok());
    }

    #[test]
    fn channel_ids_are_uuids_or_asterisk_ids_and_nothing_that_reaches_a_command_line() {
        assert!(ChannelId::parse("82b63871-1946-4fc7-963b-b5675def037e").is_ok());
        assert_eq!(
            ChannelId::parse("82B63871-1946-4FC7-963B-B5675DEF037E")
                .expect("uuid")
                .as_str(),
            "82b63871-1946-4fc7-963b-b5675def037e"
        );
        assert!(ChannelId::parse("1796607560.3").is_ok());
        assert!(ChannelId::parse("pbx1-1796607560.3").is_ok());
        for bad in [
            "82b63871 all\n\napi shutdown",
            "",
            "../bridges",
            "a/b",
            "a?b",
            "a&b",
            ".hidden",
            "a b",
        ] {
            assert!(ChannelId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}

uuid_id!(
    /// A supervisor's monitoring session (listen, whisper, barge) of one call; also the UUID
    /// of the supervisor's leg.
    MonitorId,
    "monitor id"
);
