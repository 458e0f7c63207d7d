//! Agents' PINs, kept only as salted PBKDF2-HMAC-SHA256 hashes
//! (`pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`), made by `switchboard hash-pin`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Enough to make each guess cost something, cheap enough for the engine task (a few ms).
pub const ITERATIONS: u32 = 20_000;
const PREFIX: &str = "pbkdf2-sha256";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a PIN hash is written pbkdf2-sha256$<iterations>$<salt hex>$<hash hex> (see `switchboard hash-pin`)")]
pub struct PinHashError;

/// What a PIN must look like, said to whoever sets one.
pub const PIN_RULE: &str = "a PIN is 4 to 16 digits (what a phone keypad can enter)";

/// Whether `pin` may be set as an agent's PIN: see [`PIN_RULE`].
pub fn is_pin(pin: &str) -> bool {
    (4..=16).contains(&pin.len()) && pin.chars().all(|c| c.is_ascii_digit())
}

/// A PIN as keyed in on a phone, on its way to be checked. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(pub String);

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(..)")
    }
}

/// A PIN's hash. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PinHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: [u8; 32],
}

impl PinHash {
    /// Hashes `pin` with `salt` (16 random bytes from the caller).
    pub fn new(pin: &str, salt: [u8; 16]) -> Self {
        Self {
            iterations: ITERATIONS,
            salt: salt.to_vec(),
            hash: derive(pin, &salt, ITERATIONS),
        }
    }

    /// Whether `pin` is the PIN this hash was made from (compared in constant time).
    pub fn verify(&self, pin: &str) -> bool {
        let candidate = derive(pin, &self.salt, self.iterations);
        candidate
            .iter()
            .zip(self.hash.iter())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

fn derive(pin: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pin.as_bytes(), salt, iterations, &mut out);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl FromStr for PinHash {
    type Err = PinHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('$');
        let (Some(PREFIX), Some(iterations), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(PinHashError);
        };
        let iterations: u32 = iterations.parse().map_err(|_| PinHashError)?;
        let salt = unhex(salt).filter(|s| s.len() >= 8).ok_or(PinHashError)?;
        let hash: [u8; 32] = unhex(hash)
            .and_then(|h| h.try_into().ok())
            .ok_or(PinHashError)?;
        if !(1_000..=10_000_000).contains(&iterations) {
            return Err(PinHashError);
        }
        Ok(Self {
            iterations,
            salt,
            hash,
        })
    }
}

impl TryFrom<String> for PinHash {
    type Error = PinHashError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PinHash> for String {
    fn from(p: PinHash) -> String {
        p.to_string()
    }
}

impl fmt::Display for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}${}${}${}",
            self.iterations,
            hex(&self.salt),
            hex(&self.hash)
        )
    }
}

impl fmt::Debug for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_verifies_against_its_hash_and_no_other_does() {
        let hash = PinHash::new("4711", [7; 16]);
        assert!(hash.verify("4711"));
        assert!(!hash.verify("4712"));
        assert!(!hash.verify(""));
        let again: PinHash = hash.to_string().parse().expect("round trip");
        assert!(again.verify("4711"));
        assert_eq!(format!("{hash:?}"), "PinHash(..)");
        assert!(!hash.to_string().contains("4711"));
    }

    #[test]
    fn only_4_to_16_digits_make_a_pin() {
        for ok in ["4711", "0000", "1234567890123456"] {
            assert!(is_pin(ok), "{ok}");
        }
        for bad in [
            "",
            "123",
            "12345678901234567",
            "47a1",
            "47 1",
            "\u{0663}123",
        ] {
            assert!(!is_pin(bad), "{bad:?}");
        }
    }

    #[test]
    fn malformed_hashes_are_refused() {
        for bad in [
            "",
            "4711",
            "pbkdf2-sha256$20000$zz$00",
            "md5$1$00$00",
            "pbkdf2-sha256$1$0011223344556677$00",
        ] {
            assert!(bad.parse::<PinHash>().is_err(), "{bad}");
        }
    }
}
