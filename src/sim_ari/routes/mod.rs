//! The ARI REST resources: one request in, one `Response` out, with Asterisk's exact
//! statuses, reason phrases and error bodies (the *errors* capture's table). Anything the
//! client sends is checked here before the core sees it.

use std::time::Duration;

use base64::Engine as _;

mod channels;

use self::channels::{channel_action, delete_channel, originate, play, record};
use super::core::bridges::BridgeError;
use super::core::Core;
use super::wire::{quote, raw_list, url_decode, Obj, Request, Response};

pub(super) fn not_found(what: &str) -> Response {
    Response::message(404, "Not Found", what)
}

pub(super) fn channel_not_found() -> Response {
    not_found("Channel not found")
}

pub(super) fn not_in_stasis() -> Response {
    Response::message(409, "Conflict", "Channel not in Stasis application")
}

/// Is the request allowed in: Basic credentials or `api_key=user:password`.
pub(crate) fn authorized(core: &Core, req: &Request) -> bool {
    let expected = format!("{}:{}", core.config.user, core.config.password);
    if let Some(key) = req.param("api_key") {
        return key == expected;
    }
    let Some(auth) = req.header("Authorization") else {
        return false;
    };
    let Some(b64) = auth.strip_prefix("Basic ") else {
        return false;
    };
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .is_some_and(|raw| raw == expected.as_bytes())
}

pub(crate) fn unauthorized() -> Response {
    Response::message(401, "Unauthorized", "Authentication required").with_header(
        "WWW-Authenticate",
        "Basic realm=\"Asterisk REST Interface\"".to_string(),
    )
}

/// Parameters from the query and, for a JSON object body, its `variables`.
pub(super) struct Params<'a> {
    pub req: &'a Request,
    pub variables: Vec<(String, String)>,
}

impl Params<'_> {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.req.param(name).filter(|v| !v.is_empty())
    }
}

/// An id from the path or a parameter: a short run of harmless characters, nothing else.
pub(super) fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:@+/,()#*".contains(c))
}

pub(super) fn timeout_param(p: &Params) -> Option<Duration> {
    let t: f64 = p.get("timeout")?.parse().ok()?;
    if t > 0.0 && t.is_finite() {
        Some(Duration::from_secs_f64(t))
    } else {
        None
    }
}

pub(super) fn app_args(p: &Params) -> Vec<String> {
    match p.get("appArgs") {
        Some(a) => a.split(',').map(str::to_string).collect(),
        None => Vec::new(),
    }
}

