//! What the controller's configuration asks of a switch: the modules behind the commands it
//! sends, the hold music of its queues, the queues and flow entry points the dialplan must
//! lead to, and the phones its agents ring.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, Provisioning};
use crate::engine::routing::Destination;
use crate::engine::PhoneOutcome;
use crate::flow::{FlowSet, Media, NodeKind};

/// One module and why the controller needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    pub why: String,
}

#[derive(Debug, Clone, Default)]
pub struct Needs {
    pub modules: Vec<Module>,
    /// Hold music sources and the queues that play them.
    pub hold_music: BTreeMap<String, Vec<String>>,
    /// Provisioned queues.
    pub queues: BTreeSet<String>,
    /// Queues a caller can reach without an entry point of their own (a flow's `enqueue`, an
    /// overflow, an exit key).
    pub queues_reached_otherwise: BTreeSet<String>,
    /// Entry points of the loaded flows.
    pub flow_entry_points: BTreeSet<String>,
    /// Pause reason codes (`*24<code>`).
    pub pause_codes: Vec<String>,
    /// Agents and the registered user their dial string rings (`user/<name>[@domain]`,
    /// `PJSIP/<endpoint>`), or `None` for a dial string that is no registered phone
    /// (`sofia/…`, `loopback/…`, `PJSIP/<number>@<trunk>`).
    pub agents: Vec<(String, Option<String>)>,
    /// Where a log-in from a phone no agent has is sent (`[agents] hot_desk_extension`).
    pub hot_desk_extension: Option<String>,
    /// Prompt files (flows' prompts, the agents' phone prompts) and who plays them.
    pub prompts: BTreeMap<String, Vec<String>>,
}

impl Needs {
    pub fn of(config: &Config, provisioning: &Provisioning, flows: Option<&FlowSet>) -> Needs {
        let mut modules: BTreeMap<String, String> = BTreeMap::new();
        let mut need = |name: &str, why: String| {
            modules.entry(name.to_owned()).or_insert(why);
        };
        need(
            "mod_commands",
            "the API commands the controller sends (originate, uuid_bridge, uuid_record, show …)"
                .into(),
        );
        need(
            "mod_dptools",
            "park, set, playback and the user/ endpoint of agents' dial strings".into(),
        );
        need(
            "mod_dialplan_xml",
            "the XML dialplan that parks callers for the controller".into(),
        );
        need("mod_sofia", "SIP: callers and agents' desk phones".into());
        need("mod_sndfile", "WAV prompts and recordings".into());
        need(
            "mod_tone_stream",
            "ringback and the feature codes' tones (tone_stream://)".into(),
        );
        need(
            "mod_conference",
            "conferences over REST (the conference application, profile `default`)".into(),
        );

        let mut needs = Needs {
            hot_desk_extension: config.hot_desk_extension.clone(),
            ..Needs::default()
        };
        for outcome in PhoneOutcome::ALL {
            let source = config.phone_prompts.get(outcome);
            if !source.is_empty() {
                needs
                    .prompts
                    .entry(source.to_owned())
                    .or_default()
                    .push(format!("agents.prompts.{}", outcome.as_str()));
            }
        }
        let media = |source: &str, what: String, need: &mut dyn FnMut(&str, String)| {
            if source.starts_with("local_stream://") {
                need("mod_local_stream", format!("{what} ({source})"));
            }
        };
        for queue in &provisioning.queues {
            let id = queue.id.as_str().to_owned();
            needs.queues.insert(id.clone());
            needs
                .hold_music
                .entry(queue.moh.clone())
                .or_default()
                .push(id.clone());
            media(&queue.moh, format!("hold music of queue {id}"), &mut need);
            let routing = &queue.routing;
            let announcements = &routing.announcements;
            if announcements.position || announcements.wait_time {
                need(
                    &format!("mod_say_{}", announcements.language),
                    format!(
                        "queue {id} says positions or waits in {}",
                        announcements.language
                    ),
                );
            }
            let destinations = routing
                .on_max_wait
                .iter()
                .chain(routing.on_no_agents.iter())
                .chain(routing.exit_keys.iter().map(|k| &k.destination));
            for destination in destinations {
                match destination {
                    Destination::Queue { queue } => {
                        needs
                            .queues_reached_otherwise
                            .insert(queue.as_str().to_owned());
                    }
                    Destination::Voicemail { .. } => need(
                        "mod_voicemail",
                        format!("queue {id} sends callers to voicemail"),
                    ),
                    _ => {}
                }
            }
            if let Some(callback) = &routing.callback {
                if callback.dial.starts_with("loopback/") {
                    need(
                        "mod_loopback",
                        format!("queue {id} calls customers back over loopback/"),
                    );
                }
            }
        }
        for agent in &provisioning.agents {
            let dial = agent.dial_string.as_str();
            // `user/<name>[@domain]`, or on Asterisk `PJSIP/<endpoint>` (not
            // `PJSIP/<number>@<trunk>`, which is no phone of ours).
            let user = match (dial.strip_prefix("user/"), dial.strip_prefix("PJSIP/")) {
                (Some(rest), _) => Some(rest.split('@').next().unwrap_or(rest).to_owned()),
                (_, Some(endpoint)) if !endpoint.contains('@') => Some(endpoint.to_owned()),
                _ => None,
            };
            if dial.starts_with("loopback/") {
                need(
                    "mod_loopback",
                    format!("agent {} is rung over {dial}", agent.id.as_str()),
                );
            }
            needs.agents.push((agent.id.as_str().to_owned(), user));
        }
        needs.pause_codes = provisioning
            .pause_reasons
            .iter()
            .map(|r| r.code.clone())
            .collect();
        if let Some(flows) = flows {
            for flow in flows.flows() {
                needs
                    .flow_entry_points
                    .extend(flow.entry_points.iter().cloned());
                for node in flow.nodes.values() {
                    let what = format!("flow {}", flow.id.as_str());
                    let mut prompts: Vec<&Media> = Vec::new();
                    match &node.kind {
                        NodeKind::Play { media, .. } => prompts.push(media),
                        NodeKind::Menu(menu) => prompts.push(&menu.prompt),
                        NodeKind::Collect(collect) => prompts.push(&collect.prompt),
                        NodeKind::Enqueue(enqueue) => {
                            needs
                                .queues_reached_otherwise
                                .insert(enqueue.queue.as_str().to_owned());
                        }
                        NodeKind::Voicemail { .. } => {
                            need("mod_voicemail", format!("{what} has a voicemail node"))
                        }
                        _ => {}
                    }
                    for prompt in prompts {
                        match prompt {
                            Media::File(source) => {
                                media(source, what.clone(), &mut need);
                                let users = needs.prompts.entry(source.clone()).or_default();
                                if !users.contains(&what) {
                                    users.push(what.clone());
                                }
                            }
                            Media::Say { language, .. } => need(
                                &format!("mod_say_{language}"),
                                format!("{what} says values in {language}"),
                            ),
                            Media::Tone(_) => {}
                        }
                    }
                }
            }
        }
        needs.modules = modules
            .into_iter()
            .map(|(name, why)| Module { name, why })
            .collect();
        needs
    }
}
