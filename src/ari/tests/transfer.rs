//! A desk phone's REFER on a leg in one of our bridges, in events shaped as
//! `res/res_stasis.c` and `main/stasis_bridges.c` write them (*assumed*: no capture shows a
//! transfer on Asterisk): the engine hears `LegTransferred`, the Local stand-in keeps the
//! caller's call going, and a transfer to an entry point parks the same caller again.

use super::*;
use crate::ari::plan::Step;
use crate::ari::translate::translate;
use crate::engine::{Input, TransferKind};

const STAND_IN: &str = "1796607600.40";
const LOCAL_TWO: &str = "1796607600.41";
const COLLEAGUE: &str = "1796607590.30";

fn snapshot(id: &str, name: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"{name}","state":"Up","protocol_id":"","caller":{{"name":"","number":""}},"connected":{{"name":"","number":""}},"accountcode":"","dialplan":{{"context":"from-agents","exten":"5010","priority":1,"app_name":"","app_data":""}},"creationtime":"2026-12-07T01:39:30.000+0000","language":"en"}}"#
    )
}

fn blind_transfer(bridge: &str) -> String {
    format!(
        r#"{{"type":"BridgeBlindTransfer","timestamp":"2026-12-07T01:39:30.100+0000","channel":{},"replace_channel":{},"transferee":{},"bridge":{{"id":"{bridge}","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"stasis","creator":"Stasis","name":"","channels":[]}},"exten":"5010","context":"from-agents","is_external":true,"result":"Success","asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}}"#,
        snapshot(&agent_leg().to_string(), "PJSIP/agent1-00000004"),
        snapshot(STAND_IN, "Local/5010@from-agents-00000001;1"),
        snapshot(&caller().to_string(), "PJSIP/callers-00000003"),
    )
}

fn stand_in_start() -> String {
    format!(
        r#"{{"type":"StasisStart","timestamp":"2026-12-07T01:39:30.101+0000","args":[],"channel":{},"replace_channel":{},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}}"#,
        snapshot(STAND_IN, "Local/5010@from-agents-00000001;1"),
        snapshot(&agent_leg().to_string(), "PJSIP/agent1-00000004"),
    )
}

fn destroyed(id: &str, name: &str) -> String {
    format!(
        r#"{{"type":"ChannelDestroyed","timestamp":"2026-12-07T01:39:31.000+0000","cause":16,"cause_txt":"Normal Clearing","channel":{},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}}"#,
        snapshot(id, name)
    )
}

