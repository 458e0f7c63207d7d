//! API tokens: the roles they carry, the bearer tokens clients send, and the SHA-256 digests
//! that are all we keep of them.
//!
//! Why SHA-256 without salt or stretching (unlike PINs, which get PBKDF2): a token is 32 random
//! bytes, so there is no dictionary to try and 2^256 guesses to make; stretching exists to slow
//! guesses at low-entropy secrets and would here only slow every request. An unsalted digest
//! also lets a request find its token with one lookup by digest. The one thing this relies on
//! is that every token has that entropy, so only tokens in our own format are accepted for
//! hashing ([`BearerToken::parse`]).

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::engine::AgentId;

/// What a token lets its holder do (see `api::auth` for the rule of each route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, provisioning and flow reloads included.
    Admin,
    /// Reads everything, changes agent states, acts on calls.
    Supervisor,
    /// Bound to one agent: reads and changes only that agent, sees only its calls.
    Agent,
    /// Reads everything (and, later, manages webhooks).
    Integration,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Admin,
        Role::Supervisor,
        Role::Agent,
        Role::Integration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
            Role::Integration => "integration",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{} is not a role: use admin, supervisor, agent or integration", super::shown(.0))]
pub struct RoleError(pub String);

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Self, RoleError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| RoleError(s.to_owned()))
    }
}

/// Whether `agent` fits `role`: an agent token names its agent, no other token does.
pub fn check_token_agent(role: Role, agent: Option<&AgentId>) -> Result<(), &'static str> {
    match (role, agent) {
        (Role::Agent, None) => Err("a token with role \"agent\" must name its agent"),
        (Role::Agent, Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => Err("only a token with role \"agent\" names an agent"),
    }
}

/// A token's name: what the audit log, the list and `DELETE /v1/tokens/{name}` show; 1-64
/// letters, digits, '-', '_' or '.'.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenName(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{} is not a token name: use 1-64 letters, digits, '-', '_' or '.'", super::shown(.0))]
pub struct TokenNameError(pub String);

impl TokenName {
    pub fn new(value: impl Into<String>) -> Result<Self, TokenNameError> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(Self(value))
        } else {
            Err(TokenNameError(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The admin token a controller makes when it starts with none: `bootstrap`, or
    /// `bootstrap-<attempt>` when another token has that name.
    pub fn bootstrap(attempt: u32) -> Self {
        match attempt {
            0 => Self("bootstrap".to_owned()),
            n => Self(format!("bootstrap-{n}")),
        }
    }
}

impl TryFrom<String> for TokenName {
    type Error = TokenNameError;
    fn try_from(value: String) -> Result<Self, TokenNameError> {
        Self::new(value)
    }
}

impl From<TokenName> for String {
    fn from(name: TokenName) -> String {
        name.0
    }
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const TOKEN_PREFIX: &str = "sb_";
const TOKEN_BYTES: usize = 32;

/// A bearer token in clear: `sb_` and 32 random bytes in base64url. Exists only on its way to
/// the client that asked for it, or from a request to its digest; `Debug` shows nothing of it
/// and there is no `Display`: reading it takes an explicit [`BearerToken::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a Switchboard token: expected \"sb_\" and 43 base64url characters (32 random bytes), as `switchboard token new` prints")]
pub struct BearerTokenError;

impl BearerToken {
    /// A new token: 32 bytes from `rand`'s thread-local CSPRNG (ChaCha, seeded by the OS).
    pub fn generate() -> Self {
        let bytes: [u8; TOKEN_BYTES] = rand::random();
        Self(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A token in our format (so of full entropy); anything else is refused.
    pub fn parse(text: &str) -> Result<Self, BearerTokenError> {
        let encoded = text.strip_prefix(TOKEN_PREFIX).ok_or(BearerTokenError)?;
        match URL_SAFE_NO_PAD.decode(encoded) {
            Ok(bytes) if bytes.len() == TOKEN_BYTES => Ok(Self(text.to_owned())),
            _ => Err(BearerTokenError),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

/// The SHA-256 digest of a token, the only form a token is stored in (64 hex digits in the
/// database and the provisioning file's `sha256`). `Debug` shows nothing of it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a token's sha256 is 64 hex digits (see `switchboard token hash`)")]
pub struct TokenHashError;

impl TokenHash {
    /// The digest of whatever a client sent: a request is matched by it, never by the text.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl FromStr for TokenHash {
    type Err = TokenHashError;
    fn from_str(hex: &str) -> Result<Self, TokenHashError> {
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(TokenHashError);
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| TokenHashError)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| TokenHashError)?;
        }
        Ok(Self(out))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// A `[[token]]` of the provisioning file: the file holds the digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedToken {
    pub name: TokenName,
    pub role: Role,
    /// The agent an `agent` token is bound to.
    pub agent: Option<AgentId>,
    pub hash: TokenHash,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_has_the_documented_shape_and_parses_back() {
        let token = BearerToken::generate();
        let text = token.expose();
        assert!(text.starts_with("sb_"), "{text}");
        assert_eq!(text.len(), 3 + 43);
        assert!(text[3..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(BearerToken::parse(text), Ok(token.clone()));
        assert_ne!(BearerToken::generate(), token);
    }

    #[test]
    fn tokens_of_other_shapes_are_refused_for_hashing() {
        for bad in [
            "",
            "sb_",
            "password",
            "sb_short",
            "xx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(BearerToken::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_hash_is_sha256_in_hex_and_reads_back() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let hash = TokenHash::of("abc");
        assert_eq!(
            hash.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash.to_hex().parse::<TokenHash>(), Ok(hash));
        assert_eq!(hash.to_hex().to_uppercase().parse::<TokenHash>(), Ok(hash));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63), &"ü".repeat(32)] {
            assert!(bad.parse::<TokenHash>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn tokens_and_hashes_show_nothing_in_debug() {
        let token = BearerToken::generate();
        let hash = token.hash();
        let shown = format!("{token:?} {hash:?}");
        assert_eq!(shown, "BearerToken(..) TokenHash(..)");
        assert!(!shown.contains(&token.expose()[3..]));
        assert!(!shown.contains(&hash.to_hex()));
    }

    #[test]
    fn only_agent_tokens_name_an_agent() {
        let agent = AgentId::new("1001").ok();
        assert!(check_token_agent(Role::Agent, agent.as_ref()).is_ok());
        assert!(check_token_agent(Role::Agent, None).is_err());
        assert!(check_token_agent(Role::Admin, None).is_ok());
        assert!(check_token_agent(Role::Supervisor, agent.as_ref()).is_err());
    }

    #[test]
    fn roles_and_names_parse_as_documented() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
        assert!(TokenName::new("crm-prod.1").is_ok());
        for bad in ["", "a b", "x/y", &"n".repeat(65)] {
            assert!(TokenName::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
