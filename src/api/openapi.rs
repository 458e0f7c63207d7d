//! The OpenAPI 3.1 description of the REST API: served at `/v1/openapi.json`, printed by
//! `switchboard openapi`.
//!
//! It is generated, so it cannot drift from what the server does: the paths and methods are
//! the router's own list (`Routes`), who may call each is its rule in `auth::RULES`, path
//! parameters are the pattern's `{name}` segments, and bodies, queries and replies are the JSON
//! Schemas (schemars) of the Rust types the handlers read and write. What code cannot say, a
//! route's tag and summary and which of those types it uses, is its entry in [`DOCS`]; a test
//! checks that the router and [`DOCS`] list the same routes, as the rules are checked. A route
//! added without an entry is still in the document, only bare, and that test fails.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::auth::{rule_for, Rule, Verb};
use super::Problem;

/// Makes the schema of one type, registering the types it names in the generator.
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// Groups of routes, in the order a reader meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Service,
    Queues,
    Agents,
    PauseReasons,
    Calls,
    Flows,
    Webhooks,
    Tokens,
    Events,
    Recordings,
    Retention,
}

impl Tag {
    const ALL: [Tag; 11] = [
        Tag::Service,
        Tag::Queues,
        Tag::Agents,
        Tag::PauseReasons,
        Tag::Calls,
        Tag::Flows,
        Tag::Webhooks,
        Tag::Tokens,
        Tag::Events,
        Tag::Recordings,
        Tag::Retention,
    ];

    fn name(self) -> &'static str {
        match self {
            Tag::Service => "service",
            Tag::Queues => "queues",
            Tag::Agents => "agents",
            Tag::PauseReasons => "pause-reasons",
            Tag::Calls => "calls",
            Tag::Flows => "flows",
            Tag::Webhooks => "webhooks",
            Tag::Tokens => "tokens",
            Tag::Events => "events",
            Tag::Recordings => "recordings",
            Tag::Retention => "retention",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Tag::Service => "Health, metrics, this document, and the wallboard and console pages.",
            Tag::Queues => "Queues and what waits in them, from the live snapshot.",
            Tag::Agents => "Agents: live state, state changes, history and provisioning.",
            Tag::PauseReasons => "The reasons an agent may pause for.",
            Tag::Calls => "Active calls, call history, and changes to a waiting call.",
            Tag::Flows => "IVR flows: what is loaded, diagrams, sessions, exits, reloads.",
            Tag::Webhooks => "Webhook subscriptions and their deliveries.",
            Tag::Tokens => "API tokens and the audit log.",
            Tag::Events => "The live event stream (server-sent events).",
            Tag::Recordings => "Call recordings: search, metadata, audio and evaluations.",
            Tag::Retention => {
                "Legal holds, the recordings' retention purge, erasures by caller number and \
                 the audit of what they removed."
            }
        }
    }
}

/// What a successful reply carries.
#[derive(Clone)]
enum Content {
    Json(SchemaFn),
    /// Text in one of these media types (a diagram, metrics, a stream).
    Text(Vec<&'static str>),
    Empty,
}

/// What only a person can say about a route: its tag, its summary and the types it reads and
/// writes. Built with [`doc`] and the methods below.
pub(super) struct RouteDoc {
    verb: Verb,
    path: &'static str,
    tag: Tag,
    summary: &'static str,
    /// The schema of the query's struct; each of its properties is one query parameter.
    query: Option<SchemaFn>,
    body: Option<SchemaFn>,
    /// Path parameters that are not strings.
    path_types: Vec<(&'static str, SchemaFn)>,
    replies: Vec<(u16, &'static str, Content)>,
}

fn doc(verb: Verb, path: &'static str, tag: Tag, summary: &'static str) -> RouteDoc {
    RouteDoc {
        verb,
        path,
        tag,
        summary,
        query: None,
        body: None,
        path_types: Vec::new(),
        replies: Vec::new(),
    }
}

impl RouteDoc {
    fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(T::json_schema);
        self
    }

    fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(SchemaGenerator::subschema_for::<T>);
        self
    }

    fn path_type<T: JsonSchema>(mut self, name: &'static str) -> Self {
        self.path_types
            .push((name, SchemaGenerator::subschema_for::<T>));
        self
    }

    fn reply(mut self, status: u16, description: &'static str, content: Content) -> Self {
        self.replies.push((status, description, content));
        self
    }

    /// 200 with a JSON body of `T`.
    fn ok<T: JsonSchema>(self) -> Self {
        self.reply(
            200,
            "OK",
            Content::Json(SchemaGenerator::subschema_for::<T>),
        )
    }

    /// 200 with a JSON object built in the handler (not a Rust type of its own).
    fn ok_object(self) -> Self {
        self.reply(200, "OK", Content::Json(any_object))
    }

