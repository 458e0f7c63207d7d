//! Who may do what: bearer tokens, the rule of every route, and the audit log.
//!
//! Every request passes [`authorize`]: its route's [`Rule`] (from [`RULES`], one line per
//! method and path; a route the table forgets is admin-only, and a test fails) against the
//! [`Principal`] its token stands for. Tokens are looked up by their SHA-256 digest in a copy
//! of the token table held in memory, replaced whenever the API changes the table (a file
//! change takes a restart, like the rest of provisioning). A state-changing request that
//! passed is written to the audit log when it has completed; its body is not (it may hold a
//! PIN). The `Authorization` header is read here and nowhere else, and never logged.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodFilter;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::error;

use super::{wall_clock_ms, ApiState, Problem};
use crate::config::{check_token_agent, BearerToken, Role, TokenHash, TokenName};
use crate::engine::{AgentId, Timestamp};
use crate::store::{AuditEntry, Store, StoreError, TokenRow};

/// An HTTP method a route may have (HEAD is checked as GET, which it answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub fn of(method: &Method) -> Option<Verb> {
        match *method {
            Method::GET | Method::HEAD => Some(Verb::Get),
            Method::POST => Some(Verb::Post),
            Method::PUT => Some(Verb::Put),
            Method::PATCH => Some(Verb::Patch),
            Method::DELETE => Some(Verb::Delete),
            _ => None,
        }
    }

    pub(super) fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No token needed.
    Open,
    /// Any valid token, whatever its role.
    AnyRole,
    /// Admin, supervisor and integration tokens.
    Read,
    /// As `Read`, and the agent token of the agent the path's `{id}` names.
    ReadSelf,
    /// As `Read`, and any agent token: the handler shows an agent only what is its own.
    ReadOwned,
    /// Admin and supervisor tokens: agent states and call actions.
    Supervise,
    /// As `Supervise`, and the agent token of the agent the path's `{id}` names.
    SuperviseSelf,
    /// As `Supervise`, and any agent token: the handler lets an agent act only on what is its
    /// own (the call it is on).
    SuperviseOwned,
    /// Admin and integration tokens: webhook subscriptions and deliveries.
    Integrate,
    /// Admin tokens only: provisioning, flow reloads, tokens, the audit log.
    Admin,
}

