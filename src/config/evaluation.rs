//! `[[evaluation_form]]` in the provisioning file: what supervisors score a recording on. A form
//! is a short list of criteria, each scored from 0 to its own maximum; an evaluation scores
//! every criterion of one form and keeps the total.
//!
//! Forms live in the file, not in the database: an evaluation keeps each criterion's maximum
//! with its score, so a form changed or removed later leaves the evaluations made with it whole.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use toml::Spanned;

use super::error::{ConfigError, Source};

/// The highest maximum a criterion may have.
pub const MAX_CRITERION_SCORE: u32 = 100;

/// A form supervisors score recordings with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct EvaluationForm {
    pub name: String,
    /// In the file's order; names are unique within the form.
    pub criteria: Vec<Criterion>,
}

/// One thing a recording is scored on, from 0 to `max`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Criterion {
    pub name: String,
    /// 1 to 100.
    pub max: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One criterion's score in an evaluation, with the maximum it was scored against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CriterionScore {
    pub criterion: String,
    pub score: u32,
    pub max: u32,
}

/// Why a set of scores does not fit a form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScoreError {
    #[error("the form {form:?} has no criterion {criterion:?}; its criteria are {known}")]
    Unknown {
        form: String,
        criterion: String,
        known: String,
    },
    #[error("{criterion:?} is not scored: every criterion of the form {form:?} needs a score")]
    Missing { form: String, criterion: String },
    #[error("{score} is not a score for {criterion:?}: give 0 to {max}")]
    OutOfRange {
        criterion: String,
        score: i64,
        max: u32,
    },
}

impl ScoreError {
    /// The criterion the error is about.
    pub fn criterion(&self) -> &str {
        match self {
            ScoreError::Unknown { criterion, .. }
            | ScoreError::Missing { criterion, .. }
            | ScoreError::OutOfRange { criterion, .. } => criterion,
        }
    }
}

impl EvaluationForm {
    /// The form offered when the provisioning file declares none.
    pub fn standard() -> Self {
        let criterion = |name: &str, max, description: &str| Criterion {
            name: name.to_owned(),
            max,
            description: Some(description.to_owned()),
        };
        Self {
            name: "standard".to_owned(),
            criteria: vec![
                criterion("greeting", 5, "Greets the caller and gives their name"),
                criterion("understanding", 5, "Finds out what the caller needs"),
                criterion("resolution", 10, "Resolves it, or agrees a clear next step"),
                criterion("courtesy", 5, "Is courteous and patient throughout"),
                criterion(
                    "compliance",
                    5,
                    "Follows the required checks and disclosures",
                ),
            ],
        }
    }

