//! The channel resources: originate (`/channels`, `/channels/create`), hangup with its
//! reasons, and each `/channels/<id>/<action>`; playback and record, which bridges share.

use super::super::core::calls::{parse_caller_id, read_function, Originate, OriginateError};
use super::super::core::hangup::Ending;
use super::super::core::media::{RecordError, RecordRequest, SnoopError};
use super::super::core::Core;
use super::super::wire::{Obj, Response};
use super::{
    app_args, channel_not_found, not_found, not_in_stasis, timeout_param, valid_id, Params,
};

pub(super) fn originate(
    core: &mut Core,
    p: &Params,
    path_id: Option<&str>,
    create: bool,
) -> Response {
    let Some(endpoint) = p.get("endpoint") else {
        return Response::message(400, "Bad Request", "Endpoint must be specified");
    };
    let valid_endpoint = endpoint
        .split_once('/')
        .is_some_and(|(tech, res)| !tech.is_empty() && !res.is_empty())
        && endpoint.len() <= 256
        && !endpoint.chars().any(|c| c.is_control());
    if !valid_endpoint {
        return Response::message(400, "Bad Request", "Invalid endpoint specified");
    }
    let app = p.get("app");
    if app.is_none() && (create || p.get("extension").is_none()) {
        return Response::message(
            400,
            "Bad Request",
            "Application or extension must be specified",
        );
    }
    let channel_id = path_id.or(p.get("channelId"));
    if let Some(id) = channel_id {
        if !valid_id(id) {
            return Response::message(400, "Bad Request", "Invalid channel id");
        }
    }
    for (k, _) in &p.variables {
        if k.is_empty() || k.len() > 128 || k.chars().any(|c| c.is_control() || c == '=') {
            return Response::message(400, "Bad Request", "Invalid variable name");
        }
    }
    let req = Originate {
        endpoint: endpoint.to_string(),
        app: app.unwrap_or("").to_string(),
        app_args: app_args(p),
        channel_id: channel_id.map(str::to_string),
        caller_id: p.get("callerId").map(parse_caller_id),
        timeout: timeout_param(p),
        variables: p.variables.clone(),
    };
    let result = if create {
        core.create(req)
    } else {
        core.originate(req)
    };
    match result {
        Ok((_, json)) => Response::ok(json),
        Err(OriginateError::Allocation) => Response::json(
            500,
            "Internal Server Error",
            "{\"error\":\"Allocation failed\"}".into(),
        ),
        Err(OriginateError::IdInUse) => Response::message(
            409,
            "Conflict",
            "Channel with given unique ID already exists",
        ),
    }
}

pub(super) fn delete_channel(core: &mut Core, id: &str, p: &Params) -> Response {
    let reason = p.get("reason");
    let code = p.get("reason_code");
    if reason.is_some() && code.is_some() {
        return Response::message(
            400,
            "Bad Request",
            "The reason and reason_code can't both be specified",
        );
    }
    if !core.channels.contains_key(id) {
        return channel_not_found();
    }
    let cause = match (reason, code) {
        (Some(r), _) => match r {
            "normal" => 16,
            "busy" => 17,
            "noanswer" => 19,
            "no_answer" => 19,
            "answered_elsewhere" => 26,
            "congestion" => 34,
            "rejected" => 21,
            "unallocated" => 1,
            "normal_unspecified" => 31,
            "number_incomplete" => 28,
            "codec_mismatch" => 58,
            "interworking" => 127,
            "failure" => 38,
            _ => {
                return Response::message(
                    400,
                    "Invalid Reason",
                    "Invalid reason for hangup reason provided",
                )
            }
        },
        (None, Some(c)) => match c.parse::<i64>() {
            Ok(n) if (0..=127).contains(&n) => n,
            _ => {
                return Response::message(
                    400,
                    "Invalid Reason",
                    "Invalid reason for hangup reason provided",
                )
            }
        },
        (None, None) => 16,
    };
    core.end_channel(id, Ending::Delete(cause));
    Response::no_content()
}

