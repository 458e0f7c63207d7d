//! What Asterisk holds after a (re)connect: closing the WebSocket leaves channels in Stasis
//! with no replay (README: restart), so the adapter lists channels and bridges, reads back
//! the variables it set at originate, adopts what is ours and rebuilds its tables.

use std::collections::HashMap;

use serde_json::Value;
use thiserror::Error;
use tracing::warn;

use super::client::{AriClient, AriRequest};
use super::plan::Context;
use super::state::{ChannelInfo, Role, Shared};
use super::translate::{self, endpoint_of_name};
use crate::engine::{AgentId, CallId, ChannelId, ChannelRole, ChannelSnapshot, Input, QueueId};
use crate::fence::Fence;

#[derive(Debug, Error)]
pub enum ResyncError {
    #[error("{0}")]
    Request(String),
    #[error("not the leader")]
    Fenced,
}

pub struct Listed {
    pub channels: Vec<ChannelSnapshot>,
    /// PJSIP endpoints `online`; `None` when they could not be listed.
    pub registered: Option<Vec<String>>,
}

async fn get_json(client: &AriClient, fence: &Fence, path: &str) -> Result<Value, ResyncError> {
    get_request(client, fence, &AriRequest::get(path)).await
}

async fn get_request(
    client: &AriClient,
    fence: &Fence,
    request: &AriRequest,
) -> Result<Value, ResyncError> {
    if !fence.check() {
        return Err(ResyncError::Fenced);
    }
    let reply = client
        .send(request)
        .await
        .map_err(|e| ResyncError::Request(e.to_string()))?;
    if !reply.is_success() {
        return Err(ResyncError::Request(format!(
            "{}: {}",
            request.path,
            reply.failure_text()
        )));
    }
    serde_json::from_str(&reply.body)
        .map_err(|e| ResyncError::Request(format!("{}: {e}", request.path)))
}

/// A channel variable we set at originate, or `None` when it is not set.
async fn variable(
    client: &AriClient,
    fence: &Fence,
    channel: &ChannelId,
    name: &'static str,
) -> Result<Option<String>, ResyncError> {
    let request = AriRequest::get(format!("/channels/{channel}/variable")).param("variable", name);
    if !fence.check() {
        return Err(ResyncError::Fenced);
    }
    let reply = client
        .send(&request)
        .await
        .map_err(|e| ResyncError::Request(e.to_string()))?;
    if !reply.is_success() {
        return Ok(None);
    }
    Ok(serde_json::from_str::<Value>(&reply.body)
        .ok()
        .and_then(|v| v.get("value").and_then(Value::as_str).map(str::to_owned))
        .filter(|v| !v.is_empty()))
}

/// The args of `Stasis(<app>,<args…>)` for our app.
fn stasis_args(channel: &Value, app: &str) -> Option<Vec<String>> {
    let dialplan = channel.get("dialplan")?;
    if dialplan.get("app_name").and_then(Value::as_str) != Some("Stasis") {
        return None;
    }
    let data = dialplan.get("app_data").and_then(Value::as_str)?;
    let mut parts = split_arguments(data)
        .into_iter()
        .map(|p| p.trim().to_owned());
    (parts.next()? == app).then(|| parts.collect())
}

/// Application arguments as Asterisk splits them (`__ast_app_separate_args` of `main/app.c`):
/// at commas outside double quotes, parentheses and brackets; the quotes removed, a backslash
/// keeping the next character; a trailing comma gives a last, empty argument.
pub fn split_arguments(data: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped, mut parens, mut brackets) = (false, false, 0u32, 0u32);
    for c in data.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted && parens == 0 && brackets == 0 => {
                args.push(std::mem::take(&mut current));
            }
            _ => {
                match c {
                    '(' => parens += 1,
                    ')' => parens = parens.saturating_sub(1),
                    '[' => brackets += 1,
                    ']' => brackets = brackets.saturating_sub(1),
                    _ => {}
                }
                current.push(c);
            }
        }
    }
    args.push(current);
    args
}

