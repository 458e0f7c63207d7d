//! What Asterisk leaves to its client about bridges: our bridge per call, the partner a
//! leaving leg leaves behind (hung up, or parked when marked), hold with music to the partner,
//! a supervisor's snoop and bridge, conference bridges.

use super::client::AriRequest;
use super::media::{word, Refused};
use super::plan::{channel_path, hangup, ignore, new_id, report, start_media, Context, Step};
use super::state::{ChannelInfo, PlaybackPurpose, Role, SnoopInfo, Tables};
use crate::engine::monitor::MonitorMode;
use crate::engine::{ChannelId, Input};

fn snoop_request(
    target: &ChannelId,
    snoop: &ChannelId,
    mode: MonitorMode,
    app: &str,
) -> AriRequest {
    let whisper = match mode {
        MonitorMode::Whisper => "out",
        _ => "none",
    };
    AriRequest::post(format!("{}/snoop", channel_path(target)))
        .param("spy", "both")
        .param("whisper", whisper)
        .param("app", app.to_owned())
        .param("appArgs", "snoop")
        .param("snoopId", snoop.to_string())
}

/// Connects an answered supervisor leg to what it monitors: a snoop on the agent's leg (the
/// target caller's partner) bridged with the supervisor, or for barge the call's own bridge.
pub fn connect_monitor(
    ctx: &Context,
    tables: &mut Tables,
    leg: &ChannelId,
    target: &ChannelId,
    mode: MonitorMode,
) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(old) = tables.snoops.remove(leg) {
        steps.push(hangup(&old.snoop, 16));
        steps.push(ignore(AriRequest::delete(format!(
            "/bridges/{}",
            old.bridge
        ))));
        tables.bridges.remove(&old.bridge);
    }
    if mode == MonitorMode::Barge {
        if let Some(bridge) = tables.bridge_of(target) {
            tables.join(&bridge, std::slice::from_ref(leg));
            steps.push(report(
                AriRequest::post(format!("/bridges/{bridge}/addChannel"))
                    .param("channel", leg.to_string()),
            ));
        }
        return steps;
    }
    let spied = tables.partner_of(target).unwrap_or_else(|| target.clone());
    let snoop = ChannelId::from_uuid(uuid::Uuid::new_v4());
    let bridge = new_id();
    tables
        .channels
        .insert(snoop.clone(), ChannelInfo::new(Role::Snoop));
    tables.snoops.insert(
        leg.clone(),
        SnoopInfo {
            snoop: snoop.clone(),
            bridge: bridge.clone(),
        },
    );
    if let Some(info) = tables.channel_mut(leg) {
        info.bridge = None;
    }
    tables.bridges.insert(bridge.clone(), vec![leg.clone()]);
    steps.push(report(snoop_request(&spied, &snoop, mode, &ctx.app)));
    steps.push(monitor_bridge(&bridge, leg));
    steps.push(report(
        AriRequest::post(format!("/bridges/{bridge}/addChannel")).param("channel", leg.to_string()),
    ));
    steps
}

/// Creates a supervisor's bridge; a 409 means the other of the two who may create it (the
/// supervisor's plan, the snoop's StasisStart) came first.
fn monitor_bridge(bridge: &str, leg: &ChannelId) -> Step {
    ignore(
        AriRequest::post("/bridges")
            .param("type", "mixing")
            .param("bridgeId", bridge.to_owned())
            .param("name", format!("monitor-{leg}")),
    )
}

/// A snoop of ours entered Stasis: it joins its supervisor's bridge. Not earlier: the snoop
/// enters Stasis only after its 200 (capture `snoop`: StasisStart 0 of 3 times before it), and
/// `addChannel` of a channel outside Stasis is a 422. Runs in the supervisor's lane.
pub fn snoop_started(tables: &Tables, snoop: &ChannelId) -> Option<(ChannelId, Vec<Step>)> {
    let (leg, info) = tables.snoops.iter().find(|(_, s)| &s.snoop == snoop)?;
    Some((
        leg.clone(),
        vec![
            monitor_bridge(&info.bridge, leg),
            report(
                AriRequest::post(format!("/bridges/{}/addChannel", info.bridge))
                    .param("channel", snoop.to_string()),
            ),
        ],
    ))
}

/// The bridge a conference of ours lives in.
pub fn conference_bridge(name: &str) -> Result<String, Refused> {
    Ok(format!(
        "conference-{}",
        word("conference name", name, "._-")?
    ))
}