/// The rule of every route of the router (method, path pattern, rule). A test checks that
/// the router and this table list the same routes.
pub const RULES: &[(Verb, &str, Rule)] = &[
    (Verb::Get, "/healthz", Rule::Open),
    (Verb::Get, "/metrics", Rule::AnyRole),
    // The API's shape, which the source shows anyway: client generators fetch it without a token.
    (Verb::Get, "/v1/openapi.json", Rule::Open),
    // What a wallboard or an agent's desktop shows: counts per queue, no one's calls.
    (Verb::Get, "/v1/queues", Rule::AnyRole),
    // A supervisor may open an overflow queue during a storm and change it; removing one is
    // an admin's (see docs/decisions.md).
    (Verb::Post, "/v1/queues", Rule::Supervise),
    (Verb::Put, "/v1/queues/{id}", Rule::Supervise),
    (Verb::Delete, "/v1/queues/{id}", Rule::Admin),
    (Verb::Get, "/v1/queues/{id}/provisioning", Rule::Read),
    (Verb::Get, "/v1/agents", Rule::ReadOwned),
    (Verb::Get, "/v1/agents/{id}", Rule::ReadSelf),
    (Verb::Put, "/v1/agents/{id}", Rule::Admin),
    (Verb::Delete, "/v1/agents/{id}", Rule::Admin),
    (Verb::Get, "/v1/agents/{id}/provisioning", Rule::ReadSelf),
    (Verb::Put, "/v1/agents/{id}/state", Rule::SuperviseSelf),
    (Verb::Get, "/v1/agents/{id}/states", Rule::ReadSelf),
    // An agent pausing picks one of them.
    (Verb::Get, "/v1/pause-reasons", Rule::AnyRole),
    (Verb::Put, "/v1/pause-reasons/{code}", Rule::Admin),
    (Verb::Delete, "/v1/pause-reasons/{code}", Rule::Admin),
    (Verb::Get, "/v1/calls", Rule::ReadOwned),
    (Verb::Get, "/v1/calls/{id}", Rule::ReadOwned),
    (Verb::Patch, "/v1/calls/{id}", Rule::Supervise),
    // PCI pause and mask: the agent on the call, or a supervisor on any.
    (Verb::Post, "/v1/calls/{id}/recording", Rule::SuperviseOwned),
    // Hold and resume: the agent on the call, or a supervisor on any.
    (Verb::Post, "/v1/calls/{id}/hold", Rule::SuperviseOwned),
    (
        Verb::Put,
        "/v1/calls/{id}/disposition",
        Rule::SuperviseOwned,
    ),
    (Verb::Post, "/v1/agents/{id}/wrap-up", Rule::SuperviseSelf),
    (Verb::Post, "/v1/calls/{id}/resume", Rule::SuperviseOwned),
    // Hang-up and blind transfer: the agent on the call, or a supervisor on any.
    (Verb::Post, "/v1/calls/{id}/hangup", Rule::SuperviseOwned),
    (Verb::Post, "/v1/calls/{id}/transfer", Rule::SuperviseOwned),
    // Moving, offering and removing waiting callers: supervisors and admins.
    (Verb::Post, "/v1/calls/{id}/move", Rule::Supervise),
    (Verb::Post, "/v1/calls/{id}/offer", Rule::Supervise),
    (Verb::Post, "/v1/calls/{id}/remove", Rule::Supervise),
    // Consult transfers: the agent on the call, or a supervisor on any.
    (Verb::Post, "/v1/calls/{id}/consult", Rule::SuperviseOwned),
    (
        Verb::Post,
        "/v1/calls/{id}/consult/complete",
        Rule::SuperviseOwned,
    ),
    (
        Verb::Post,
        "/v1/calls/{id}/consult/cancel",
        Rule::SuperviseOwned,
    ),
    (
        Verb::Post,
        "/v1/calls/{id}/consult/swap",
        Rule::SuperviseOwned,
    ),
    // Conferences: the agent on the call (or a party), or a supervisor on any.
    (
        Verb::Post,
        "/v1/calls/{id}/conference",
        Rule::SuperviseOwned,
    ),
    (
        Verb::Delete,
        "/v1/calls/{id}/conference/parties/{party}",
        Rule::SuperviseOwned,
    ),
    (Verb::Get, "/v1/flows", Rule::Read),
    (Verb::Post, "/v1/flows/reload", Rule::Admin),
    (Verb::Get, "/v1/flows/{id}", Rule::Read),
    (Verb::Get, "/v1/flows/{id}/diagram", Rule::Read),
    (Verb::Get, "/v1/flows/{id}/exits", Rule::Read),
    (Verb::Get, "/v1/flows/{id}/sessions", Rule::Read),
    (Verb::Get, "/v1/webhooks", Rule::Integrate),
    (Verb::Put, "/v1/webhooks/{name}", Rule::Integrate),
    (Verb::Delete, "/v1/webhooks/{name}", Rule::Integrate),
    (Verb::Get, "/v1/webhook-deliveries", Rule::Integrate),
    (Verb::Get, "/v1/webhook-deliveries/{id}", Rule::Integrate),
    (
        Verb::Post,
        "/v1/webhook-deliveries/{id}/replay",
        Rule::Integrate,
    ),
    (Verb::Get, "/v1/tokens", Rule::Admin),
    (Verb::Post, "/v1/tokens", Rule::Admin),
    (Verb::Delete, "/v1/tokens/{name}", Rule::Admin),
    (Verb::Get, "/v1/audit", Rule::Admin),
    // A wallboard's or a desktop's live feed; an agent's token gets only its agent's events.
    (Verb::Get, "/v1/events", Rule::ReadOwned),
    // An agent's token: only recordings of its own agent's calls (the handlers narrow).
    (Verb::Get, "/v1/recordings", Rule::ReadOwned),
    (Verb::Get, "/v1/recordings/{id}", Rule::ReadOwned),
    (Verb::Get, "/v1/recordings/{id}/audio", Rule::ReadOwned),
    (
        Verb::Get,
        "/v1/recordings/{id}/evaluations",
        Rule::ReadOwned,
    ),
    (
        Verb::Post,
        "/v1/recordings/{id}/evaluations",
        Rule::Supervise,
    ),
    // What agents are scored on is no secret.
    (Verb::Get, "/v1/evaluation-forms", Rule::AnyRole),
    // Compliance: keeping data past its retention, destroying it, and the record of both.
    (Verb::Put, "/v1/recordings/{id}/legal-hold", Rule::Admin),
    (Verb::Delete, "/v1/recordings/{id}/legal-hold", Rule::Admin),
    (Verb::Put, "/v1/calls/{id}/legal-hold", Rule::Admin),
    (Verb::Delete, "/v1/calls/{id}/legal-hold", Rule::Admin),
    (Verb::Get, "/v1/legal-holds", Rule::Admin),
    (Verb::Post, "/v1/recordings/purge", Rule::Admin),
    (Verb::Post, "/v1/erasures", Rule::Admin),
    (Verb::Get, "/v1/data-removals", Rule::Admin),
    // Supervisor monitoring (listen, whisper, barge): supervisors and admins, never an agent.
    (Verb::Post, "/v1/calls/{id}/monitor", Rule::Supervise),
    (Verb::Get, "/v1/calls/{id}/monitoring", Rule::Supervise),
    (Verb::Get, "/v1/monitors", Rule::Supervise),
    (Verb::Patch, "/v1/monitors/{id}", Rule::Supervise),
    (Verb::Delete, "/v1/monitors/{id}", Rule::Supervise),
    (Verb::Post, "/v1/monitors/{id}/take-over", Rule::Supervise),
    // The Erlang C/A calculator: supervisors and admins plan staff (see docs/staffing.md).
    (Verb::Get, "/v1/staffing", Rule::Supervise),
    // Readiness, for load balancers and orchestrators that probe without a token (like
    // /healthz; it says only up or down, never why beyond "database" or a switch's name).
    (Verb::Get, "/readyz", Rule::Open),
    // The wallboard's and the console's files: static, no data in them (everything they show
    // they read from the API with the token the supervisor gives the page).
    (Verb::Get, "/wallboard", Rule::Open),
    (Verb::Get, "/console", Rule::Open),
    (Verb::Get, "/pages/{asset}", Rule::Open),
    // Supervisors' numbers: supervisors and admins; an agent's token sees its own agent's
    // live numbers only (the handler narrows), and no reports.
    (Verb::Get, "/v1/stats/queues", Rule::Supervise),
    (Verb::Get, "/v1/stats/agents", Rule::SuperviseOwned),
    (Verb::Get, "/v1/reports/queues", Rule::Supervise),
    (Verb::Get, "/v1/reports/agents", Rule::Supervise),
];