pub(crate) fn handle(core: &mut Core, req: &Request) -> Response {
    core.stats.requests += 1;
    let variables = match parse_body(req) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let params = Params { req, variables };
    let Some(rest) = req.path.strip_prefix("/ari/") else {
        return not_found("Resource not found");
    };
    if rest.ends_with('/') {
        let trimmed = rest.trim_end_matches('/');
        return not_found(&format!(
            "ARI URLs do not end with a slash. Try /ari/{trimmed}"
        ));
    }
    let segments: Vec<String> = rest.split('/').map(url_decode).collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    match seg.as_slice() {
        ["asterisk", "info"] if method == "GET" => asterisk_info(core),
        ["asterisk", "modules"] if method == "GET" => {
            let list: Vec<String> = core
                .config
                .modules
                .iter()
                .map(|m| {
                    Obj::new()
                        .str("name", &format!("{m}.so"))
                        .str("description", m)
                        .num("use_count", 0)
                        .str("status", "Running")
                        .str("support_level", "core")
                        .done()
                })
                .collect();
            Response::ok(raw_list(&list))
        }
        ["asterisk", "ping"] if method == "GET" => Response::ok(
            Obj::new()
                .str("ping", "pong")
                .str("timestamp", &super::wire::ari_timestamp())
                .str("asterisk_id", core.asterisk_id())
                .done(),
        ),
        ["asterisk", "variable"] if method == "GET" => match params.get("variable") {
            None => Response::message(400, "Bad Request", "Variable name is required"),
            Some(name) => {
                let value = core
                    .globals
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                Response::ok(Obj::new().str("value", &value).done())
            }
        },
        ["asterisk", "variable"] if method == "POST" => match params.get("variable") {
            None => Response::message(400, "Bad Request", "Variable name is required"),
            Some(name) => {
                let name = name.to_string();
                let value = req.param("value").unwrap_or("").to_string();
                core.set_global(&name, &value);
                Response::no_content()
            }
        },
        ["channels"] => match method {
            "GET" => {
                let list: Vec<String> = core
                    .channel_order
                    .iter()
                    .filter_map(|id| core.channels.get(id))
                    .map(|c| core.channel_json(c))
                    .collect();
                Response::ok(raw_list(&list))
            }
            "POST" => originate(core, &params, None, false),
            _ => Response::message(405, "Method Not Allowed", "Invalid method")
                .with_header("Allow", "OPTIONS,GET,POST".into()),
        },
        ["channels", "create"] if method == "POST" => originate(core, &params, None, true),
        ["channels", id] => match method {
            "GET" => match core.channels.get(*id) {
                Some(c) => Response::ok(core.channel_json(c)),
                None => channel_not_found(),
            },
            "DELETE" => delete_channel(core, id, &params),
            "POST" => originate(core, &params, Some(id), false),
            _ => Response::message(405, "Method Not Allowed", "Invalid method")
                .with_header("Allow", "OPTIONS,GET,POST,DELETE".into()),
        },
        ["channels", id, action] => channel_action(core, id, action, None, &params, method),
        ["channels", id, action, sub] => {
            channel_action(core, id, action, Some(sub), &params, method)
        }
        ["bridges"] => match method {
            "GET" => {
                let list: Vec<String> = core.bridges.iter().map(|b| core.bridge_json(b)).collect();
                Response::ok(raw_list(&list))
            }
            "POST" => create_bridge(core, &params, params.get("bridgeId")),
            _ => Response::message(405, "Method Not Allowed", "Invalid method"),
        },
        ["bridges", id] => match method {
            "GET" => match core.bridge(id) {
                Some(b) => Response::ok(core.bridge_json(b)),
                None => not_found("Bridge not found"),
            },
            "POST" => create_bridge(core, &params, Some(id)),
            "DELETE" => {
                if core.destroy_bridge(id) {
                    Response::no_content()
                } else {
                    Response::message(404, "Not found", "Bridge not found")
                }
            }
            _ => Response::message(405, "Method Not Allowed", "Invalid method"),
        },
        ["bridges", id, action] => bridge_action(core, id, action, None, &params, method),
        ["bridges", id, action, sub] => bridge_action(core, id, action, Some(sub), &params, method),
        ["playbacks", id] => match method {
            "GET" => match core.playback_json(id) {
                Some(j) => Response::ok(j),
                None => not_found("Playback not found"),
            },
            "DELETE" => {
                if core.stop_playback(id) {
                    Response::no_content()
                } else {
                    not_found("Playback not found")
                }
            }
            _ => Response::message(405, "Method Not Allowed", "Invalid method"),
        },
        ["playbacks", id, "control"] if method == "POST" => {
            let op = params.get("operation").unwrap_or("");
            match core.control_playback(id, op) {
                None => not_found("Playback not found"),
                Some(Ok(())) => Response::no_content(),
                Some(Err(())) => Response::message(400, "Bad Request", "Invalid operation"),
            }
        }
        ["recordings", "stored"] if method == "GET" => {
            let list: Vec<String> = core
                .recordings
                .stored
                .iter()
                .map(|r| {
                    Obj::new()
                        .str("name", &r.name)
                        .str("format", &r.format)
                        .done()
                })
                .collect();
            Response::ok(raw_list(&list))
        }
        ["recordings", "stored", name] => stored_recording(core, name, method),
        ["recordings", "stored", name, "file"] if method == "GET" => match core.stored_file(name) {
            Some(bytes) => Response {
                status: 200,
                reason: "OK",
                extra: Vec::new(),
                content_type: Some("audio/wav"),
                body: bytes,
                close: false,
            },
            None => not_found("Recording not found"),
        },
        ["recordings", "stored", name, "copy"] if method == "POST" => {
            copy_recording(core, name, params.get("destinationRecordingName"))
        }
        ["recordings", "live", name] => match method {
            "GET" => match core.live_recording_json(name) {
                Some(j) => Response::ok(j),
                None => not_found("Recording not found"),
            },
            "DELETE" => {
                if core.finish_recording(name, false) {
                    Response::no_content()
                } else {
                    not_found("Recording not found")
                }
            }
            _ => Response::message(405, "Method Not Allowed", "Invalid method"),
        },
        ["recordings", "live", name, op] => {
            let done = match (*op, method) {
                ("stop", "POST") => core.finish_recording(name, true),
                ("pause", "POST") | ("mute", "POST") => core.recording_control(name, op, true),
                ("pause", "DELETE") | ("mute", "DELETE") => core.recording_control(name, op, false),
                ("unpause", "POST") => core.recording_control(name, "pause", false),
                ("unmute", "POST") => core.recording_control(name, "mute", false),
                _ => return not_found("Resource not found"),
            };
            if done {
                Response::no_content()
            } else {
                not_found("Recording not found")
            }
        }
        ["endpoints"] | ["endpoints", "PJSIP"] if method == "GET" => {
            let list: Vec<String> = endpoint_names(core)
                .iter()
                .map(|e| endpoint_json(core, e))
                .collect();
            Response::ok(raw_list(&list))
        }
        ["endpoints", tech, resource] if method == "GET" => {
            if *tech == "PJSIP" && endpoint_names(core).iter().any(|e| e == resource) {
                Response::ok(endpoint_json(core, resource))
            } else {
                not_found("Endpoint not found")
            }
        }
        ["deviceStates"] if method == "GET" => {
            let list: Vec<String> = core
                .device_states
                .iter()
                .map(|(n, s)| Obj::new().str("name", n).str("state", s).done())
                .collect();
            Response::ok(raw_list(&list))
        }
        ["deviceStates", name] => device_state(core, name, &params, method),
        ["applications"] if method == "GET" => {
            let list: Vec<String> = core.apps.iter().map(|a| core.application_json(a)).collect();
            Response::ok(raw_list(&list))
        }
        ["applications", name] if method == "GET" => {
            match core.apps.iter().find(|a| a.name == *name) {
                Some(a) => Response::ok(core.application_json(a)),
                None => not_found("Application not found"),
            }
        }
        ["applications", name, "subscription"] => {
            if !core.apps.iter().any(|a| a.name == *name) {
                return not_found("Application not found");
            }
            match params.get("eventSource") {
                None => Response::message(400, "Bad Request", "Missing parameter eventSource"),
                Some(src) => {
                    let exists = src.split(',').all(|s| match s.split_once(':') {
                        Some(("channel", id)) => core.channels.contains_key(id),
                        Some(("bridge", id)) => core.bridge(id).is_some(),
                        Some(("endpoint", _)) | Some(("deviceState", _)) => true,
                        _ => false,
                    });
                    if !exists {
                        return Response::message(
                            422,
                            "Unprocessable Entity",
                            "Event source does not exist",
                        );
                    }
                    for s in src.split(',') {
                        if let Some(("channel", id)) = s.split_once(':') {
                            if let Some(c) = core.channels.get_mut(id) {
                                if method == "POST" {
                                    c.subscribed.insert(name.to_string());
                                } else {
                                    c.subscribed.remove(*name);
                                }
                            }
                        }
                    }
                    match core.apps.iter().find(|a| a.name == *name) {
                        Some(a) => Response::ok(core.application_json(a)),
                        None => not_found("Application not found"),
                    }
                }
            }
        }
        ["sounds"] if method == "GET" => {
            let list: Vec<String> = core
                .config
                .sound_files
                .iter()
                .filter(|s| !s.ends_with('*'))
                .map(|s| {
                    Obj::new()
                        .str("id", s)
                        .raw("formats", "[{\"language\":\"en\",\"format\":\"slin\"}]")
                        .done()
                })
                .collect();
            Response::ok(raw_list(&list))
        }
        _ => not_found("Resource not found"),
    }
}