fn in_stasis(core: &Core, id: &str) -> Result<(), Response> {
    match core.channels.get(id) {
        None => Err(channel_not_found()),
        Some(c) if c.stasis.is_none() => Err(not_in_stasis()),
        Some(_) => Ok(()),
    }
}

pub(super) fn channel_action(
    core: &mut Core,
    id: &str,
    action: &str,
    sub: Option<&str>,
    p: &Params,
    method: &str,
) -> Response {
    if action == "variable" && !core.channels.contains_key(id) {
        return Response::message(404, "Channel Not Found", "Provided channel was not found");
    }
    if !core.channels.contains_key(id) {
        return channel_not_found();
    }
    match (action, method) {
        ("answer", "POST") => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            core.answer(id);
            Response::no_content()
        }
        ("ring", _) => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            Response::no_content()
        }
        ("moh", "POST") | ("moh", "DELETE") => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            let class = p.get("mohClass").unwrap_or("default").to_string();
            let known = core.config.moh_classes.contains(&class);
            if let Some(c) = core.channels.get_mut(id) {
                c.moh = if method == "POST" && known {
                    Some(class)
                } else {
                    None
                };
            }
            Response::no_content()
        }
        ("hold", "POST") | ("hold", "DELETE") => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            let endpoint = match core.channels.get_mut(id) {
                Some(c) => {
                    c.on_hold = method == "POST";
                    c.endpoint.clone()
                }
                None => return channel_not_found(),
            };
            core.refresh_device(&endpoint);
            Response::no_content()
        }
        ("mute", _) | ("silence", _) => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            Response::no_content()
        }
        ("play", "POST") => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            play(core, &format!("channel:{id}"), p, sub)
        }
        ("record", "POST") => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            record(core, &format!("channel:{id}"), p)
        }
        ("dtmf", "POST") => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            match p.get("dtmf") {
                Some(d)
                    if d.chars()
                        .all(|c| c.is_ascii_digit() || "*#ABCDabcdwW".contains(c)) =>
                {
                    Response::no_content()
                }
                Some(_) => Response::message(400, "Bad Request", "Invalid DTMF"),
                None => Response::message(400, "Bad Request", "DTMF is required"),
            }
        }
        ("variable", "GET") => {
            let Some(name) = p.get("variable") else {
                return Response::message(400, "Bad Request", "Variable name is required");
            };
            let Some(c) = core.channels.get(id) else {
                return channel_not_found();
            };
            match read_function(c, name) {
                Ok(Some(v)) => Response::ok(Obj::new().str("value", &v).done()),
                Ok(None) if name == "STASISSTATUS" => Response::ok("{\"value\":\"\"}".into()),
                Ok(None) => {
                    Response::message(404, "Variable Not Found", "Provided variable was not found")
                }
                Err(()) => Response::message(
                    500,
                    "Error With Function",
                    "Unable to read provided function",
                ),
            }
        }
        ("variable", "POST") => {
            let Some(name) = p.get("variable") else {
                return Response::message(400, "Bad Request", "Variable name is required");
            };
            let value = p.req.param("value").unwrap_or("").to_string();
            core.set_channel_variable(id, name, &value);
            Response::no_content()
        }
        ("variables", "GET") => {
            let Some(names) = p.get("variables") else {
                return Response::message(400, "Bad Request", "Variable names are required");
            };
            let Some(c) = core.channels.get(id) else {
                return channel_not_found();
            };
            let mut o = Obj::new();
            for n in names.split(',') {
                let v = read_function(c, n).ok().flatten().unwrap_or_default();
                o = o.str(n, &v);
            }
            Response::ok(Obj::new().raw("variables", &o.done()).done())
        }
        ("variables", "POST") => {
            for (k, v) in p.variables.clone() {
                core.set_channel_variable(id, &k, &v);
            }
            Response::no_content()
        }
        ("snoop", "POST") => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            let result = core.snoop(
                id,
                p.get("spy"),
                p.get("whisper"),
                p.get("app"),
                app_args(p),
                sub.or(p.get("snoopId")),
            );
            match result {
                Ok(json) => Response::ok(json),
                Err(SnoopError::NoDirection) => Response::message(
                    400,
                    "Bad Request",
                    "Direction must be specified for at least spy or whisper",
                ),
                Err(SnoopError::BadSpy) => {
                    Response::message(400, "Bad Request", "Invalid direction specified for spy")
                }
                Err(SnoopError::BadWhisper) => Response::message(
                    400,
                    "Bad Request",
                    "Invalid direction specified for whisper",
                ),
                Err(SnoopError::NoApp) => {
                    Response::message(400, "Bad Request", "Application name is required")
                }
            }
        }
        ("dial", "POST") => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            match core.dial(id, timeout_param(p)) {
                Ok(()) => Response::no_content(),
                Err(()) => Response::message(409, "Conflict", "Channel is not in the 'Down' state"),
            }
        }
        ("continue", "POST") => {
            if let Err(r) = in_stasis(core, id) {
                return r;
            }
            let priority = p.get("priority").and_then(|x| x.parse().ok());
            core.continue_in_dialplan(id, p.get("context"), p.get("extension"), priority);
            Response::no_content()
        }
        _ => not_found("Resource not found"),
    }
}

