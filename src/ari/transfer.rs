//! Transfers from a desk phone (a SIP REFER) on a leg in one of our bridges.
//!
//! Asterisk never lets a caller leave a Stasis bridge for a transfer: a bridge made with
//! `POST /bridges` has `AST_BRIDGE_FLAG_TRANSFER_BRIDGE_ONLY`, so `ast_bridge_transfer_blind`
//! creates `Local/<exten>@<context>-<n>;1/;2`, swaps `;1` into our bridge in place of the
//! transferring leg (`;1` enters our app with `StasisStart.replace_channel` naming that leg),
//! and `;2` runs the destination in the dialplan. An attended transfer swaps `;1` in the same
//! way and `;2` into the consultation's bridge. The transferring leg is left in Stasis, out of
//! the bridge, until its phone sends BYE (`res/stasis/stasis_bridge.c`, `main/bridge.c`,
//! `res/res_pjsip_refer.c`). *Assumed*: no capture shows a REFER on Asterisk; this follows
//! the source.
//!
//! So the engine hears what FreeSWITCH tells it (`LegTransferred`, Batch 4): the agent's part
//! ends as a transfer and the caller is "away". `;1` stands in for the agent in our bridge
//! (the caller's partner: either one leaving ends the other), and neither half is a call of
//! the engine's. A `;2` that reaches one of our entry points (`Stasis(<app>,queue,…)`) is the
//! caller asking to be queued again: the caller leaves the bridge, the Local pair is hung
//! up, and the caller is parked with the entry point's arguments, as FreeSWITCH parks the
//! same caller again (`phone-refer-to-queue-entry`).

use serde_json::Value;

use super::client::AriRequest;
use super::plan::{hangup, ignore, Step};
use super::state::{ChannelInfo, Role, Tables};
use crate::engine::{ChannelId, Input, LegTransfer, SwitchName, TransferKind};

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn id_at(value: &Value, pointer: &str) -> Option<ChannelId> {
    ChannelId::parse(str_at(value, pointer)).ok()
}

/// `Local/<exten>@<context>-<n>` of a Local half's name `…;1` or `…;2`, and which half.
fn local_pair(name: &str) -> Option<(&str, char)> {
    let rest = name.strip_prefix("Local/")?;
    let (base, half) = rest.rsplit_once(';')?;
    let half = match half {
        "1" => '1',
        "2" => '2',
        _ => return None,
    };
    Some((&name[..base.len() + "Local/".len()], half))
}

/// A StasisStart with `replace_channel`: the `;1` half of a transfer's Local pair takes the
/// place of the transferring leg in our bridge. `None` when the replaced leg was in no bridge
/// of ours (then the channel is not ours either).
pub fn stand_in(tables: &mut Tables, channel: &ChannelId, event: &Value) -> Option<()> {
    let replaced = id_at(event, "/replace_channel/id")?;
    let bridge = tables
        .bridge_of(&replaced)
        .or_else(|| tables.transferred_from.get(&replaced).cloned())?;
    if let Some(info) = tables.channel_mut(&replaced) {
        info.bridge = None;
    }
    tables.transferred_from.remove(&replaced);
    let members = tables.bridges.entry(bridge.clone()).or_default();
    members.retain(|c| c != &replaced);
    members.push(channel.clone());
    let mut info = ChannelInfo::new(Role::Local);
    info.in_stasis = true;
    info.answered = true;
    info.bridge = Some(bridge);
    tables.channels.insert(channel.clone(), info);
    if let Some((pair, '1')) = local_pair(str_at(event, "/channel/name")) {
        tables.local_pairs.insert(pair.to_owned(), channel.clone());
    }
    Some(())
}

/// The transferring leg is out of its bridge: its hangup must not end the caller. The bridge
/// is remembered for the stand-in's StasisStart, which may come after this.
fn leave_for_transfer(tables: &mut Tables, leg: &ChannelId) {
    let Some(bridge) = tables.bridge_of(leg) else {
        return;
    };
    if let Some(info) = tables.channel_mut(leg) {
        info.bridge = None;
    }
    if let Some(members) = tables.bridges.get_mut(&bridge) {
        members.retain(|c| c != leg);
    }
    tables.transferred_from.insert(leg.clone(), bridge);
}