    /// Checks `given` (criterion → score) against the form: every criterion scored, 0 to its
    /// maximum, no other. The scores come back in the form's order.
    pub fn score(&self, given: &BTreeMap<String, i64>) -> Result<Vec<CriterionScore>, ScoreError> {
        if let Some(unknown) = given
            .keys()
            .find(|k| !self.criteria.iter().any(|c| &c.name == *k))
        {
            return Err(ScoreError::Unknown {
                form: self.name.clone(),
                criterion: unknown.clone(),
                known: self
                    .criteria
                    .iter()
                    .map(|c| format!("{:?}", c.name))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        self.criteria
            .iter()
            .map(|c| {
                let score = *given.get(&c.name).ok_or_else(|| ScoreError::Missing {
                    form: self.name.clone(),
                    criterion: c.name.clone(),
                })?;
                let out_of_range = || ScoreError::OutOfRange {
                    criterion: c.name.clone(),
                    score,
                    max: c.max,
                };
                let score = u32::try_from(score).map_err(|_| out_of_range())?;
                if score > c.max {
                    return Err(out_of_range());
                }
                Ok(CriterionScore {
                    criterion: c.name.clone(),
                    score,
                    max: c.max,
                })
            })
            .collect()
    }

    /// The highest total the form allows.
    pub fn max_total(&self) -> u64 {
        self.criteria.iter().map(|c| u64::from(c.max)).sum()
    }
}

/// The forms of the file, or [`EvaluationForm::standard`] when it declares none.
pub fn forms_or_standard(forms: Vec<EvaluationForm>) -> Vec<EvaluationForm> {
    if forms.is_empty() {
        vec![EvaluationForm::standard()]
    } else {
        forms
    }
}

/// Whether `name` may name a form or a criterion: safe in URLs, JSON keys and logs.
pub fn is_evaluation_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

const MAX_DESCRIPTION: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForm {
    name: Spanned<String>,
    criteria: Spanned<Vec<Spanned<RawCriterion>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterion {
    name: Spanned<String>,
    max: Spanned<i64>,
    description: Option<Spanned<String>>,
}

/// `[[evaluation_form]]`s: unique valid names, at least one criterion each, unique criterion
/// names within a form, maxima of 1 to 100.
pub(super) fn evaluation_forms(
    src: &Source<'_>,
    raw: Vec<RawForm>,
) -> Result<Vec<EvaluationForm>, ConfigError> {
    const NAME_RULE: &str = "must be 1-64 letters, digits, '-', '_' or '.'";
    let mut names = HashSet::new();
    let mut forms = Vec::with_capacity(raw.len());
    for (i, f) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("evaluation_form[{i}].{field}");
        let name_span = f.name.span();
        let name = f.name.into_inner();
        if !is_evaluation_name(&name) {
            return Err(src.error_at(Some(name_span), key("name"), NAME_RULE));
        }
        if !names.insert(name.clone()) {
            return Err(src.error_at(
                Some(name_span),
                key("name"),
                format!("evaluation form {name:?} is declared twice"),
            ));
        }
        let criteria_span = f.criteria.span();
        let raw_criteria = f.criteria.into_inner();
        if raw_criteria.is_empty() {
            return Err(src.error_at(
                Some(criteria_span),
                key("criteria"),
                "give at least one criterion: { name = \"greeting\", max = 5 }",
            ));
        }
        let mut seen = HashSet::new();
        let mut criteria = Vec::with_capacity(raw_criteria.len());
        for (j, c) in raw_criteria.into_iter().enumerate() {
            let c = c.into_inner();
            let key = |field: &str| format!("evaluation_form[{i}].criteria[{j}].{field}");
            let span = c.name.span();
            let criterion = c.name.into_inner();
            if !is_evaluation_name(&criterion) {
                return Err(src.error_at(Some(span), key("name"), NAME_RULE));
            }
            if !seen.insert(criterion.clone()) {
                return Err(src.error_at(
                    Some(span),
                    key("name"),
                    format!("criterion {criterion:?} is declared twice in form {name:?}"),
                ));
            }
            let max_span = c.max.span();
            let max = u32::try_from(*c.max.get_ref())
                .ok()
                .filter(|m| (1..=MAX_CRITERION_SCORE).contains(m))
                .ok_or_else(|| {
                    src.error_at(
                        Some(max_span),
                        key("max"),
                        format!("must be 1 to {MAX_CRITERION_SCORE}"),
                    )
                })?;
            let description = match c.description {
                Some(d) => {
                    let span = d.span();
                    let text = d.into_inner();
                    if text.chars().count() > MAX_DESCRIPTION || text.chars().any(char::is_control)
                    {
                        return Err(src.error_at(
                            Some(span),
                            key("description"),
                            format!("must be one line of at most {MAX_DESCRIPTION} characters"),
                        ));
                    }
                    Some(text)
                }
                None => None,
            };
            criteria.push(Criterion {
                name: criterion,
                max,
                description,
            });
        }
        forms.push(EvaluationForm { name, criteria });
    }
    Ok(forms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provisioning;

    const FORMS: &str = r#"
[[evaluation_form]]
name = "quality"
criteria = [
  { name = "greeting", max = 5, description = "Greets the caller" },
  { name = "resolution", max = 10 },
]

[[evaluation_form]]
name = "compliance"
criteria = [{ name = "disclosure", max = 1 }]
"#;

    fn forms(text: &str) -> Result<Vec<EvaluationForm>, ConfigError> {
        Provisioning::parse(text, "p.toml").map(|p| p.evaluation_forms)
    }

    /// The error for `FORMS` with `from` replaced by `to`, as (line, key, message).
    fn rejected(from: &str, to: &str) -> (Option<usize>, String, String) {
        assert!(FORMS.contains(from), "{from:?} is not in the text");
        match forms(&FORMS.replacen(from, to, 1)) {
            Ok(_) => panic!("accepted {to:?}"),
            Err(e) => (e.line, e.key, e.message),
        }
    }

    fn scores(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn forms_parse_in_the_files_order_with_their_criteria() {
        let forms = forms(FORMS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].name, "quality");
        assert_eq!(
            forms[0].criteria,
            vec![
                Criterion {
                    name: "greeting".into(),
                    max: 5,
                    description: Some("Greets the caller".into()),
                },
                Criterion {
                    name: "resolution".into(),
                    max: 10,
                    description: None,
                },
            ]
        );
        assert_eq!(forms[0].max_total(), 15);
        assert_eq!(forms[1].criteria[0].max, 1);
    }

    #[test]
    fn bad_forms_are_refused_with_line_and_key() {
        let (line, key, message) = rejected("name = \"compliance\"", "name = \"quality\"");
        assert_eq!((line, key.as_str()), (Some(10), "evaluation_form[1].name"));
        assert!(message.contains("declared twice"), "{message}");

        let (line, key, message) = rejected("name = \"resolution\"", "name = \"greeting\"");
        assert_eq!(
            (line, key.as_str()),
            (Some(6), "evaluation_form[0].criteria[1].name")
        );
        assert!(message.contains("declared twice"), "{message}");

        for bad in ["max = 0", "max = 101", "max = -3"] {
            let (line, key, message) = rejected("max = 10", bad);
            assert_eq!(
                (line, key.as_str()),
                (Some(6), "evaluation_form[0].criteria[1].max"),
                "{bad}"
            );
            assert!(message.contains("1 to 100"), "{message}");
        }

        let (line, key, message) = rejected(
            "criteria = [{ name = \"disclosure\", max = 1 }]",
            "criteria = []",
        );
        assert_eq!(
            (line, key.as_str()),
            (Some(11), "evaluation_form[1].criteria")
        );
        assert!(message.contains("at least one criterion"), "{message}");

        let (_, key, _) = rejected("name = \"quality\"", "name = \"q a\"");
        assert_eq!(key, "evaluation_form[0].name");
        let (_, key, _) = rejected("{ name = \"resolution\", max = 10 }", "{ max = 10 }");
        assert!(key.starts_with("evaluation_form"), "{key}");
        let (_, key, _) = rejected("max = 10 }", "max = 10, weight = 2 }");
        assert!(key.starts_with("evaluation_form"), "{key}");
    }

    #[test]
    fn the_example_provisioning_file_declares_a_form() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("provisioning.example.toml");
        let forms = Provisioning::load(&path)
            .map(|p| p.evaluation_forms)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].name, "quality");
        assert_eq!(forms[0].max_total(), 25);
    }

    #[test]
    fn a_file_without_forms_gets_the_standard_form() {
        assert_eq!(
            forms("").map(forms_or_standard),
            Ok(vec![EvaluationForm::standard()])
        );
        let declared = forms(FORMS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(forms_or_standard(declared.clone()), declared);
        assert!(EvaluationForm::standard()
            .criteria
            .iter()
            .all(|c| is_evaluation_name(&c.name) && (1..=MAX_CRITERION_SCORE).contains(&c.max)));
    }

    #[test]
    fn scores_must_cover_every_criterion_within_its_range_and_nothing_else() {
        let form = &forms(FORMS).unwrap_or_else(|e| panic!("{e}"))[0];
        assert_eq!(
            form.score(&scores(&[("resolution", 10), ("greeting", 0)])),
            Ok(vec![
                CriterionScore {
                    criterion: "greeting".into(),
                    score: 0,
                    max: 5
                },
                CriterionScore {
                    criterion: "resolution".into(),
                    score: 10,
                    max: 10
                },
            ])
        );
        let missing = form.score(&scores(&[("greeting", 3)]));
        assert!(
            matches!(&missing, Err(ScoreError::Missing { criterion, .. }) if criterion == "resolution"),
            "{missing:?}"
        );
        let unknown = form.score(&scores(&[("greeting", 3), ("resolution", 3), ("tone", 1)]));
        assert!(
            matches!(&unknown, Err(e @ ScoreError::Unknown { .. }) if e.criterion() == "tone"),
            "{unknown:?}"
        );
        for bad in [6, -1] {
            let out = form.score(&scores(&[("greeting", bad), ("resolution", 3)]));
            assert_eq!(
                out,
                Err(ScoreError::OutOfRange {
                    criterion: "greeting".into(),
                    score: bad,
                    max: 5
                })
            );
        }
    }
}