/// The rule for a route; `None` for one the table does not list.
pub fn rule_for(verb: Verb, pattern: &str) -> Option<Rule> {
    RULES
        .iter()
        .find(|(v, p, _)| *v == verb && *p == pattern)
        .map(|&(_, _, rule)| rule)
}

/// Who a request comes from: its token's name, role and agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token: String,
    pub role: Role,
    pub agent: Option<AgentId>,
}

impl Principal {
    /// What every request is when authentication is off: an admin without a token.
    fn unauthenticated() -> Self {
        Self {
            token: "(auth off)".to_owned(),
            role: Role::Admin,
            agent: None,
        }
    }

    fn of(row: &TokenRow) -> Self {
        Self {
            token: row.name.to_string(),
            role: row.role,
            agent: row.agent.clone(),
        }
    }

    /// The agent whose things alone this principal may see, if it is bound to one. An agent
    /// token without an agent (which the checks never let exist) sees nothing.
    pub fn only_agent(&self) -> Option<Option<&AgentId>> {
        (self.role == Role::Agent).then_some(self.agent.as_ref())
    }
}

/// Why a valid token may not make a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The role may not call the route at all.
    Role,
    /// An agent token, for another agent than its own.
    OtherAgent,
}

/// Whether `who` may make a request under `rule`; `path_agent` is the path's `{id}` on a route
/// about one agent.
pub fn decide(rule: Rule, who: &Principal, path_agent: Option<&str>) -> Result<(), Refusal> {
    let reader = matches!(who.role, Role::Admin | Role::Supervisor | Role::Integration);
    let supervisor = matches!(who.role, Role::Admin | Role::Supervisor);
    let agent = who.role == Role::Agent;
    let own = || match (&who.agent, path_agent) {
        (Some(mine), Some(asked)) if agent && mine.as_str() == asked => Ok(()),
        _ => Err(Refusal::OtherAgent),
    };
    match rule {
        Rule::Open | Rule::AnyRole => Ok(()),
        Rule::Read if reader => Ok(()),
        Rule::ReadOwned if reader || agent => Ok(()),
        Rule::ReadSelf if reader => Ok(()),
        Rule::Supervise if supervisor => Ok(()),
        Rule::SuperviseSelf if supervisor => Ok(()),
        Rule::SuperviseOwned if supervisor || agent => Ok(()),
        Rule::ReadSelf | Rule::SuperviseSelf if agent => own(),
        Rule::Integrate if matches!(who.role, Role::Admin | Role::Integration) => Ok(()),
        Rule::Admin if who.role == Role::Admin => Ok(()),
        _ => Err(Refusal::Role),
    }
}

