//! The external-number part of the invariants checked when a `TestApp` is dropped: a call
//! handed to an external number (a `transfer` event `to=number:<n>`) was really handed to the
//! number's leg on the switch. That leg (the `leg=` of the call's last `consult step=answered
//! to=number:<n>` event) is the one the caller was last bridged to, it is never a call's
//! agent leg in the history, and the call, once ended, ended as `transferred`.

use std::collections::HashMap;

/// `(call, kind, detail)` of the consult and transfer events, each call's outcome, and every
/// call's agent leg.
type History = (
    Vec<(String, String, String)>,
    HashMap<String, Option<String>>,
    Vec<String>,
);

fn read(database_url: &str) -> Result<History, String> {
    let url = database_url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            use sqlx::Row;
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            let events = sqlx::query(
                "SELECT call_id, kind, detail FROM queue_events \
                 WHERE kind IN ('consult', 'transfer') ORDER BY id",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
            let rows = sqlx::query("SELECT id, outcome, agent_channel FROM calls")
                .fetch_all(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let outcomes = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            let agent_legs = rows
                .iter()
                .filter_map(|r| r.get::<Option<String>, _>(2))
                .collect();
            Ok((events, outcomes, agent_legs))
        })
    })
    .join()
    .map_err(|_| "the external-number history reader panicked".to_owned())?
}

fn field<'a>(detail: &'a str, name: &str) -> Option<&'a str> {
    detail
        .split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
}

/// Every broken promise about external numbers, one line each. `last_partner`: the leg the
/// switch last bridged each channel to; `callers`: each ended call's caller channel.
pub fn violations(
    database_url: &str,
    callers: &HashMap<String, String>,
    last_partner: &HashMap<String, Option<String>>,
) -> Vec<String> {
    let (events, outcomes, agent_legs) = match read(database_url) {
        Ok(history) => history,
        Err(e) => return vec![format!("cannot read the external-number history: {e}")],
    };
    let mut broken = Vec::new();
    let mut answered: HashMap<&str, &str> = HashMap::new();
    for (call, kind, detail) in &events {
        let to_number = field(detail, "to").is_some_and(|t| t.starts_with("number:"));
        if !to_number {
            continue;
        }
        if kind == "consult" && field(detail, "step") == Some("answered") {
            if let Some(leg) = field(detail, "leg") {
                answered.insert(call.as_str(), leg);
                if agent_legs.iter().any(|a| a == leg) {
                    broken.push(format!("call {call}: external leg {leg} is an agent leg"));
                }
            }
        }
        if kind != "transfer" {
            continue;
        }
        let Some(leg) = answered.get(call.as_str()) else {
            broken.push(format!(
                "call {call} transferred to a number that never answered"
            ));
            continue;
        };
        // Only calls the history has ended are judged (a test may stop mid-call).
        let Some(caller) = callers.get(call) else {
            continue;
        };
        let partner = last_partner.get(caller).cloned().flatten();
        if partner.as_deref() != Some(*leg) {
            broken.push(format!(
                "call {call} transferred to external leg {leg}, but its caller was last \
                 bridged to {partner:?}"
            ));
        }
        if let Some(Some(outcome)) = outcomes.get(call) {
            if outcome != "transferred" {
                broken.push(format!(
                    "call {call} handed to a number ended as {outcome}, not transferred"
                ));
            }
        }
    }
    broken
}