/// A JSON body: Ok(variables) (empty when none or not an object of objects); Err: 400.
fn parse_body(req: &Request) -> Result<Vec<(String, String)>, Response> {
    if req.body.is_empty() {
        return Ok(Vec::new());
    }
    let value: serde_json::Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => {
            return Err(Response::message(
                400,
                "Bad Request",
                "Error parsing request body",
            ))
        }
    };
    let mut out = Vec::new();
    if let Some(vars) = value.get("variables").and_then(|v| v.as_object()) {
        // Keep the order the client wrote them in (serde_json's map may sort).
        let text = String::from_utf8_lossy(&req.body);
        let mut keys: Vec<(usize, &String)> = vars
            .keys()
            .map(|k| (text.find(&quote(k)).unwrap_or(usize::MAX), k))
            .collect();
        keys.sort();
        for (_, k) in keys {
            if let Some(v) = vars.get(k) {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push((k.clone(), v));
            }
        }
    }
    Ok(out)
}

fn asterisk_info(core: &Core) -> Response {
    let build = Obj::new()
        .str("os", "Linux")
        .str("kernel", "6.18.44-fc-v1300")
        .str("machine", "x86_64")
        .str("options", "OPTIONAL_API")
        .str("date", "2026-12-07 01:22:11 UTC")
        .str("user", "root")
        .done();
    let system = Obj::new()
        .str("version", "22.10.1")
        .str("entity_id", core.asterisk_id())
        .done();
    let setid = Obj::new().str("user", "").str("group", "").done();
    let config = Obj::new()
        .str("name", "")
        .str("default_language", "en")
        .raw("setid", &setid)
        .done();
    let status = Obj::new()
        .str("startup_time", &core.startup_time)
        .str("last_reload_time", &core.startup_time)
        .done();
    Response::ok(
        Obj::new()
            .raw("build", &build)
            .raw("system", &system)
            .raw("config", &config)
            .raw("status", &status)
            .done(),
    )
}