/// Whether requests need a token, and the tokens there are, by digest.
#[derive(Debug)]
pub struct Auth {
    enabled: bool,
    tokens: RwLock<HashMap<TokenHash, Principal>>,
}

impl Auth {
    pub fn new(enabled: bool, tokens: &[TokenRow]) -> Self {
        let auth = Self {
            enabled,
            tokens: RwLock::new(HashMap::new()),
        };
        auth.replace(tokens);
        auth
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn replace(&self, tokens: &[TokenRow]) {
        let by_hash = tokens.iter().map(|t| (t.hash, Principal::of(t))).collect();
        *self.tokens.write().unwrap_or_else(PoisonError::into_inner) = by_hash;
    }

    fn lookup(&self, hash: &TokenHash) -> Option<Principal> {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hash)
            .cloned()
    }

    /// Reads the token table again, after the API (of this controller or the other of a
    /// pair) changed it.
    pub async fn reload(&self, store: &Store) -> Result<(), StoreError> {
        self.replace(&store.list_tokens().await?);
        Ok(())
    }
}

/// What the `Authorization` header holds.
enum Credentials<'a> {
    Missing,
    Bearer(&'a str),
    Other,
}

fn credentials(headers: &HeaderMap) -> Credentials<'_> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Credentials::Missing;
    };
    let Ok(value) = value.to_str() else {
        return Credentials::Other;
    };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Credentials::Bearer(token.trim())
        }
        _ => Credentials::Other,
    }
}