    /// 201 when created, 200 when replaced, with `T` either way.
    fn created_or_replaced<T: JsonSchema>(self) -> Self {
        let schema = Content::Json(SchemaGenerator::subschema_for::<T>);
        self.reply(201, "Created", schema.clone())
            .reply(200, "Replaced", schema)
    }

    fn text(self, media_types: Vec<&'static str>) -> Self {
        self.reply(200, "OK", Content::Text(media_types))
    }

    fn empty(self, status: u16, description: &'static str) -> Self {
        self.reply(status, description, Content::Empty)
    }
}

fn any_object(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({ "type": "object" })
}

/// One entry per route of the router (a test checks both lists agree).
pub(super) fn docs() -> Vec<RouteDoc> {
    use super::auth::{AuditQuery, NewToken, TokenView};
    use super::call_consult::{ConsultReply, ConsultRequest};
    use super::call_control::{ControlReply, MoveBody, OfferBody, RemoveBody, TransferBody};
    use super::call_hold::HoldReply;
    use super::flows::{DiagramQuery, ExitsQuery, SessionsQuery};
    use super::provisioning::{AgentBody, AgentProvisioning, PauseReasonBody};
    use super::recording_control::{RecordingControlReply, RecordingRequest};
    use super::recordings::{
        EvaluationBody, EvaluationForms, EvaluationList, RecordingList, RecordingView,
        RecordingsQuery, AUDIO_CONTENT_TYPE,
    };
    use super::retention::{ErasureBody, HoldBody, HoldsQuery, RemovalsQuery};
    use super::webhooks::{DeliveryQuery, SubscriptionBody};
    use super::{CallChange, CallsQuery, LimitQuery, StateChange, METRICS_CONTENT_TYPE};
    use crate::app::retention::{ErasureReport, PurgeReport};
    use crate::flow::Format;
    use crate::store::PauseReasonRow;
    use Verb::{Delete, Get, Patch, Post, Put};
    vec![
        doc(
            Get,
            "/healthz",
            Tag::Service,
            "Whether the controller is up, and whether it leads or stands by",
        )
        .ok_object(),
        doc(Get, "/metrics", Tag::Service, "Prometheus metrics").text(vec![METRICS_CONTENT_TYPE]),
        doc(
            Get,
            "/v1/openapi.json",
            Tag::Service,
            "This OpenAPI document",
        )
        .ok_object(),
        doc(
            Get,
            "/v1/queues",
            Tag::Queues,
            "Every queue with its counts",
        )
        .ok_object(),
        doc(Post, "/v1/queues", Tag::Queues, "Create a queue")
            .body::<super::queue_provisioning::QueueBody>()
            .reply(
                201,
                "Created",
                Content::Json(
                    SchemaGenerator::subschema_for::<
                        super::queue_provisioning::QueueProvisioning<'static>,
                    >,
                ),
            ),
        doc(
            Put,
            "/v1/queues/{id}",
            Tag::Queues,
            "Create or replace a queue",
        )
        .body::<super::queue_provisioning::QueueBody>()
        .created_or_replaced::<super::queue_provisioning::QueueProvisioning<'static>>(),
        doc(
            Delete,
            "/v1/queues/{id}",
            Tag::Queues,
            "Remove a queue nothing holds",
        )
        .empty(204, "Removed"),
        doc(
            Get,
            "/v1/queues/{id}/provisioning",
            Tag::Queues,
            "What is provisioned for a queue",
        )
        .ok::<super::queue_provisioning::QueueProvisioning<'static>>(),
        doc(Get, "/v1/agents", Tag::Agents, "Every agent's live state").ok_object(),
        doc(
            Get,
            "/v1/agents/{id}",
            Tag::Agents,
            "One agent's live state",
        )
        .ok_object(),
        doc(
            Put,
            "/v1/agents/{id}",
            Tag::Agents,
            "Create or replace an agent",
        )
        .body::<AgentBody>()
        .created_or_replaced::<AgentProvisioning>(),
        doc(Delete, "/v1/agents/{id}", Tag::Agents, "Remove an agent").empty(204, "Removed"),
        doc(
            Get,
            "/v1/agents/{id}/provisioning",
            Tag::Agents,
            "What is provisioned for an agent",
        )
        .ok::<AgentProvisioning>(),
        doc(
            Put,
            "/v1/agents/{id}/state",
            Tag::Agents,
            "Log an agent in or out, or pause it (on a call: after the call)",
        )
        .body::<StateChange>()
        .ok::<super::after_call::StateReply>()
        .reply(
            202,
            "Pending: applied when the agent's call and its wrap-up end",
            Content::Json(SchemaGenerator::subschema_for::<super::after_call::StateReply>),
        ),
        doc(
            Get,
            "/v1/agents/{id}/states",
            Tag::Agents,
            "An agent's state changes, newest first",
        )
        .query::<LimitQuery>()
        .ok_object(),
        doc(
            Get,
            "/v1/pause-reasons",
            Tag::PauseReasons,
            "The pause reasons",
        )
        .ok_object(),
        doc(
            Put,
            "/v1/pause-reasons/{code}",
            Tag::PauseReasons,
            "Create or replace a pause reason",
        )
        .body::<PauseReasonBody>()
        .created_or_replaced::<PauseReasonRow>(),
        doc(
            Delete,
            "/v1/pause-reasons/{code}",
            Tag::PauseReasons,
            "Remove a pause reason",
        )
        .empty(204, "Removed"),
        doc(
            Get,
            "/v1/calls",
            Tag::Calls,
            "Active calls and recent history; with filters (from, to, queue, agent, outcome, \
             number) or a cursor, a search of the history, newest first, a page at a time",
        )
        .query::<CallsQuery>()
        .ok_object(),
        doc(
            Get,
            "/v1/calls/{id}",
            Tag::Calls,
            "A call's history: queue events, IVR session, survey",
        )
        .ok_object(),
        doc(
            Patch,
            "/v1/calls/{id}",
            Tag::Calls,
            "Change a waiting call's priority or skills",
        )
        .body::<CallChange>()
        .ok_object(),
        doc(
            Post,
            "/v1/calls/{id}/recording",
            Tag::Calls,
            "Start, stop, pause, resume, mask or unmask a call's recording",
        )
        .body::<RecordingRequest>()
        .ok::<RecordingControlReply>(),
        doc(
            Post,
            "/v1/calls/{id}/hold",
            Tag::Calls,
            "Put a connected call on hold (the caller hears the queue's music on hold)",
        )
        .reply(
            202,
            "Asked of the switch; recorded when it reports the hold",
            Content::Json(SchemaGenerator::subschema_for::<HoldReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/resume",
            Tag::Calls,
            "Take a call off hold",
        )
        .reply(
            202,
            "Asked of the switch; recorded when it reports the end of the hold",
            Content::Json(SchemaGenerator::subschema_for::<HoldReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/hangup",
            Tag::Calls,
            "Hang a call up (connected or waiting)",
        )
        .reply(
            202,
            "Asked of the switch; recorded when the switch reports it",
            Content::Json(SchemaGenerator::subschema_for::<ControlReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/transfer",
            Tag::Calls,
            "Blind transfer of a connected call to a queue, an agent or a dialplan extension",
        )
        .body::<TransferBody>()
        .reply(
            202,
            "Asked of the switch; recorded when the switch reports it",
            Content::Json(SchemaGenerator::subschema_for::<ControlReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/move",
            Tag::Calls,
            "Move a waiting caller to another queue, keeping its place or not",
        )
        .body::<MoveBody>()
        .reply(
            202,
            "Asked of the switch; recorded when the switch reports it",
            Content::Json(SchemaGenerator::subschema_for::<ControlReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/offer",
            Tag::Calls,
            "Ring a waiting caller as a direct call to one available agent",
        )
        .body::<OfferBody>()
        .reply(
            202,
            "Asked of the switch; recorded when the switch reports it",
            Content::Json(SchemaGenerator::subschema_for::<ControlReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/remove",
            Tag::Calls,
            "Take a waiting caller out of the queues to an extension, voicemail or a hangup",
        )
        .body::<RemoveBody>()
        .reply(
            202,
            "Asked of the switch; recorded when the switch reports it",
            Content::Json(SchemaGenerator::subschema_for::<ControlReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/consult",
            Tag::Calls,
            "Start a consult transfer: ring another agent while the caller holds",
        )
        .body::<ConsultRequest>()
        .reply(
            202,
            "Asked of the switch; the consult shows in the call",
            Content::Json(SchemaGenerator::subschema_for::<ConsultReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/consult/complete",
            Tag::Calls,
            "Complete the consult: the caller is bridged to the target, same call",
        )
        .reply(
            202,
            "Asked of the switch",
            Content::Json(SchemaGenerator::subschema_for::<ConsultReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/consult/cancel",
            Tag::Calls,
            "Cancel the consult: the target's leg ends, the agent is back with the caller",
        )
        .reply(
            202,
            "Asked of the switch",
            Content::Json(SchemaGenerator::subschema_for::<ConsultReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/consult/swap",
            Tag::Calls,
            "Swap: talk to the caller while the target holds, or back",
        )
        .reply(
            202,
            "Asked of the switch",
            Content::Json(SchemaGenerator::subschema_for::<ConsultReply>),
        ),
        doc(
            Post,
            "/v1/calls/{id}/conference",
            Tag::Calls,
            "Add an agent to the call's conference (started if need be); say whether the others stay when the call's agent leaves",
        )
        .body::<super::call_conference::ConferenceRequest>()
        .reply(
            202,
            "Asked of the switch; the conference shows in the call",
            Content::Json(SchemaGenerator::subschema_for::<super::call_conference::ConferenceReply>),
        ),
        doc(
            Delete,
            "/v1/calls/{id}/conference/parties/{party}",
            Tag::Calls,
            "Drop a party (an agent) from the call's conference: its leg is hung up",
        )
        .reply(
            202,
            "Asked of the switch",
            Content::Json(SchemaGenerator::subschema_for::<super::call_conference::ConferenceReply>),
        ),
        doc(
            Put,
            "/v1/calls/{id}/disposition",
            Tag::Calls,
            "Give a call (connected or in wrap-up) a disposition code of its queue",
        )
        .body::<super::wrap_up::DispositionBody>()
        .ok::<super::wrap_up::DispositionReply>(),
        doc(
            Post,
            "/v1/agents/{id}/wrap-up",
            Tag::Agents,
            "Extend an agent's wrap-up, up to its queue's max_wrap_up",
        )
        .body::<super::wrap_up::ExtendBody>()
        .ok::<super::wrap_up::ExtendReply>(),
        doc(Get, "/v1/flows", Tag::Flows, "The IVR flows loaded").ok_object(),
        doc(
            Post,
            "/v1/flows/reload",
            Tag::Flows,
            "Re-read the flows directory",
        )
        .ok_object(),
        doc(Get, "/v1/flows/{id}", Tag::Flows, "One flow and its nodes").ok_object(),
        doc(
            Get,
            "/v1/flows/{id}/diagram",
            Tag::Flows,
            "A flow drawn as SVG, dot or mermaid",
        )
        .query::<DiagramQuery>()
        .text(
            ["svg", "dot", "mermaid"]
                .into_iter()
                .filter_map(Format::parse)
                .map(Format::content_type)
                .collect(),
        ),
        doc(
            Get,
            "/v1/flows/{id}/exits",
            Tag::Flows,
            "Where callers left a flow",
        )
        .query::<ExitsQuery>()
        .ok_object(),
        doc(
            Get,
            "/v1/flows/{id}/sessions",
            Tag::Flows,
            "The callers who entered a flow, newest first",
        )
        .query::<SessionsQuery>()
        .ok_object(),
        doc(
            Get,
            "/v1/webhooks",
            Tag::Webhooks,
            "The webhook subscriptions and event types",
        )
        .ok_object(),
        doc(
            Put,
            "/v1/webhooks/{name}",
            Tag::Webhooks,
            "Create or replace a subscription",
        )
        .body::<SubscriptionBody>()
        .ok_object(),
        doc(
            Delete,
            "/v1/webhooks/{name}",
            Tag::Webhooks,
            "Remove a subscription",
        )
        .empty(204, "Removed"),
        doc(
            Get,
            "/v1/webhook-deliveries",
            Tag::Webhooks,
            "Webhook deliveries, newest first",
        )
        .query::<DeliveryQuery>()
        .ok_object(),
        doc(
            Get,
            "/v1/webhook-deliveries/{id}",
            Tag::Webhooks,
            "One delivery with its payload",
        )
        .path_type::<i64>("id")
        .ok_object(),
        doc(
            Post,
            "/v1/webhook-deliveries/{id}/replay",
            Tag::Webhooks,
            "Send a delivery again",
        )
        .path_type::<i64>("id")
        .empty(202, "Queued for delivery"),
        doc(
            Get,
            "/v1/tokens",
            Tag::Tokens,
            "The API tokens (never their secrets)",
        )
        .ok_object(),
        doc(
            Post,
            "/v1/tokens",
            Tag::Tokens,
            "Create a token, shown this once",
        )
        .body::<NewToken>()
        .reply(
            201,
            "Created: the token's view plus `token`, the secret",
            Content::Json(SchemaGenerator::subschema_for::<TokenView<'static>>),
        ),
        doc(Delete, "/v1/tokens/{name}", Tag::Tokens, "Remove a token").empty(204, "Removed"),
        doc(
            Get,
            "/v1/events",
            Tag::Events,
            "Live events: a snapshot, then every event as it is written",
        )
        .query::<super::events::EventsQuery>()
        .text(vec!["text/event-stream"]),
        doc(Get, "/v1/audit", Tag::Tokens, "The audit log, newest first")
            .query::<AuditQuery>()
            .ok_object(),
        doc(
            Get,
            "/v1/recordings",
            Tag::Recordings,
            "Search recordings, newest first",
        )
        .query::<RecordingsQuery>()
        .ok::<RecordingList>(),
        doc(
            Get,
            "/v1/recordings/{id}",
            Tag::Recordings,
            "A recording's metadata, intervals and evaluations",
        )
        .ok::<RecordingView>(),
        doc(
            Get,
            "/v1/recordings/{id}/audio",
            Tag::Recordings,
            "A recording's audio, streamed; one `Range: bytes=` for seeking",
        )
        .text(vec![AUDIO_CONTENT_TYPE])
        .reply(
            206,
            "The byte range asked for",
            Content::Text(vec![AUDIO_CONTENT_TYPE]),
        ),
        doc(
            Get,
            "/v1/recordings/{id}/evaluations",
            Tag::Recordings,
            "A recording's evaluations, oldest first",
        )
        .ok::<EvaluationList>(),
        doc(
            Post,
            "/v1/recordings/{id}/evaluations",
            Tag::Recordings,
            "Score a recording against an evaluation form",
        )
        .body::<EvaluationBody>()
        .reply(
            201,
            "Kept, with its totals",
            Content::Json(SchemaGenerator::subschema_for::<crate::store::EvaluationRow>),
        ),
        doc(
            Get,
            "/v1/evaluation-forms",
            Tag::Recordings,
            "The forms supervisors score recordings with",
        )
        .ok::<EvaluationForms>(),
        doc(
            Put,
            "/v1/recordings/{id}/legal-hold",
            Tag::Retention,
            "Place a legal hold on a recording",
        )
        .body::<HoldBody>()
        .reply(201, "Placed", Content::Json(any_object))
        .reply(
            200,
            "A hold already stood: that one",
            Content::Json(any_object),
        ),
        doc(
            Delete,
            "/v1/recordings/{id}/legal-hold",
            Tag::Retention,
            "Release a recording's legal hold",
        )
        .ok_object(),
        doc(
            Put,
            "/v1/calls/{id}/legal-hold",
            Tag::Retention,
            "Place a legal hold on a call: its recordings and its history",
        )
        .body::<HoldBody>()
        .reply(201, "Placed", Content::Json(any_object))
        .reply(
            200,
            "A hold already stood: that one",
            Content::Json(any_object),
        ),
        doc(
            Delete,
            "/v1/calls/{id}/legal-hold",
            Tag::Retention,
            "Release a call's legal hold",
        )
        .ok_object(),
        doc(
            Get,
            "/v1/legal-holds",
            Tag::Retention,
            "Legal holds, newest first",
        )
        .query::<HoldsQuery>()
        .ok_object(),
        doc(
            Post,
            "/v1/recordings/purge",
            Tag::Retention,
            "Run a retention purge pass now",
        )
        .ok::<PurgeReport>(),
        doc(
            Post,
            "/v1/erasures",
            Tag::Retention,
            "Erase what is kept about a caller number",
        )
        .body::<ErasureBody>()
        .ok::<ErasureReport>(),
        doc(
            Get,
            "/v1/data-removals",
            Tag::Retention,
            "What the purge and erasures removed, newest first",
        )
        .query::<RemovalsQuery>()
        .ok_object(),
        doc(
            Post,
            "/v1/calls/{id}/monitor",
            Tag::Calls,
            "Monitor a connected call: ring the supervisor's phone, which joins in listen, \
             whisper or barge mode when answered",
        )
        .body::<super::monitor::MonitorBody>()
        .reply(
            202,
            "The supervisor's phone rings; the session joins when it answers",
            Content::Json(SchemaGenerator::subschema_for::<super::monitor::MonitorReply>),
        ),
        doc(
            Get,
            "/v1/calls/{id}/monitoring",
            Tag::Calls,
            "A call's monitoring history: who monitored it, in which mode, from when to when",
        )
        .ok::<super::monitor::MonitorHistory>(),
        doc(
            Get,
            "/v1/monitors",
            Tag::Calls,
            "Supervisors' monitoring sessions in progress",
        )
        .ok::<super::monitor::MonitorList>(),
        doc(
            Patch,
            "/v1/monitors/{id}",
            Tag::Calls,
            "Change a monitoring session's mode without redialling",
        )
        .body::<super::monitor::MonitorModeBody>()
        .ok::<super::monitor::MonitorReply>(),
        doc(
            Delete,
            "/v1/monitors/{id}",
            Tag::Calls,
            "End a monitoring session (the supervisor's leg is hung up)",
        )
        .reply(
            202,
            "The supervisor's leg is being hung up; the session ends when the switch says so",
            Content::Json(SchemaGenerator::subschema_for::<super::monitor::MonitorReply>),
        ),
        doc(
            Post,
            "/v1/monitors/{id}/take-over",
            Tag::Calls,
            "The supervisor takes the call over: the caller is bridged to the supervisor's \
             phone, the agent's leg hangs up and its part ends as a transfer",
        )
        .reply(
            202,
            "Asked of the switch; the session ends (took_over) when the agent's leg hangs up",
            Content::Json(SchemaGenerator::subschema_for::<super::monitor::MonitorReply>),
        ),
        doc(
            Get,
            "/v1/staffing",
            Tag::Queues,
            "Staffing calculator: the fewest agents an interval's calls need for a service-level \
             target (Erlang C, or Erlang A with the callers' patience), or what a number of \
             agents gives",
        )
        .query::<super::staffing::StaffingQuery>()
        .ok::<super::staffing::StaffingReply>(),
        doc(
            Get,
            "/readyz",
            Tag::Service,
            "Whether the controller can serve: the database answers and, unless it stands by, \
             a switch is connected (503 problem details naming what is down otherwise)",
        )
        .ok_object(),
        doc(
            Get,
            "/wallboard",
            Tag::Service,
            "The wallboard web page (a shell: its numbers come from the API with a token)",
        )
        .text(vec!["text/html"]),
        doc(
            Get,
            "/console",
            Tag::Service,
            "The supervisor's console web page (a shell: its data comes from the API with a \
             token)",
        )
        .text(vec!["text/html"]),
        doc(
            Get,
            "/pages/{asset}",
            Tag::Service,
            "A script or style sheet of the web pages",
        )
        .text(vec!["text/javascript", "text/css"]),
        doc(
            Get,
            "/v1/stats/queues",
            Tag::Queues,
            "Each queue's live numbers: waiting, longest wait, agents by state, thresholds, and \
             totals for today and the rolling window (docs/statistics.md)",
        )
        .ok_object(),
        doc(
            Get,
            "/v1/stats/agents",
            Tag::Agents,
            "Each agent's state, time in state and totals for today; an agent's token: its own",
        )
        .ok_object(),
        doc(
            Get,
            "/v1/reports/queues",
            Tag::Queues,
            "Queues' figures per 15-minute, hourly or daily interval of any period, with every \
             service-level variant; JSON, or CSV with `Accept: text/csv` or `format=csv`",
        )
        .query::<super::reports::QueueReportQuery>()
        .ok_object(),
        doc(
            Get,
            "/v1/reports/agents",
            Tag::Agents,
            "Agents' figures per 15-minute, hourly or daily interval of any period: handled, \
             talk, hold, wrap-up, states, occupancy; JSON, or CSV with `Accept: text/csv` or \
             `format=csv`",
        )
        .query::<super::reports::AgentReportQuery>()
        .ok_object(),
    ]
}

/// Who may call a route, as its description says it.
fn who_may(rule: Rule) -> &'static str {
    match rule {
        Rule::Open => "Open: no token needed.",
        Rule::AnyRole => "Any token.",
        Rule::Read => "Admin, supervisor and integration tokens.",
        Rule::ReadSelf => {
            "Admin, supervisor and integration tokens, and the agent token of the agent `{id}`."
        }
        Rule::ReadOwned => {
            "Admin, supervisor and integration tokens; an agent token sees only its own."
        }
        Rule::Supervise => "Admin and supervisor tokens.",
        Rule::SuperviseSelf => {
            "Admin and supervisor tokens, and the agent token of the agent `{id}`."
        }
        Rule::SuperviseOwned => {
            "Admin and supervisor tokens; an agent token acts only on what is its own."
        }
        Rule::Integrate => "Admin and integration tokens.",
        Rule::Admin => "Admin tokens only.",
    }
}

/// `{name}` segments of a path pattern, in order.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn method(verb: Verb) -> &'static str {
    match verb {
        Verb::Get => "get",
        Verb::Post => "post",
        Verb::Put => "put",
        Verb::Patch => "patch",
        Verb::Delete => "delete",
    }
}

/// `get` `/v1/agents/{id}/state` → `getAgentsIdState`: stable, unique per route, readable as a
/// generated client's method name.
fn operation_id(verb: Verb, path: &str) -> String {
    let mut id = method(verb).to_owned();
    for word in path
        .split(['/', '-', '.', '{', '}'])
        .filter(|w| !w.is_empty() && *w != "v1")
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

/// A query parameter's schema without the `null` its `Option` adds: a parameter is left out,
/// never null.
fn not_null(mut schema: Value) -> Value {
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            schema["type"] = only.clone();
        }
    }
    if schema.get("default").is_some_and(Value::is_null) {
        if let Some(fields) = schema.as_object_mut() {
            fields.remove("default");
        }
    }
    schema
}

fn problem_reply(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
    })
}

fn operation(
    verb: Verb,
    path: &str,
    doc: Option<&RouteDoc>,
    requests: &mut SchemaGenerator,
    replies: &mut SchemaGenerator,
) -> Value {
    let rule = rule_for(verb, path).unwrap_or(Rule::Admin);
    let mut parameters: Vec<Value> = path_parameters(path)
        .map(|name| {
            let schema = doc
                .and_then(|d| d.path_types.iter().find(|(n, _)| *n == name))
                .map_or_else(
                    || json!({ "type": "string" }),
                    |(_, f)| f(requests).to_value(),
                );
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect();
    if let Some(query) = doc.and_then(|d| d.query) {
        let schema = query(requests).to_value();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                let mut property = not_null(property.clone());
                let description = property
                    .as_object_mut()
                    .and_then(|p| p.remove("description"));
                let mut parameter = json!({
                    "name": name,
                    "in": "query",
                    "required": required.contains(&name.as_str()),
                    "schema": property,
                });
                if let Some(description) = description {
                    parameter["description"] = description;
                }
                parameters.push(parameter);
            }
        }
    }
    let mut responses = Map::new();
    for (status, description, content) in doc.map_or(&[][..], |d| d.replies.as_slice()) {
        let reply = match content {
            Content::Json(schema) => json!({
                "description": description,
                "content": { "application/json": { "schema": schema(replies).to_value() } },
            }),
            Content::Text(media_types) => {
                let content: Map<String, Value> = media_types
                    .iter()
                    .map(|m| ((*m).to_owned(), json!({ "schema": { "type": "string" } })))
                    .collect();
                json!({ "description": description, "content": content })
            }
            Content::Empty => json!({ "description": description }),
        };
        responses.insert(status.to_string(), reply);
    }
    if responses.is_empty() {
        responses.insert("200".to_owned(), json!({ "description": "OK" }));
    }
    if rule != Rule::Open {
        responses.insert(
            "401".to_owned(),
            problem_reply("No token, or one that is not known"),
        );
        responses.insert(
            "403".to_owned(),
            problem_reply("The token's role may not make this request"),
        );
    }
    responses.insert("4XX".to_owned(), problem_reply("The request was refused"));
    responses.insert(
        "5XX".to_owned(),
        problem_reply("The server could not answer"),
    );
    let security = if rule == Rule::Open {
        json!([])
    } else {
        json!([{ "bearer": [] }])
    };
    let mut op = json!({
        "operationId": operation_id(verb, path),
        "description": who_may(rule),
        "responses": responses,
        "security": security,
    });
    if let Some(doc) = doc {
        op["summary"] = json!(doc.summary);
        op["tags"] = json!([doc.tag.name()]);
    }
    if !parameters.is_empty() {
        op["parameters"] = json!(parameters);
    }
    if let Some(body) = doc.and_then(|d| d.body) {
        op["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": body(requests).to_value() } },
        });
    }
    op
}

/// Schemas of JSON Schema 2020-12 (OpenAPI 3.1's dialect), their definitions in `components`.
/// Requests and replies get a generator each: a type may read and write differently.
fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
            s.contract = contract;
        })
        .into_generator()
}

/// The document, built from the router's routes, their rules and [`docs`].
pub fn document() -> Value {
    let docs = docs();
    let mut requests = generator(Contract::Deserialize);
    let mut replies = generator(Contract::Serialize);
    let problem = replies.subschema_for::<Problem>();
    let mut paths = Map::new();
    for (verb, path) in super::routes().listed {
        let doc = docs.iter().find(|d| d.verb == verb && d.path == path);
        let op = operation(verb, path, doc, &mut requests, &mut replies);
        let item = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        item[method(verb)] = op;
    }
    let mut schemas = requests.take_definitions(true);
    schemas.extend(replies.take_definitions(true));
    if problem.get("$ref").is_none() {
        schemas.insert("Problem".to_owned(), problem.to_value());
    }
    let tags: Vec<Value> = Tag::ALL
        .iter()
        .map(|t| json!({ "name": t.name(), "description": t.description() }))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard",
            "version": env!("CARGO_PKG_VERSION"),
            "description": env!("CARGO_PKG_DESCRIPTION"),
            "license": {
                "name": env!("CARGO_PKG_LICENSE"),
                "identifier": env!("CARGO_PKG_LICENSE"),
            },
        },
        "servers": [{ "url": "/" }],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (`sb_…`): from `switchboard token new`, the provisioning file's `[[token]]` or `POST /v1/tokens`.",
                },
            },
        },
    })
}