pub fn create_conference(bridge: &str, name: &str) -> Step {
    // A second create of the same id is a 409: the conference is there already.
    ignore(
        AriRequest::post("/bridges")
            .param("type", "mixing")
            .param("bridgeId", bridge.to_owned())
            .param("name", name.to_owned()),
    )
}

/// What FreeSWITCH's park gives for a leg: a caller's CHANNEL_PARK again; nothing for others.
pub fn park_input(tables: &Tables, channel: &ChannelId) -> Option<Input> {
    match &tables.channels.get(channel)?.role {
        Role::Caller { parked } => parked.as_deref().cloned(),
        _ => None,
    }
}

/// Partners left in a bridge whose other party went: FreeSWITCH hangs them up
/// (hangup_after_bridge) unless marked park_after_bridge, which parks them. The bridge goes
/// once empty.
pub fn orphaned(tables: &mut Tables, bridge: &str, left: &[ChannelId]) -> Vec<Step> {
    // A conference runs on with whoever is left (FreeSWITCH's conference does), until empty.
    if bridge.starts_with("conference-") {
        return if left.is_empty() {
            vec![ignore(AriRequest::delete(format!("/bridges/{bridge}")))]
        } else {
            Vec::new()
        };
    }
    let mut steps = Vec::new();
    for partner in left {
        let park = tables
            .channels
            .get(partner)
            .is_some_and(|c| c.park_after_bridge);
        tables.leave(partner);
        if park {
            steps.push(ignore(
                AriRequest::post(format!("/bridges/{bridge}/removeChannel"))
                    .param("channel", partner.to_string()),
            ));
            if let Some(input) = park_input(tables, partner) {
                steps.push(Step::Emit(input));
            }
        } else {
            steps.push(hangup(partner, 16));
        }
    }
    steps.push(ignore(AriRequest::delete(format!("/bridges/{bridge}"))));
    steps
}

/// Bridges two channels in a new mixing bridge of ours. Partners they leave behind are
/// treated as FreeSWITCH treats a bridge that ends (see [`orphaned`]).
pub fn bridge_pair(tables: &mut Tables, a: &ChannelId, b: &ChannelId, name: &str) -> Vec<Step> {
    let bridge = new_id();
    let mut left_behind = Vec::new();
    for channel in [a, b] {
        if let Some((old, left)) = tables.leave(channel) {
            let left: Vec<ChannelId> = left.into_iter().filter(|c| c != a && c != b).collect();
            left_behind.push((old, left));
        }
    }
    tables.join(&bridge, &[a.clone(), b.clone()]);
    let mut steps = vec![
        report(
            AriRequest::post("/bridges")
                .param("type", "mixing")
                .param("bridgeId", bridge.clone())
                .param("name", name.to_owned()),
        ),
        report(
            AriRequest::post(format!("/bridges/{bridge}/addChannel"))
                .param("channel", format!("{a},{b}")),
        ),
    ];
    for (old, left) in left_behind {
        steps.extend(orphaned(tables, &old, &left));
    }
    steps
}

pub fn hold(
    ctx: &Context,
    tables: &mut Tables,
    channel: &ChannelId,
    on: bool,
) -> Result<Vec<Step>, Refused> {
    let hold_path = format!("{}/hold", channel_path(channel));
    let mut steps = vec![report(if on {
        AriRequest::post(hold_path)
    } else {
        AriRequest::delete(hold_path)
    })];
    if let Some(partner) = tables.partner_of(channel) {
        if on {
            let source = tables
                .channels
                .get(channel)
                .and_then(|c| c.hold_music.clone())
                .unwrap_or_else(|| "local_stream://moh".into());
            steps.push(start_media(tables, &partner, &source, |media| {
                PlaybackPurpose::Loop {
                    source: source.clone(),
                    media,
                }
            })?);
        } else {
            steps.push(ignore(AriRequest::delete(format!(
                "{}/moh",
                channel_path(&partner)
            ))));
            for id in tables.playbacks_of(&partner) {
                if tables
                    .playbacks
                    .get(&id)
                    .is_some_and(|p| matches!(p.purpose, PlaybackPurpose::Loop { .. }))
                {
                    tables.playbacks.remove(&id);
                    steps.push(ignore(AriRequest::delete(format!("/playbacks/{id}"))));
                }
            }
        }
    }
    // Asterisk reports no hold of its own (README: inbound-stasis).
    steps.push(Step::Emit(Input::LegHold {
        switch: ctx.switch.clone(),
        channel: channel.clone(),
        held: on,
    }));
    Ok(steps)
}