fn endpoint_names(core: &Core) -> Vec<String> {
    let mut names = vec!["callers".to_string()];
    names.extend(core.phones.iter().map(|(u, _)| u.clone()));
    names
}

fn endpoint_json(core: &Core, name: &str) -> String {
    let online = core.phone(name).is_some_and(|p| p.registered);
    let ids: Vec<String> = core
        .channel_order
        .iter()
        .filter(|id| core.channels.get(*id).is_some_and(|c| c.endpoint == name))
        .cloned()
        .collect();
    Obj::new()
        .str("technology", "PJSIP")
        .str("resource", name)
        .str("state", if online { "online" } else { "offline" })
        .strs("channel_ids", &ids)
        .done()
}

fn device_state(core: &mut Core, name: &str, p: &Params, method: &str) -> Response {
    match method {
        "GET" => {
            let state = if let Some((_, s)) = core.device_states.iter().find(|(n, _)| n == name) {
                s.clone()
            } else if let Some(ep) = name.strip_prefix("PJSIP/") {
                core.endpoint_device_state(ep)
            } else {
                "INVALID".to_string()
            };
            Response::ok(Obj::new().str("name", name).str("state", &state).done())
        }
        "PUT" => {
            if !name.starts_with("Stasis:") {
                return Response::message(409, "Conflict", "Uncontrolled device specified");
            }
            const STATES: [&str; 10] = [
                "UNKNOWN",
                "NOT_INUSE",
                "INUSE",
                "BUSY",
                "INVALID",
                "UNAVAILABLE",
                "RINGING",
                "RINGINUSE",
                "ONHOLD",
                "TOTAL",
            ];
            let Some(state) = p.get("deviceState").filter(|s| STATES.contains(s)) else {
                return Response::message(500, "Internal Server Error", "Unknown device");
            };
            match core.device_states.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = state.to_string(),
                None => core
                    .device_states
                    .push((name.to_string(), state.to_string())),
            }
            core.device_state_event(name, state);
            Response::no_content()
        }
        "DELETE" => {
            if !name.starts_with("Stasis:") {
                return Response::message(409, "Conflict", "Uncontrolled device specified");
            }
            let before = core.device_states.len();
            core.device_states.retain(|(n, _)| n != name);
            if before == core.device_states.len() {
                return not_found("Device not found");
            }
            Response::no_content()
        }
        _ => Response::message(405, "Method Not Allowed", "Invalid method"),
    }
}

fn create_bridge(core: &mut Core, p: &Params, id: Option<&str>) -> Response {
    if let Some(id) = id {
        if !valid_id(id) {
            return Response::message(400, "Bad Request", "Invalid bridge id");
        }
    }
    match core.create_bridge(id, p.get("type"), p.get("name")) {
        Ok(id) => match core.bridge(&id) {
            Some(b) => Response::ok(core.bridge_json(b)),
            None => not_found("Bridge not found"),
        },
        Err(BridgeError::BadType) => Response::message(
            500,
            "Internal Error",
            "Unable to create bridge. Possible duplicate bridge id '(null)'",
        ),
        Err(BridgeError::Exists(id)) => Response::message(
            409,
            "Conflict",
            &format!("Bridge with id '{id}' already exists"),
        ),
    }
}