/// `GET /v1/openapi.json`: built once, on first request.
pub(super) async fn serve() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| document().to_string());
    ([(header::CONTENT_TYPE, "application/json")], body.as_str()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut routes: Vec<(Verb, &'static str)>) -> Vec<(Verb, &'static str)> {
        routes.sort_by_key(|(verb, path)| (*path, method(*verb)));
        routes
    }

    #[test]
    fn every_route_of_the_router_has_exactly_one_doc_and_every_doc_a_route() {
        let routes = sorted(super::super::routes().listed);
        let documented = sorted(docs().iter().map(|d| (d.verb, d.path)).collect());
        let undocumented: Vec<_> = routes.iter().filter(|r| !documented.contains(r)).collect();
        let orphaned: Vec<_> = documented.iter().filter(|d| !routes.contains(d)).collect();
        assert!(
            undocumented.is_empty() && orphaned.is_empty(),
            "routes without an entry in docs(): {undocumented:?}; entries without a route: {orphaned:?}"
        );
        let mut unique = documented.clone();
        unique.dedup();
        assert_eq!(
            unique.len(),
            documented.len(),
            "a route is documented twice"
        );
    }

    #[test]
    fn the_document_has_every_route_with_its_method_and_nothing_else() {
        let document = document();
        let mut described = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for verb in [Verb::Get, Verb::Post, Verb::Put, Verb::Patch, Verb::Delete] {
                if item.get(method(verb)).is_some() {
                    described.push((verb, path.clone()));
                }
            }
            assert_eq!(
                item.as_object().map_or(0, Map::len),
                described.iter().filter(|(_, p)| p == path).count(),
                "{path} has something besides its methods"
            );
        }
        let mut routes: Vec<(Verb, String)> = super::super::routes()
            .listed
            .into_iter()
            .map(|(v, p)| (v, p.to_owned()))
            .collect();
        routes.sort_by(|a, b| (&a.1, method(a.0)).cmp(&(&b.1, method(b.0))));
        described.sort_by(|a, b| (&a.1, method(a.0)).cmp(&(&b.1, method(b.0))));
        assert_eq!(described, routes);
    }

    #[test]
    fn each_operation_says_its_rule_and_asks_a_bearer_token_unless_open() {
        let document = document();
        for &(verb, path, rule) in super::super::auth::RULES {
            let op = &document["paths"][path][method(verb)];
            assert_eq!(op["description"], who_may(rule), "{verb:?} {path}");
            let security = if rule == Rule::Open {
                json!([])
            } else {
                json!([{ "bearer": [] }])
            };
            assert_eq!(op["security"], security, "{verb:?} {path}");
        }
        assert_eq!(
            document["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn path_parameters_are_the_patterns_segments_in_braces() {
        let document = document();
        for (verb, path) in super::super::routes().listed {
            let op = &document["paths"][path][method(verb)];
            let in_path: Vec<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(in_path, path_parameters(path).collect::<Vec<_>>(), "{path}");
        }
        let delivery = &document["paths"]["/v1/webhook-deliveries/{id}"]["get"];
        assert_eq!(delivery["parameters"][0]["schema"]["type"], "integer");
    }

    #[test]
    fn queries_and_bodies_come_from_the_handlers_types() {
        let document = document();
        let states = &document["paths"]["/v1/agents/{id}/states"]["get"];
        let limit = &states["parameters"][1];
        assert_eq!(limit["name"], "limit");
        assert_eq!(limit["in"], "query");
        assert_eq!(limit["required"], false);
        assert_eq!(limit["schema"]["type"], "integer");
        let body = &document["paths"]["/v1/agents/{id}"]["put"]["requestBody"];
        assert_eq!(
            body["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/AgentBody"
        );
        let agent_body = &document["components"]["schemas"]["AgentBody"];
        assert_eq!(agent_body["required"], json!(["name", "dial_string"]));
        let problem = &document["components"]["schemas"]["Problem"];
        assert!(problem["properties"]["detail"].is_object());
    }

    #[test]
    fn every_reference_resolves_to_a_schema_in_components() {
        fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        found.push(r);
                    }
                    map.values().for_each(|v| refs(v, found));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
                _ => {}
            }
        }
        let document = document();
        let mut found = Vec::new();
        refs(&document, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/");
            let target = name.and_then(|n| document["components"]["schemas"].get(n));
            assert!(target.is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn operation_ids_are_unique_and_read_as_method_names() {
        assert_eq!(
            operation_id(Verb::Put, "/v1/agents/{id}/state"),
            "putAgentsIdState"
        );
        assert_eq!(
            operation_id(Verb::Get, "/v1/openapi.json"),
            "getOpenapiJson"
        );
        let mut ids: Vec<String> = super::super::routes()
            .listed
            .into_iter()
            .map(|(v, p)| operation_id(v, p))
            .collect();
        let all = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all);
    }

    #[test]
    fn every_tag_used_is_declared() {
        for doc in docs() {
            assert!(Tag::ALL.contains(&doc.tag), "{}", doc.path);
        }
    }
}