/// 401 with the challenge RFC 6750 asks for (`error="invalid_token"` when a token was sent).
fn unauthorized(detail: &str, sent: bool) -> Response {
    let mut response = Problem::unauthorized(detail).into_response();
    let challenge = if sent {
        "Bearer realm=\"switchboard\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"switchboard\""
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// The segment of `path` where `pattern` has `{id}`, percent-decoded.
fn path_id(pattern: &str, path: &str) -> Option<String> {
    let at = pattern.split('/').position(|s| s == "{id}")?;
    let raw = path.split('/').nth(at)?;
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Methods that change nothing, left out of the audit log.
fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware: authenticates, applies the route's rule, hands the handler the
/// [`Principal`] and writes the audit log.
pub(super) async fn authorize(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Response {
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let rule = match (&pattern, Verb::of(request.method())) {
        // No route: a valid token gets the 404.
        (None, _) => Rule::AnyRole,
        // A route the table forgot is closed to all but admins.
        (Some(pattern), Some(verb)) => rule_for(verb, pattern).unwrap_or(Rule::Admin),
        (Some(_), None) => Rule::Admin,
    };
    if rule == Rule::Open {
        return next.run(request).await;
    }
    let who = if state.auth.enabled() {
        match credentials(request.headers()) {
            Credentials::Missing => {
                return unauthorized("send a token: Authorization: Bearer <token>", false)
            }
            Credentials::Other => {
                return unauthorized("the Authorization header must be \"Bearer <token>\"", true)
            }
            Credentials::Bearer(token) => match state.auth.lookup(&TokenHash::of(token)) {
                Some(who) => who,
                None => return unauthorized("unknown token", true),
            },
        }
    } else {
        Principal::unauthenticated()
    };
    let path = request.uri().path().to_owned();
    let path_agent = pattern.as_deref().and_then(|p| path_id(p, &path));
    let method = request.method().clone();
    if let Err(refusal) = decide(rule, &who, path_agent.as_deref()) {
        let route = pattern.as_deref().unwrap_or(&path);
        let detail = match refusal {
            Refusal::Role => format!(
                "token {:?} has role {}, which may not {method} {route}",
                who.token, who.role
            ),
            Refusal::OtherAgent => format!(
                "token {:?} is agent {}'s: it reaches only that agent",
                who.token,
                who.agent.as_ref().map_or("(none)", AgentId::as_str)
            ),
        };
        return Problem::forbidden(detail).into_response();
    }
    request.extensions_mut().insert(who.clone());
    let response = next.run(request).await;
    if !is_read(&method) {
        let entry = AuditEntry {
            at: Timestamp::from_millis(wall_clock_ms()),
            token: who.token,
            role: who.role,
            method: method.to_string(),
            path,
            status: response.status().as_u16(),
        };
        if let Err(e) = state.store.write_audit(&entry).await {
            error!(error = %e, method = %entry.method, path = %entry.path, "cannot write the audit log");
        }
    }
    response
}

/// A token as the API shows it: never its digest.
#[derive(Serialize, JsonSchema)]
pub(super) struct TokenView<'a> {
    #[schemars(with = "String")]
    name: &'a TokenName,
    /// `admin`, `supervisor`, `agent` or `integration`.
    #[schemars(with = "String")]
    role: Role,
    /// The agent an `agent` token is bound to.
    #[schemars(with = "Option<String>")]
    agent: Option<&'a AgentId>,
    /// Unix milliseconds.
    #[schemars(with = "i64")]
    created_at: Timestamp,
}

impl<'a> TokenView<'a> {
    fn of(row: &'a TokenRow) -> Self {
        Self {
            name: &row.name,
            role: row.role,
            agent: row.agent.as_ref(),
            created_at: row.created_at,
        }
    }
}

pub(super) async fn list_tokens(State(state): State<ApiState>) -> Result<Response, Problem> {
    let tokens = state
        .store
        .list_tokens()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let views: Vec<TokenView<'_>> = tokens.iter().map(TokenView::of).collect();
    Ok(Json(json!({ "tokens": views })).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewToken {
    name: String,
    /// `admin`, `supervisor`, `agent` or `integration`.
    role: String,
    /// The agent a token with role `agent` is bound to.
    agent: Option<String>,
}

/// Creates a token and shows it, this once (201); only its digest is kept.
pub(super) async fn create_token(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Response, Problem> {
    let body: NewToken = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"name\": .., \"role\": \"admin\" | \"supervisor\" | \"agent\" | \"integration\", \"agent\": ..}}: {e}"
        ))
    })?;
    let name = TokenName::new(body.name).map_err(|e| Problem::invalid("name", e))?;
    let role: Role = body.role.parse().map_err(|e| Problem::invalid("role", e))?;
    let agent = body
        .agent
        .map(AgentId::new)
        .transpose()
        .map_err(|e| Problem::invalid("agent", e))?;
    check_token_agent(role, agent.as_ref()).map_err(|e| Problem::invalid("agent", e))?;
    let _one_change_at_a_time = state.provisioning.lock().await;
    if let Some(agent) = &agent {
        let known = state
            .store
            .get_agent(agent)
            .await
            .map_err(|e| Problem::internal(&e))?;
        if known.is_none() {
            return Err(Problem::invalid(
                "agent",
                format!("no agent {agent} is provisioned"),
            ));
        }
    }
    let token = BearerToken::generate();
    let row = TokenRow {
        name,
        role,
        agent,
        hash: token.hash(),
        created_at: Timestamp::from_millis(wall_clock_ms()),
    };
    let created = state
        .store
        .insert_token(&row)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if !created {
        return Err(Problem::conflict(format!(
            "a token named {:?} exists: delete it first, or choose another name",
            row.name.as_str()
        )));
    }
    state
        .auth
        .reload(&state.store)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let mut shown = serde_json::to_value(TokenView::of(&row)).unwrap_or_default();
    shown["token"] = json!(token.expose());
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(shown),
    )
        .into_response())
}

