//! Translation of events copied from `shared/ari-traces` (`translate`) and rendering of every
//! command (`render`); the shared fixtures here.

mod render;
mod transfer;
mod translate;

use crate::ari::client::AriRequest;
use crate::ari::plan::{Context, Step};
use crate::ari::render::render;
use crate::ari::state::{ChannelInfo, Role, Tables};
use crate::ari::translate::translate;
use crate::engine::{AgentId, CallId, ChannelId, QueueId, SwitchCommand, SwitchName};

pub(super) const CALLER_START: &str = r#"{"type":"StasisStart","timestamp":"2026-12-07T01:39:20.646+0000","args":["queue","support"],"channel":{"id":"1796607560.3","name":"PJSIP/callers-00000003","state":"Ring","protocol_id":"1-6149@127.0.0.1","caller":{"name":"Caller 1002","number":"1002"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-callers","exten":"6000","priority":2,"app_name":"Stasis","app_data":"switchboard,queue,support"},"creationtime":"2026-12-07T01:39:20.645+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

pub(super) const AGENT_START: &str = r#"{"type":"StasisStart","timestamp":"2026-12-07T01:39:22.158+0000","args":["agent","agent1","1796607560.3"],"channel":{"id":"bee63fa3-e219-4b2a-82ce-851b3b3deceb","name":"PJSIP/agent1-00000004","state":"Up","protocol_id":"87c5fce5-57b0-433e-8057-33190f096ce6","caller":{"name":"Support Queue","number":"6000"},"connected":{"name":"Support","number":"6000"},"accountcode":"","dialplan":{"context":"from-agents","exten":"s","priority":1,"app_name":"Stasis","app_data":"switchboard,agent,agent1,1796607560.3"},"creationtime":"2026-12-07T01:39:21.150+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

pub(super) const BUSY_DESTROYED: &str = r#"{"type":"ChannelDestroyed","timestamp":"2026-12-07T01:46:22.011+0000","cause":17,"cause_txt":"User busy","tech_cause":486,"channel":{"id":"d551fc03-2821-425f-9345-8039ad8332e2","name":"PJSIP/agent4-00000000","state":"Down","protocol_id":"7dac11c5-5855-45ac-9ed1-1d2a023d3b9c","caller":{"name":"","number":""},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-agents","exten":"s","priority":1,"app_name":"AppDial2","app_data":"(Outgoing Line)"},"creationtime":"2026-12-07T01:46:22.007+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

pub(super) const CALLER_GONE: &str = r#"{"type":"ChannelDestroyed","timestamp":"2026-12-07T01:39:00.289+0000","cause":0,"cause_txt":"Unknown","channel":{"id":"1796607560.3","name":"PJSIP/callers-00000003","state":"Up","protocol_id":"1-6021@127.0.0.1","caller":{"name":"Caller 1001","number":"1001"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-callers","exten":"6000","priority":2,"app_name":"","app_data":""},"creationtime":"2026-12-07T01:38:50.283+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

pub(super) const CALLER_CANCEL: &str = r#"{"type":"ChannelDestroyed","timestamp":"2026-12-07T01:41:08.705+0000","cause":127,"cause_txt":"Interworking, unspecified","tech_cause":487,"channel":{"id":"1796607665.16","name":"PJSIP/callers-00000010","state":"Ring","protocol_id":"1-7743@127.0.0.1","caller":{"name":"Caller 1003","number":"1003"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-callers","exten":"6000","priority":2,"app_name":"","app_data":""},"creationtime":"2026-12-07T01:41:05.702+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

pub(super) const DTMF: &str = r##"{"type":"ChannelDtmfReceived","timestamp":"2026-12-07T01:41:20.101+0000","digit":"#","duration_ms":280,"channel":{"id":"1796607677.19","name":"PJSIP/callers-00000013","state":"Up","protocol_id":"1-8084@127.0.0.1","caller":{"name":"Caller 1005","number":"1005"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-callers","exten":"6000","priority":2,"app_name":"Stasis","app_data":"switchboard,queue,support"},"creationtime":"2026-12-07T01:41:17.953+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"##;

pub(super) const AGENT_UP_OUTSIDE_STASIS: &str = r#"{"type":"ChannelStateChange","timestamp":"2026-12-07T01:42:34.725+0000","channel":{"id":"1796607754.49","name":"PJSIP/agent1-00000026","state":"Up","protocol_id":"38b4bcf6-c171-4514-b277-3dceecf3ee9f","caller":{"name":"Agent One","number":"agent1"},"connected":{"name":"Caller 1013","number":"1013"},"accountcode":"","dialplan":{"context":"from-agents","exten":"6002","priority":1,"app_name":"AppQueue","app_data":"(Outgoing Line)"},"creationtime":"2026-12-07T01:42:34.218+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

pub(super) fn ctx() -> Context {
    Context {
        switch: SwitchName::new("ast1").expect("name"),
        app: "switchboard".into(),
        recordings_dir: "/var/spool/asterisk/recording".into(),
    }
}

pub(super) fn ch(id: &str) -> ChannelId {
    ChannelId::parse(id).expect("channel id")
}

pub(super) fn caller() -> ChannelId {
    ch("1796607560.3")
}

pub(super) fn agent_leg() -> ChannelId {
    ch("bee63fa3-e219-4b2a-82ce-851b3b3deceb")
}

pub(super) fn call() -> CallId {
    CallId::from_uuid(uuid::Uuid::from_u128(7))
}

pub(super) fn requests(steps: &[Step]) -> Vec<&AriRequest> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Request { request, .. } => Some(request),
            Step::Emit(_) => None,
        })
        .collect()
}

pub(super) fn one_request(tables: &mut Tables, command: SwitchCommand) -> AriRequest {
    let steps = render(&ctx(), tables, &command).expect("renders");
    let found = requests(&steps);
    assert_eq!(found.len(), 1, "{command:?} → {steps:?}");
    found[0].clone()
}

pub(super) fn with_agent_leg(tables: &mut Tables) {
    tables.channels.insert(
        agent_leg(),
        ChannelInfo::new(Role::Agent {
            agent: AgentId::new("agent1").expect("agent"),
            call: call(),
            queue: QueueId::new("support").expect("queue"),
        }),
    );
}

/// A caller and an agent leg bridged as the engine would have them.
pub(super) fn bridged() -> (Tables, String) {
    let mut tables = Tables::default();
    translate(&ctx(), &mut tables, CALLER_START);
    with_agent_leg(&mut tables);
    translate(&ctx(), &mut tables, AGENT_START);
    let steps = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::Bridge {
            caller: caller(),
            agent_leg: agent_leg(),
        },
    )
    .expect("bridge");
    let bridge = requests(&steps)[0]
        .query_value("bridgeId")
        .expect("bridge id")
        .to_owned();
    (tables, bridge)
}