pub(super) fn play(core: &mut Core, target: &str, p: &Params, path_id: Option<&str>) -> Response {
    let media: Vec<String> = p
        .get("media")
        .map(|m| m.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    if media.is_empty() {
        return Response::message(
            500,
            "Internal Server Error",
            "Failed to queue media for playback",
        );
    }
    const SCHEMES: [&str; 7] = [
        "sound:",
        "recording:",
        "number:",
        "digits:",
        "characters:",
        "tone:",
        "file:",
    ];
    if !media
        .iter()
        .all(|m| SCHEMES.iter().any(|s| m.starts_with(s)) && !m.chars().any(|c| c.is_control()))
    {
        return Response::message(400, "Bad Request", "Invalid media URI");
    }
    let id = path_id.or(p.get("playbackId")).map(str::to_string);
    if let Some(id) = &id {
        if !valid_id(id) {
            return Response::message(400, "Bad Request", "Invalid playback id");
        }
    }
    let json = core.play(target, media, id.clone());
    let id = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| v.get("id").and_then(|x| x.as_str()).map(str::to_string))
        .unwrap_or_default();
    Response::json(201, "Created", json).with_header("Location", format!("/ari/playbacks/{id}"))
}

pub(super) fn record(core: &mut Core, target: &str, p: &Params) -> Response {
    let Some(name) = p.get("name") else {
        return Response::message(400, "Bad Request", "Recording name is required");
    };
    if name.contains("..") || name.starts_with('/') || name.chars().any(|c| c.is_control()) {
        return Response::message(400, "Bad Request", "Invalid recording name");
    }
    let req = RecordRequest {
        name: name.to_string(),
        format: p.get("format").map(str::to_string),
        max_seconds: p
            .get("maxDurationSeconds")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        if_exists: p.get("ifExists").map(str::to_string),
        beep: p.get("beep") == Some("true"),
    };
    match core.record(target, req) {
        Ok(json) => Response::json(201, "Created", json)
            .with_header("Location", format!("/ari/recordings/live/{name}")),
        Err(RecordError::UnknownFormat) => Response::message(
            422,
            "Unprocessable Entity",
            "specified format is unknown on this system",
        ),
        Err(RecordError::BadIfExists) => Response::message(400, "Bad Request", "ifExists invalid"),
        Err(RecordError::Exists(n)) => Response::message(
            409,
            "Conflict",
            &format!("Recording '{n}' already exists and can not be overwritten"),
        ),
    }
}
