//! A queue's after-call work settings: its disposition codes (what agents may say a call
//! ended as), whether one is required before the agent is available again, and how long a
//! wrap-up may be extended to. Plain data, serialized with the queue's routing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest a disposition label may be.
pub const MAX_DISPOSITION_LABEL: usize = 100;
/// Most codes one queue may list.
pub const MAX_DISPOSITION_CODES: usize = 100;

/// One disposition code: `code` is what the API names and the phone keys in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispositionCode {
    pub code: String,
    pub label: String,
}

/// The after-call work of a queue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WrapUpWork {
    /// The codes agents may give this queue's calls (empty: none asked for).
    pub disposition_codes: Vec<DispositionCode>,
    /// The agent stays in wrap-up (even past its end, even with no wrap-up time) until a code
    /// is given; a pause or log-out waiting for the call waits for it too.
    pub disposition_required: bool,
    /// The longest a wrap-up may run when the agent extends it (`None`: no extension).
    #[serde(with = "opt_millis")]
    pub max_wrap_up: Option<Duration>,
}

impl WrapUpWork {
    pub fn knows(&self, code: &str) -> bool {
        self.disposition_codes.iter().any(|c| c.code == code)
    }

    /// The codes, for error messages.
    pub fn listed(&self) -> String {
        self.disposition_codes
            .iter()
            .map(|c| format!("{:?} ({})", c.code, c.label))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether `code` may be a disposition code: 1-16 digits (the phone keys it in) or a short
/// word of letters, digits, '-', '_' or '.' (up to 32), safe in URLs, logs and channel
/// variables.
pub fn is_disposition_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks a queue's list: valid and unique codes, non-empty labels within the limits,
/// `required` only with codes. Shared by the provisioning file and REST.
pub fn check(work: &WrapUpWork) -> Result<(), String> {
    if work.disposition_codes.len() > MAX_DISPOSITION_CODES {
        return Err(format!(
            "disposition_codes: at most {MAX_DISPOSITION_CODES} codes"
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for c in &work.disposition_codes {
        if !is_disposition_code(&c.code) {
            return Err(format!(
                "disposition code {:?}: 1-32 letters, digits, '-', '_' or '.'",
                c.code
            ));
        }
        if !seen.insert(c.code.as_str()) {
            return Err(format!("disposition code {:?} is listed twice", c.code));
        }
        let label = c.label.trim();
        if label.is_empty()
            || label.len() > MAX_DISPOSITION_LABEL
            || label.chars().any(char::is_control)
        {
            return Err(format!(
                "disposition code {:?}: the label must be 1-{MAX_DISPOSITION_LABEL} printable characters",
                c.code
            ));
        }
    }
    if work.disposition_required && work.disposition_codes.is_empty() {
        return Err("disposition_required needs disposition_codes".to_owned());
    }
    Ok(())
}

mod opt_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(code: &str, label: &str) -> DispositionCode {
        DispositionCode {
            code: code.into(),
            label: label.into(),
        }
    }

    #[test]
    fn lists_are_checked() {
        let ok = WrapUpWork {
            disposition_codes: vec![code("1", "Sale"), code("no-sale", "No sale")],
            disposition_required: true,
            max_wrap_up: None,
        };
        assert_eq!(check(&ok), Ok(()));
        assert!(ok.knows("1") && !ok.knows("2"));
        for bad in [
            vec![code("1", "Sale"), code("1", "Again")],
            vec![code("a b", "Space")],
            vec![code("1", "")],
            vec![code("1", "line\nbreak")],
        ] {
            let work = WrapUpWork {
                disposition_codes: bad,
                ..WrapUpWork::default()
            };
            assert!(check(&work).is_err(), "{work:?}");
        }
        let required_alone = WrapUpWork {
            disposition_required: true,
            ..WrapUpWork::default()
        };
        assert!(check(&required_alone).is_err());
    }
}
