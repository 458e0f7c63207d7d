//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
//! one signature per secret (space-separated) so a receiver keeps verifying while a secret is
//! rotated. Secrets are `whsec_<base64>`, as the specification's libraries expect.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use thiserror::Error;

const PREFIX: &str = "whsec_";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a webhook secret starts with whsec_ followed by base64 (24 to 64 bytes)")]
    Malformed,
}

/// A signing key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl Secret {
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(PREFIX).ok_or(SecretError::Malformed)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::Malformed)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError::Malformed);
        }
        Ok(Secret(bytes))
    }

    /// A new random secret, as `whsec_<base64>`.
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        format!("{PREFIX}{}", STANDARD.encode(bytes))
    }

    fn sign(&self, content: &str) -> String {
        // HMAC takes a key of any length.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(content.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The three headers of a signed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
}

/// Signs `body` sent as message `id` at `unix_seconds` with every secret.
pub fn sign(id: &str, unix_seconds: i64, body: &str, secrets: &[Secret]) -> SignedHeaders {
    let content = format!("{id}.{unix_seconds}.{body}");
    SignedHeaders {
        id: id.to_owned(),
        timestamp: unix_seconds.to_string(),
        signature: secrets
            .iter()
            .map(|s| s.sign(&content))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_example_signature_is_reproduced() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let headers = sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            &[secret],
        );
        assert_eq!(
            headers.signature,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_secret_signs_during_a_rotation_and_none_is_shown() {
        let (a, b) = (Secret::generate(), Secret::generate());
        let secrets = [Secret::parse(&a).expect("a"), Secret::parse(&b).expect("b")];
        let headers = sign("evt_1", 1, "{}", &secrets);
        assert_eq!(headers.signature.split(' ').count(), 2);
        assert_eq!(format!("{:?}", secrets[0]), "Secret(redacted)");
        assert_eq!(Secret::parse("whsec_short"), Err(SecretError::Malformed));
        assert_eq!(Secret::parse("nope"), Err(SecretError::Malformed));
    }
}