fn bridge_action(
    core: &mut Core,
    id: &str,
    action: &str,
    sub: Option<&str>,
    p: &Params,
    method: &str,
) -> Response {
    if core.bridge(id).is_none() {
        return match action {
            "addChannel" | "removeChannel" => {
                Response::message(404, "Not found", "Bridge not found")
            }
            _ => not_found("Bridge not found"),
        };
    }
    match (action, method) {
        ("addChannel", "POST") => {
            let Some(list) = p.get("channel") else {
                return Response::message(400, "Bad Request", "Missing parameter channel");
            };
            let ids: Vec<&str> = list.split(',').collect();
            for c in &ids {
                match core.channels.get(*c) {
                    None => return Response::message(400, "Bad Request", "Channel not found"),
                    Some(ch) if ch.stasis.is_none() => {
                        return Response::message(
                            422,
                            "Unprocessable Entity",
                            "Channel not in Stasis application",
                        )
                    }
                    Some(_) => {}
                }
            }
            for c in ids {
                core.add_to_bridge(id, c);
            }
            Response::no_content()
        }
        ("removeChannel", "POST") => {
            let Some(list) = p.get("channel") else {
                return Response::message(400, "Bad Request", "Missing parameter channel");
            };
            let ids: Vec<&str> = list.split(',').collect();
            for c in &ids {
                match core.channels.get(*c) {
                    None => return Response::message(400, "Bad Request", "Channel not found"),
                    Some(ch) if ch.bridge.as_deref() != Some(id) => {
                        return Response::message(
                            422,
                            "Unprocessable Entity",
                            "Channel not in this bridge",
                        )
                    }
                    Some(_) => {}
                }
            }
            for c in ids {
                core.leave_bridge(c, id);
            }
            Response::no_content()
        }
        ("play", "POST") => play(core, &format!("bridge:{id}"), p, sub),
        ("record", "POST") => record(core, &format!("bridge:{id}"), p),
        ("moh", _) => Response::no_content(),
        _ => not_found("Resource not found"),
    }
}

fn stored_recording(core: &mut Core, name: &str, method: &str) -> Response {
    let Some(rec) = core
        .recordings
        .stored
        .iter()
        .find(|r| r.name == name)
        .cloned()
        .or_else(|| core.recording_on_disk(name))
    else {
        return not_found("Recording not found");
    };
    match method {
        "GET" => Response::ok(
            Obj::new()
                .str("name", &rec.name)
                .str("format", &rec.format)
                .done(),
        ),
        "DELETE" => {
            core.recordings.stored.retain(|r| r.name != name);
            if let Some(path) = core.recording_path(name) {
                let _ = std::fs::remove_file(path);
            }
            Response::no_content()
        }
        _ => Response::message(405, "Method Not Allowed", "Invalid method"),
    }
}

fn copy_recording(core: &mut Core, name: &str, dest: Option<&str>) -> Response {
    let Some(rec) = core
        .recordings
        .stored
        .iter()
        .find(|r| r.name == name)
        .cloned()
    else {
        return not_found("Recording not found");
    };
    let Some(dest) = dest else {
        return Response::message(400, "Bad Request", "Destination recording name is required");
    };
    if dest.contains("..") || dest.starts_with('/') {
        return Response::message(400, "Bad Request", "Invalid recording name");
    }
    if core.recordings.stored.iter().any(|r| r.name == dest) {
        return Response::message(
            409,
            "Conflict",
            "A recording with the same name already exists on the system",
        );
    }
    if let (Some(from), Some(to)) = (core.recording_path(name), core.recording_path(dest)) {
        let _ = std::fs::copy(from, to);
    }
    let mut copy = rec;
    copy.name = dest.to_string();
    core.recordings.stored.push(copy);
    Response::ok(Obj::new().str("name", dest).str("format", "wav").done())
}

/// A RESTRequest frame over the WebSocket: the RESTResponse text to send back.
pub(crate) fn rest_over_websocket(core: &mut Core, text: &str, app: &str) -> String {
    let msg: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    let field = |k: &str| {
        msg.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let transaction = field("transaction_id");
    let request_id = field("request_id");
    let (response, uri) = if field("type") != "RESTRequest" {
        (
            Response::message(400, "Bad request", "Unknown request type."),
            String::new(),
        )
    } else {
        let uri = field("uri");
        let (path, query) = uri.split_once('?').unwrap_or((uri.as_str(), ""));
        let mut query = super::wire::parse_query(query);
        if let Some(params) = msg.get("query_strings").and_then(|q| q.as_array()) {
            for p in params {
                let k = p.get("name").and_then(|v| v.as_str()).unwrap_or("");
                let v = p.get("value").and_then(|v| v.as_str()).unwrap_or("");
                query.push((k.to_string(), v.to_string()));
            }
        }
        let req = Request {
            method: field("method"),
            path: format!("/ari/{path}"),
            query,
            headers: Vec::new(),
            body: field("message_body").into_bytes(),
        };
        (handle(core, &req), uri.clone())
    };
    let body = String::from_utf8_lossy(&response.body).into_owned();
    Obj::new()
        .str("type", "RESTResponse")
        .str("transaction_id", &transaction)
        .str("request_id", &request_id)
        .num("status_code", i64::from(response.status))
        .str("reason_phrase", response.reason)
        .str("uri", &uri)
        .str("content_type", response.content_type.unwrap_or(""))
        .str("message_body", &body)
        .str("application", app)
        .str("timestamp", &super::wire::ari_timestamp())
        .str("asterisk_id", core.asterisk_id())
        .done()
}