fn transferred(
    switch: &SwitchName,
    tables: &mut Tables,
    leg: ChannelId,
    kind: TransferKind,
    partner: ChannelId,
    destination: String,
) -> Input {
    leave_for_transfer(tables, &leg);
    Input::LegTransferred(LegTransfer {
        switch: switch.clone(),
        leg,
        kind,
        partner,
        destination,
        cause: "NORMAL_CLEARING".into(),
    })
}

/// `BridgeBlindTransfer`: `channel` (ours) sent its partner `transferee` to `exten`.
pub fn blind(switch: &SwitchName, tables: &mut Tables, event: &Value) -> Option<Input> {
    if str_at(event, "/result") != "Success" {
        return None;
    }
    let leg = id_at(event, "/channel/id")?;
    if !tables.channels.contains_key(&leg) {
        return None;
    }
    let partner = id_at(event, "/transferee/id").or_else(|| tables.partner_of(&leg))?;
    let destination = str_at(event, "/exten").to_owned();
    Some(transferred(
        switch,
        tables,
        leg,
        TransferKind::Blind,
        partner,
        destination,
    ))
}

/// `BridgeAttendedTransfer`: the phone joined the two calls it had. The leg of ours is the
/// first (REFER on the held call: its partner is now the consulted `transfer_target`) or the
/// second (REFER on the consultation: the `transferee` is).
pub fn attended(switch: &SwitchName, tables: &mut Tables, event: &Value) -> Option<Input> {
    if str_at(event, "/result") != "Success" {
        return None;
    }
    let ours = |pointer: &str| id_at(event, pointer).filter(|c| tables.channels.contains_key(c));
    let (leg, partner) = match (
        ours("/transferer_first_leg/id"),
        ours("/transferer_second_leg/id"),
    ) {
        (Some(first), _) => (first, id_at(event, "/transfer_target/id")?),
        (None, Some(second)) => (second, id_at(event, "/transferee/id")?),
        (None, None) => return None,
    };
    Some(transferred(
        switch,
        tables,
        leg,
        TransferKind::Attended,
        partner,
        String::new(),
    ))
}

/// The transferee a `;2` half reaching an entry point stands for, when it is the pair of a
/// stand-in of ours: the caller in the stand-in's bridge.
pub fn transferee_of_local(tables: &Tables, name: &str) -> Option<(ChannelId, ChannelId)> {
    let (pair, '2') = local_pair(name)? else {
        return None;
    };
    let stand_in = tables.local_pairs.get(pair)?;
    let caller = tables.partner_of(stand_in)?;
    Some((stand_in.clone(), caller))
}

/// The caller leaves the stand-in's bridge and is parked again with `parked` (the entry
/// point's input, for the caller's channel); the Local pair is hung up.
pub fn park_again(
    tables: &mut Tables,
    local: &ChannelId,
    stand_in: &ChannelId,
    caller: &ChannelId,
    parked: Input,
) -> Vec<(ChannelId, Vec<Step>)> {
    let mut steps = Vec::new();
    if let Some(bridge) = tables.bridge_of(caller) {
        tables.leave(caller);
        tables.leave(stand_in);
        steps.push(ignore(
            AriRequest::post(format!("/bridges/{bridge}/removeChannel"))
                .param("channel", caller.to_string()),
        ));
        steps.push(ignore(AriRequest::delete(format!("/bridges/{bridge}"))));
    }
    if let Some(Role::Caller { parked: stored }) =
        tables.channel_mut(caller).map(|info| &mut info.role)
    {
        *stored = Some(Box::new(parked.clone()));
    }
    tables.local_pairs.retain(|_, c| c != stand_in);
    let mut info = ChannelInfo::new(Role::Local);
    info.in_stasis = true;
    tables.channels.insert(local.clone(), info);
    steps.push(hangup(local, 16));
    steps.push(Step::Emit(parked));
    vec![(caller.clone(), steps)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_halves_are_told_apart_by_their_suffix() {
        assert_eq!(
            local_pair("Local/5010@from-agents-00000001;1"),
            Some(("Local/5010@from-agents-00000001", '1'))
        );
        assert_eq!(
            local_pair("Local/5010@from-agents-00000001;2"),
            Some(("Local/5010@from-agents-00000001", '2'))
        );
        assert_eq!(local_pair("PJSIP/agent1-00000001"), None);
        assert_eq!(local_pair("Local/x@y-1;3"), None);
    }
}