/// Removes a token (204): it stops working at once. The last admin token stays (409), so the
/// API cannot lock its admins out.
pub(super) async fn delete_token(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let name = TokenName::new(name).map_err(|e| Problem::bad_request(e.to_string()))?;
    let _one_change_at_a_time = state.provisioning.lock().await;
    let tokens = state
        .store
        .list_tokens()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let Some(token) = tokens.iter().find(|t| t.name == name) else {
        return Err(Problem::not_found(format!("no token {:?}", name.as_str())));
    };
    let admins = tokens.iter().filter(|t| t.role == Role::Admin).count();
    if token.role == Role::Admin && admins == 1 {
        return Err(Problem::conflict(format!(
            "{:?} is the last admin token: create another admin token first",
            name.as_str()
        )));
    }
    state
        .store
        .delete_token(&name)
        .await
        .map_err(|e| Problem::internal(&e))?;
    state
        .auth
        .reload(&state.store)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    /// Entries at or after this time (unix milliseconds).
    since: Option<i64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

/// The audit log, newest first.
pub(super) async fn audit(
    State(state): State<ApiState>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let entries = state
        .store
        .audit_entries(query.since.map(Timestamp::from_millis), limit)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(json!({ "entries": entries })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, agent: Option<&str>) -> Principal {
        Principal {
            token: "t".to_owned(),
            role,
            agent: agent.and_then(|a| AgentId::new(a).ok()),
        }
    }

    const EVERY_RULE: [Rule; 10] = [
        Rule::Open,
        Rule::AnyRole,
        Rule::Read,
        Rule::ReadSelf,
        Rule::ReadOwned,
        Rule::Supervise,
        Rule::SuperviseSelf,
        Rule::SuperviseOwned,
        Rule::Integrate,
        Rule::Admin,
    ];

    #[test]
    fn an_admin_may_do_everything() {
        for rule in EVERY_RULE {
            assert_eq!(decide(rule, &who(Role::Admin, None), Some("1001")), Ok(()));
        }
    }

    #[test]
    fn a_supervisor_reads_everything_and_acts_on_agents_and_calls_but_provisions_nothing() {
        let sup = who(Role::Supervisor, None);
        for rule in [
            Rule::AnyRole,
            Rule::Read,
            Rule::ReadSelf,
            Rule::ReadOwned,
            Rule::Supervise,
            Rule::SuperviseSelf,
            Rule::SuperviseOwned,
        ] {
            assert_eq!(decide(rule, &sup, Some("1001")), Ok(()), "{rule:?}");
        }
        assert_eq!(decide(Rule::Admin, &sup, None), Err(Refusal::Role));
    }

    #[test]
    fn an_integration_only_reads() {
        let crm = who(Role::Integration, None);
        for rule in [Rule::AnyRole, Rule::Read, Rule::ReadSelf, Rule::ReadOwned] {
            assert_eq!(decide(rule, &crm, Some("1001")), Ok(()), "{rule:?}");
        }
        for rule in [
            Rule::Supervise,
            Rule::SuperviseSelf,
            Rule::SuperviseOwned,
            Rule::Admin,
        ] {
            assert_eq!(
                decide(rule, &crm, Some("1001")),
                Err(Refusal::Role),
                "{rule:?}"
            );
        }
    }

    #[test]
    fn an_agent_reaches_only_its_own_agent() {
        let alice = who(Role::Agent, Some("1001"));
        for rule in [Rule::ReadSelf, Rule::SuperviseSelf] {
            assert_eq!(decide(rule, &alice, Some("1001")), Ok(()), "{rule:?}");
            assert_eq!(
                decide(rule, &alice, Some("1002")),
                Err(Refusal::OtherAgent),
                "{rule:?}"
            );
            assert_eq!(decide(rule, &alice, None), Err(Refusal::OtherAgent));
        }
        assert_eq!(decide(Rule::ReadOwned, &alice, None), Ok(()));
        // The handler decides which calls are its own.
        assert_eq!(decide(Rule::SuperviseOwned, &alice, Some("call")), Ok(()));
        assert_eq!(decide(Rule::AnyRole, &alice, None), Ok(()));
        for rule in [Rule::Read, Rule::Supervise, Rule::Admin] {
            assert_eq!(
                decide(rule, &alice, Some("1001")),
                Err(Refusal::Role),
                "{rule:?}"
            );
        }
        let unbound = who(Role::Agent, None);
        assert_eq!(
            decide(Rule::ReadSelf, &unbound, Some("1001")),
            Err(Refusal::OtherAgent)
        );
        assert_eq!(unbound.only_agent(), Some(None));
        assert_eq!(who(Role::Supervisor, None).only_agent(), None);
    }

    #[test]
    fn every_route_of_the_router_has_exactly_one_rule_and_every_rule_a_route() {
        let mut routes = super::super::routes().listed;
        routes.sort_by_key(|(verb, path)| (*path, format!("{verb:?}")));
        let mut rules: Vec<(Verb, &str)> = RULES.iter().map(|&(v, p, _)| (v, p)).collect();
        rules.sort_by_key(|(verb, path)| (*path, format!("{verb:?}")));
        assert_eq!(routes, rules);
        let mut unique = rules.clone();
        unique.dedup();
        assert_eq!(unique.len(), rules.len(), "a route is listed twice");
    }

    #[test]
    fn only_the_probes_the_api_description_and_the_pages_files_are_open_and_everything_that_provisions_is_admin_only(
    ) {
        // The description tells no data, only the API's shape, which the source shows anyway;
        // client generators fetch it without a token.
        let open: Vec<&str> = RULES
            .iter()
            .filter(|(_, _, r)| *r == Rule::Open)
            .map(|&(_, p, _)| p)
            .collect();
        assert_eq!(
            open,
            [
                "/healthz",
                "/v1/openapi.json",
                "/readyz",
                "/wallboard",
                "/console",
                "/pages/{asset}"
            ]
        );
        for (verb, path) in [
            (Verb::Put, "/v1/agents/{id}"),
            (Verb::Delete, "/v1/agents/{id}"),
            (Verb::Put, "/v1/pause-reasons/{code}"),
            (Verb::Post, "/v1/flows/reload"),
            (Verb::Post, "/v1/tokens"),
            (Verb::Get, "/v1/audit"),
        ] {
            assert_eq!(rule_for(verb, path), Some(Rule::Admin), "{verb:?} {path}");
        }
        assert_eq!(
            rule_for(Verb::Patch, "/v1/calls/{id}"),
            Some(Rule::Supervise)
        );
        assert_eq!(rule_for(Verb::Get, "/metrics"), Some(Rule::AnyRole));
        assert_eq!(rule_for(Verb::Post, "/v1/agents"), None);
    }

    #[test]
    fn the_agent_of_a_path_is_its_id_segment_decoded() {
        assert_eq!(
            path_id("/v1/agents/{id}/state", "/v1/agents/1001/state").as_deref(),
            Some("1001")
        );
        assert_eq!(
            path_id("/v1/agents/{id}", "/v1/agents/%31001").as_deref(),
            Some("1001")
        );
        assert_eq!(path_id("/v1/agents", "/v1/agents"), None);
    }

    #[test]
    fn only_bearer_credentials_are_taken() {
        let mut headers = HeaderMap::new();
        assert!(matches!(credentials(&headers), Credentials::Missing));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer sb_x"),
        );
        assert!(matches!(credentials(&headers), Credentials::Bearer("sb_x")));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YTpi"),
        );
        assert!(matches!(credentials(&headers), Credentials::Other));
    }

    #[test]
    fn tokens_are_found_by_digest_and_a_reload_forgets_deleted_ones() {
        let token = BearerToken::generate();
        let row = TokenRow {
            name: TokenName::new("crm").unwrap_or_else(|e| panic!("{e}")),
            role: Role::Integration,
            agent: None,
            hash: token.hash(),
            created_at: Timestamp::from_millis(0),
        };
        let auth = Auth::new(true, std::slice::from_ref(&row));
        let found = auth.lookup(&TokenHash::of(token.expose()));
        assert_eq!(
            found.map(|p| (p.token, p.role)),
            Some(("crm".to_owned(), Role::Integration))
        );
        assert_eq!(auth.lookup(&TokenHash::of("sb_other")), None);
        auth.replace(&[]);
        assert_eq!(auth.lookup(&token.hash()), None);
        assert!(!format!("{auth:?}").contains(&token.hash().to_hex()));
    }
}