fn paths(t: &crate::ari::translate::Translation) -> Vec<String> {
    t.followups
        .iter()
        .flat_map(|(_, steps)| requests(steps))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn a_blind_refer_is_the_agent_legs_transfer_and_its_hangup_leaves_the_caller_up() {
    for stand_in_first in [false, true] {
        let (mut tables, bridge) = bridged();
        let mut inputs = Vec::new();
        let order = if stand_in_first {
            [stand_in_start(), blind_transfer(&bridge)]
        } else {
            [blind_transfer(&bridge), stand_in_start()]
        };
        for event in order {
            let t = translate(&ctx(), &mut tables, &event);
            assert!(t.followups.is_empty(), "{t:?}");
            inputs.extend(t.inputs);
        }
        let [Input::LegTransferred(transfer)] = inputs.as_slice() else {
            panic!("{inputs:?}")
        };
        assert_eq!(transfer.leg, agent_leg());
        assert_eq!(transfer.kind, TransferKind::Blind);
        assert_eq!(transfer.partner, caller());
        assert_eq!(transfer.destination, "5010");
        assert_eq!(tables.partner_of(&caller()), Some(ch(STAND_IN)));

        let agent_gone = translate(
            &ctx(),
            &mut tables,
            &destroyed(&agent_leg().to_string(), "PJSIP/agent1-00000004"),
        );
        assert!(paths(&agent_gone).is_empty(), "{agent_gone:?}");

        let stand_in_gone = translate(
            &ctx(),
            &mut tables,
            &destroyed(STAND_IN, "Local/5010@from-agents-00000001;1"),
        );
        assert!(stand_in_gone.inputs.is_empty(), "the engine never knew it");
        assert_eq!(
            paths(&stand_in_gone),
            vec![
                format!("DELETE /channels/{}", caller()),
                format!("DELETE /bridges/{bridge}")
            ]
        );
    }
}

#[test]
fn a_refer_to_an_entry_point_parks_the_same_caller_there_and_ends_the_local_pair() {
    let (mut tables, bridge) = bridged();
    translate(&ctx(), &mut tables, &stand_in_start());
    translate(&ctx(), &mut tables, &blind_transfer(&bridge));
    let local_two = format!(
        r#"{{"type":"StasisStart","timestamp":"2026-12-07T01:39:30.102+0000","args":["queue","sales"],"channel":{},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}}"#,
        snapshot(LOCAL_TWO, "Local/5010@from-agents-00000001;2")
    );
    let t = translate(&ctx(), &mut tables, &local_two);
    assert!(t.inputs.is_empty(), "given once the caller left the bridge");
    assert_eq!(
        paths(&t),
        vec![
            format!("POST /bridges/{bridge}/removeChannel"),
            format!("DELETE /bridges/{bridge}"),
            format!("DELETE /channels/{LOCAL_TWO}"),
        ]
    );
    let parked = t.followups[0].1.iter().find_map(|s| match s {
        Step::Emit(Input::CallParked(p)) => Some(p.clone()),
        _ => None,
    });
    let parked = parked.expect("the caller parked again");
    assert_eq!(parked.channel, caller());
    assert_eq!(parked.queue.as_str(), "sales");
    assert_eq!(parked.caller_number, "1002", "the caller's own number");

    let stand_in_gone = translate(
        &ctx(),
        &mut tables,
        &destroyed(STAND_IN, "Local/5010@from-agents-00000001;1"),
    );
    assert!(
        !paths(&stand_in_gone).contains(&format!("DELETE /channels/{}", caller())),
        "the caller left the bridge first: {stand_in_gone:?}"
    );
    assert!(stand_in_gone.inputs.is_empty());
}

#[test]
fn an_attended_refer_hands_the_caller_to_the_consulted_phone() {
    let (mut tables, bridge) = bridged();
    let event = format!(
        r#"{{"type":"BridgeAttendedTransfer","timestamp":"2026-12-07T01:39:40.000+0000","transferer_first_leg":{},"transferer_second_leg":{},"transferee":{},"transfer_target":{},"transferer_first_leg_bridge":{{"id":"{bridge}"}},"destination_type":"link","destination_link_first_leg":{},"is_external":true,"result":"Success","asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}}"#,
        snapshot(&agent_leg().to_string(), "PJSIP/agent1-00000004"),
        snapshot("1796607590.29", "PJSIP/agent1-00000005"),
        snapshot(&caller().to_string(), "PJSIP/callers-00000003"),
        snapshot(COLLEAGUE, "PJSIP/agent2-00000006"),
        snapshot(STAND_IN, "Local/_attended@transfer-00000001;1"),
    );
    let t = translate(&ctx(), &mut tables, &event);
    let [Input::LegTransferred(transfer)] = t.inputs.as_slice() else {
        panic!("{t:?}")
    };
    assert_eq!(transfer.kind, TransferKind::Attended);
    assert_eq!(transfer.leg, agent_leg());
    assert_eq!(transfer.partner, ch(COLLEAGUE));
    let agent_gone = translate(
        &ctx(),
        &mut tables,
        &destroyed(&agent_leg().to_string(), "PJSIP/agent1-00000004"),
    );
    assert!(paths(&agent_gone).is_empty(), "{agent_gone:?}");
}

#[test]
fn a_failed_transfer_changes_nothing_and_a_stand_in_for_no_leg_of_ours_is_hung_up() {
    let (mut tables, bridge) = bridged();
    let failed = blind_transfer(&bridge).replace(r#""result":"Success""#, r#""result":"Fail""#);
    assert!(translate(&ctx(), &mut tables, &failed).inputs.is_empty());
    assert_eq!(tables.partner_of(&caller()), Some(agent_leg()));
    let stranger = stand_in_start().replace(&agent_leg().to_string(), "1796607000.1");
    let t = translate(&ctx(), &mut tables, &stranger);
    assert_eq!(paths(&t), vec![format!("DELETE /channels/{STAND_IN}")]);
}