pub async fn resync(
    client: &AriClient,
    fence: &Fence,
    ctx: &Context,
    tables: &Shared,
) -> Result<Listed, ResyncError> {
    let channels = get_json(client, fence, "/channels").await?;
    let bridges = get_json(client, fence, "/bridges").await?;
    let mut bridge_of: HashMap<String, String> = HashMap::new();
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    for bridge in bridges.as_array().into_iter().flatten() {
        let Some(id) = bridge.get("id").and_then(Value::as_str) else {
            continue;
        };
        let list: Vec<String> = bridge
            .get("channels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        for c in &list {
            bridge_of.insert(c.clone(), id.to_owned());
        }
        members.insert(id.to_owned(), list);
    }
    let mut snapshots = Vec::new();
    let mut adopted: Vec<(ChannelId, ChannelInfo)> = Vec::new();
    for channel in channels.as_array().into_iter().flatten() {
        let raw_id = channel
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Ok(id) = ChannelId::parse(raw_id) else {
            warn!(channel = %raw_id, "listed channel with an id we cannot use");
            continue;
        };
        let name = channel
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.starts_with("Snoop/") {
            continue;
        }
        let answered = channel.get("state").and_then(Value::as_str) == Some("Up");
        let bridge = bridge_of.get(raw_id).cloned();
        let bridged_to = bridge
            .as_ref()
            .and_then(|b| members.get(b))
            .and_then(|m| m.iter().find(|c| c.as_str() != raw_id))
            .and_then(|c| ChannelId::parse(c).ok());
        let str_at = |p: &str| {
            channel
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let mut snapshot = ChannelSnapshot::other(id.clone(), answered);
        snapshot.bridged_to = bridged_to;
        snapshot.caller_number = str_at("/caller/number");
        snapshot.caller_name = str_at("/caller/name");
        snapshot.destination = str_at("/dialplan/exten");
        let caller_args = stasis_args(channel, &ctx.app).filter(|a| {
            matches!(
                a.first().map(String::as_str),
                Some("queue" | "flow" | "feature")
            )
        });
        let stand_in = name.starts_with("Local/") && name.ends_with(";1") && bridge.is_some();
        let role = match caller_args {
            // A phone transfer's stand-in in a bridge of ours (`transfer`): still the caller's
            // partner, so either one's end still ends the other.
            None if stand_in => Some(Role::Local),
            Some(args) => {
                let event =
                    serde_json::json!({"type": "StasisStart", "args": args, "channel": channel});
                let parked = {
                    let mut scratch = super::state::Tables::default();
                    translate::translate(ctx, &mut scratch, &event.to_string())
                        .inputs
                        .into_iter()
                        .next()
                };
                match &parked {
                    Some(Input::CallParked(p)) => {
                        snapshot.role = ChannelRole::Caller;
                        snapshot.queue = Some(p.queue.clone());
                    }
                    Some(Input::FlowCall(f)) => {
                        snapshot.role = ChannelRole::Caller;
                        snapshot.flow_entry = Some(f.entry.clone());
                    }
                    _ => {}
                }
                Some(Role::Caller {
                    parked: parked
                        .filter(|p| matches!(p, Input::CallParked(_) | Input::FlowCall(_)))
                        .map(Box::new),
                })
            }
            None => match variable(client, fence, &id, "SWITCHBOARD_ROLE")
                .await?
                .as_deref()
            {
                Some("agent") => {
                    let call = variable(client, fence, &id, "SWITCHBOARD_CALL").await?;
                    let agent = variable(client, fence, &id, "SWITCHBOARD_AGENT").await?;
                    let queue = variable(client, fence, &id, "SWITCHBOARD_QUEUE").await?;
                    snapshot.role = ChannelRole::Agent;
                    snapshot.call = call.as_deref().and_then(|c| CallId::parse(c).ok());
                    snapshot.agent = agent.as_deref().and_then(|a| AgentId::new(a).ok());
                    snapshot.queue = queue.as_deref().and_then(|q| QueueId::new(q).ok());
                    match (
                        snapshot.agent.clone(),
                        snapshot.call,
                        snapshot.queue.clone(),
                    ) {
                        (Some(agent), Some(call), Some(queue)) => {
                            Some(Role::Agent { agent, call, queue })
                        }
                        _ => None,
                    }
                }
                Some("callback") => {
                    let call = variable(client, fence, &id, "SWITCHBOARD_CALL").await?;
                    let queue = variable(client, fence, &id, "SWITCHBOARD_QUEUE").await?;
                    match (
                        call.as_deref().and_then(|c| CallId::parse(c).ok()),
                        queue.as_deref().and_then(|q| QueueId::new(q).ok()),
                    ) {
                        (Some(call), Some(queue)) => Some(Role::Callback { call, queue }),
                        _ => None,
                    }
                }
                _ => None,
            },
        };
        if let Some(role) = role {
            let mut info = ChannelInfo::new(role);
            info.answered = answered;
            info.in_stasis = true;
            info.bridge = bridge.clone();
            adopted.push((id.clone(), info));
        } else if answered && endpoint_of_name(name).is_some() {
            tables.with(|t| t.in_use.insert(id.clone()));
        }
        snapshots.push(snapshot);
    }
    tables.with(|t| {
        for (id, info) in adopted {
            if let Some(bridge) = &info.bridge {
                t.bridges
                    .entry(bridge.clone())
                    .or_default()
                    .push(id.clone());
            }
            t.channels.insert(id, info);
        }
    });
    let registered = match get_json(client, fence, "/endpoints").await {
        Ok(list) => Some(registered_endpoints(&list)),
        Err(ResyncError::Fenced) => return Err(ResyncError::Fenced),
        Err(e) => {
            warn!(switch = %ctx.switch, error = %e, "cannot list endpoints");
            None
        }
    };
    Ok(Listed {
        channels: snapshots,
        registered,
    })
}

/// The PJSIP endpoints `GET /endpoints` says are `online` (a contact is registered or static).
pub fn registered_endpoints(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e.get("technology").and_then(Value::as_str) == Some("PJSIP"))
        .filter(|e| e.get("state").and_then(Value::as_str) == Some("online"))
        .filter_map(|e| e.get("resource").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adopted_callers_quoted_skills_stay_one_argument() {
        let channel = serde_json::json!({"dialplan": {
            "app_name": "Stasis",
            "app_data": "switchboard,queue,support,0,\"spanish:7,billing\""
        }});
        assert_eq!(
            stasis_args(&channel, "switchboard"),
            Some(vec![
                "queue".to_owned(),
                "support".to_owned(),
                "0".to_owned(),
                "spanish:7,billing".to_owned()
            ])
        );
        assert_eq!(split_arguments("a,"), vec!["a".to_owned(), String::new()]);
    }
}
