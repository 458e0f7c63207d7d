//! The append-only history: applying the engine's records, and reading calls, queue events and
//! agent states back.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use super::appends::Appends;
use super::rows::{
    agent_state_row, agent_status, call_row, flow_exit_row, flow_session_row, flow_step_row,
    queue_event_row, survey_row, AgentStateRow, CallRow, Columns, FlowExitRow, FlowSessionRow,
    FlowStepRow, QueueEventRow, SurveyRow,
};
use super::{Store, StoreError};
use crate::engine::{AgentId, AgentStatus, CallId, ChannelId, FlowId, Record, Timestamp};

const CALL_COLUMNS: &str =
    "disposition, id, switch, caller_channel, queue_id, caller_number, caller_name, \
     destination, priority, entered_at, answered_at, ended_at, agent_id, agent_channel, wait_ms, \
     talk_ms, outcome, hangup_cause, hold_ms, holds";

const QUEUE_EVENT_COLUMNS: &str = "id, call_id, queue_id, agent_id, kind, detail, at";

const FLOW_SESSION_COLUMNS: &str = "call_id, switch, caller_channel, flow_id, entry, \
     caller_number, caller_name, destination, entered_at, ended_at, outcome, variables";

const FLOW_STEP_COLUMNS: &str = "id, flow_id, node, kind, digits, outcome, at";

const AGENT_STATE_COLUMNS: &str =
    "id, agent_id, from_status, to_status, cause, reason, at, previous_state_ms";

/// Writes one record. `Ok(false)`: a duplicate the history already holds (a second
/// `CallEntered` or `CallEnded`), kept out, and so not announced again either.
pub(super) async fn apply(
    conn: &mut AnyConnection,
    appends: &mut Appends,
    record: &Record,
) -> Result<bool, StoreError> {
    let mut written = true;
    match record {
        Record::CallEntered {
            call,
            switch,
            channel,
            queue,
            caller_number,
            caller_name,
            destination,
            priority,
            at,
        } => {
            let done = sqlx::query(
                "INSERT INTO calls (id, switch, caller_channel, queue_id, caller_number, \
                 caller_name, destination, priority, entered_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
            )
            .bind(call.to_string())
            .bind(switch.as_str())
            .bind(channel.as_str())
            .bind(queue.as_str())
            .bind(caller_number.as_str())
            .bind(caller_name.as_str())
            .bind(destination.as_str())
            .bind(i64::from(*priority))
            .bind(at.as_millis())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                // A re-adopted call reported again: the first entry, with the original enqueue
                // time, is the history.
                tracing::warn!(%call, "CallEntered for a call already in the history; kept the first");
                written = false;
            }
        }
        Record::CallAnswered {
            call,
            agent,
            agent_channel,
            wait_ms,
            at,
        } => {
            let done = sqlx::query(
                "UPDATE calls SET agent_id = $2, agent_channel = $3, answered_at = $4, wait_ms = $5 \
                 WHERE id = $1",
            )
            .bind(call.to_string())
            .bind(agent.as_str())
            .bind(agent_channel.as_str())
            .bind(at.as_millis())
            .bind(*wait_ms)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::UnknownCall {
                    call: *call,
                    record: "CallAnswered",
                });
            }
        }
        Record::CallEnded {
            call,
            outcome,
            hangup_cause,
            talk_ms,
            wait_ms,
            at,
        } => {
            let done = sqlx::query(
                "UPDATE calls SET ended_at = $2, outcome = $3, hangup_cause = $4, talk_ms = $5, \
                 wait_ms = COALESCE(wait_ms, $6) WHERE id = $1 AND ended_at IS NULL",
            )
            .bind(call.to_string())
            .bind(at.as_millis())
            .bind(outcome.as_str())
            .bind(hangup_cause.as_str())
            .bind(*talk_ms)
            .bind(*wait_ms)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                let exists = sqlx::query("SELECT id FROM calls WHERE id = $1")
                    .bind(call.to_string())
                    .fetch_optional(&mut *conn)
                    .await?
                    .is_some();
                if !exists {
                    return Err(StoreError::UnknownCall {
                        call: *call,
                        record: "CallEnded",
                    });
                }
                // History is append-only: the first end stands.
                tracing::warn!(%call, "CallEnded for a call that had already ended; kept the first");
                written = false;
            }
            super::recordings::close_open_of_call(conn, call, *at).await?;
        }
        Record::QueueEvent {
            call,
            queue,
            agent,
            kind,
            detail,
            at,
        } => {
            appends.queue_event(call, queue, agent.as_ref(), *kind, detail.clone(), *at);
        }
        Record::AgentState {
            agent,
            from,
            to,
            cause,
            reason,
            at,
        } => {
            appends.agent_state(
                agent.as_str().to_owned(),
                (from.as_str(), to.as_str()),
                cause.as_str(),
                reason.clone(),
                at.as_millis(),
            );
        }
        Record::FlowEntered {
            call,
            switch,
            channel,
            flow,
            entry,
            caller_number,
            caller_name,
            destination,
            at,
        } => {
            let done = sqlx::query(
                "INSERT INTO flow_sessions (call_id, switch, caller_channel, flow_id, entry, \
                 caller_number, caller_name, destination, entered_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (call_id) DO NOTHING",
            )
            .bind(call.to_string())
            .bind(switch.as_str())
            .bind(channel.as_str())
            .bind(flow.as_str())
            .bind(entry.as_str())
            .bind(caller_number.as_str())
            .bind(caller_name.as_str())
            .bind(destination.as_str())
            .bind(at.as_millis())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                tracing::warn!(%call, "FlowEntered for a session already in the history; kept the first");
            }
        }
        Record::FlowStep {
            call,
            flow,
            node,
            kind,
            digits,
            outcome,
            survey,
            at,
        } => {
            appends.flow_step(super::appends::FlowStep {
                call: call.to_string(),
                flow: flow.as_str().to_owned(),
                node: node.as_str().to_owned(),
                kind: kind.as_str().to_owned(),
                digits: digits.as_str().to_owned(),
                outcome: outcome.as_str().to_owned(),
                at: at.as_millis(),
                survey: *survey,
            });
        }
        Record::SurveyStarted {
            call,
            flow,
            agent,
            at,
        } => {
            let done = sqlx::query(
                "INSERT INTO call_surveys (call_id, flow_id, agent_id, started_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (call_id) DO NOTHING",
            )
            .bind(call.to_string())
            .bind(flow.as_str())
            .bind(agent.as_str())
            .bind(at.as_millis())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                tracing::warn!(%call, "SurveyStarted for a call that had its survey; kept the first");
            }
        }
        Record::SurveyEnded {
            call,
            outcome,
            answers,
            at,
        } => {
            let answers = json_object(answers)?;
            let done = sqlx::query(
                "UPDATE call_surveys SET ended_at = $2, outcome = $3, answers = $4 \
                 WHERE call_id = $1 AND ended_at IS NULL",
            )
            .bind(call.to_string())
            .bind(at.as_millis())
            .bind(outcome.as_str())
            .bind(answers)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::UnknownCall {
                    call: *call,
                    record: "SurveyEnded",
                });
            }
        }
        Record::FlowEnded {
            call,
            outcome,
            variables,
            at,
        } => {
            let variables = json_object(variables)?;
            let done = sqlx::query(
                "UPDATE flow_sessions SET ended_at = $2, outcome = $3, variables = $4 \
                 WHERE call_id = $1 AND ended_at IS NULL",
            )
            .bind(call.to_string())
            .bind(at.as_millis())
            .bind(outcome.as_str())
            .bind(variables)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                let exists = sqlx::query("SELECT call_id FROM flow_sessions WHERE call_id = $1")
                    .bind(call.to_string())
                    .fetch_optional(&mut *conn)
                    .await?
                    .is_some();
                if !exists {
                    return Err(StoreError::UnknownCall {
                        call: *call,
                        record: "FlowEnded",
                    });
                }
                tracing::warn!(%call, "FlowEnded for a session that had already ended; kept the first");
            }
        }
        // Announced by the outbox (`queue.threshold`); there is no history table of its own.
        Record::QueueThreshold { .. } => {}
        Record::CallPlaced { .. } | Record::FlowWaiting { .. } => {
            super::restart::apply(conn, record).await?
        }
        Record::RecordingStarted { .. }
        | Record::RecordingDeclined { .. }
        | Record::RecordingChanged { .. }
        | Record::RecordingStopped { .. } => super::recordings::apply(conn, record).await?,
        Record::CallHeld { .. } | Record::CallResumed { .. } => {
            super::hold::apply(conn, appends, record).await?
        }
        Record::Monitor { .. } => super::monitor::apply(conn, record).await?,
        Record::AgentAfterCall { .. } => super::after_call::apply(conn, record).await?,
        Record::CallDisposition { call, code, .. } => {
            sqlx::query("UPDATE calls SET disposition = $2 WHERE id = $1")
                .bind(call.to_string())
                .bind(code.clone())
                .execute(&mut *conn)
                .await?;
        }
        // Announced by the outbox (`call.wrapped_up`); the disposition is on the call's row.
        Record::CallWrappedUp { .. } => {}
    }
    if written {
        super::queue_visits::apply(conn, record).await?;
    }
    Ok(written)
}

/// Name-value pairs as the JSON object the history keeps (`{"rating":"5"}`).
pub(super) fn json_object(pairs: &[(String, String)]) -> Result<String, StoreError> {
    let object: BTreeMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    serde_json::to_string(&object).map_err(StoreError::Encode)
}

fn limit(n: u32) -> i64 {
    i64::from(n)
}

impl Store {
    /// Applies a batch of records in one transaction: all of them, or none (the error says
    /// which record failed).
    ///
    /// `CallAnswered` and `CallEnded` for a call not in the history are errors. A second
    /// `CallEntered` or `CallEnded` for the same call is ignored with a warning: the first one
    /// is the history.
    /// `CallEnded` also closes the call's recordings still open, which only a controller
    /// restart leaves (`recordings::close_open_of_call`).
    pub async fn write(&self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        self.check_epoch(&mut tx).await?;
        let mut appends = Appends::default();
        let mut announcements = super::announce::Announcements::default();
        for record in records {
            if apply(&mut tx, &mut appends, record).await? {
                announcements.announce(&mut tx, record).await?;
            }
        }
        appends.write(&mut tx).await?;
        announcements.write(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The `limit` most recent calls, newest first (by the time they entered).
    pub async fn recent_calls(&self, limit_to: u32) -> Result<Vec<CallRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM calls ORDER BY entered_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(call_row).collect()
    }

    /// As `recent_calls`, only the calls `agent` answered.
    pub async fn recent_calls_of_agent(
        &self,
        agent: &AgentId,
        limit_to: u32,
    ) -> Result<Vec<CallRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE agent_id = $1 \
             ORDER BY entered_at DESC, id DESC LIMIT $2"
        ))
        .bind(agent.as_str())
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(call_row).collect()
    }

    /// Calls that have not ended, oldest first: what a restarted controller re-adopts, with
    /// their original enqueue time and priority.
    pub async fn open_calls(&self) -> Result<Vec<CallRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE ended_at IS NULL ORDER BY entered_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(call_row).collect()
    }

    pub async fn call(&self, id: CallId) -> Result<Option<CallRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(call_row).transpose()
    }

    /// A call's queue events, in the order they were written.
    pub async fn queue_events(&self, call: CallId) -> Result<Vec<QueueEventRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {QUEUE_EVENT_COLUMNS} FROM queue_events WHERE call_id = $1 ORDER BY id"
        ))
        .bind(call.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(queue_event_row).collect()
    }

    /// A call's IVR session with its steps in order, if the caller entered a flow.
    pub async fn flow_session(&self, call: CallId) -> Result<Option<FlowSessionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {FLOW_SESSION_COLUMNS} FROM flow_sessions WHERE call_id = $1"
        ))
        .bind(call.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(mut session) = row.as_ref().map(flow_session_row).transpose()? else {
            return Ok(None);
        };
        session.steps = self.flow_steps(call, false).await?;
        Ok(Some(session))
    }

    /// The latest flow session of a caller channel (without its steps): what a restarted
    /// controller needs to take the caller back.
    pub async fn flow_session_of_channel(
        &self,
        channel: &ChannelId,
    ) -> Result<Option<FlowSessionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {FLOW_SESSION_COLUMNS} FROM flow_sessions WHERE caller_channel = $1 \
             ORDER BY entered_at DESC LIMIT 1"
        ))
        .bind(channel.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(flow_session_row).transpose()
    }

    /// The call's post-call survey, with its steps, if the caller went to one.
    pub async fn call_survey(&self, call: CallId) -> Result<Option<SurveyRow>, StoreError> {
        let row = sqlx::query(
            "SELECT call_id, flow_id, agent_id, started_at, ended_at, outcome, answers \
             FROM call_surveys WHERE call_id = $1",
        )
        .bind(call.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(mut survey) = row.as_ref().map(survey_row).transpose()? else {
            return Ok(None);
        };
        survey.steps = self.flow_steps(call, true).await?;
        Ok(Some(survey))
    }

    /// A call's steps in order: of its post-call survey, or of the IVR before the queue.
    async fn flow_steps(&self, call: CallId, survey: bool) -> Result<Vec<FlowStepRow>, StoreError> {
        let steps = sqlx::query(&format!(
            "SELECT {FLOW_STEP_COLUMNS} FROM flow_steps WHERE call_id = $1 AND survey = $2 \
             ORDER BY id"
        ))
        .bind(call.to_string())
        .bind(i64::from(survey))
        .fetch_all(&self.pool)
        .await?;
        steps.iter().map(flow_step_row).collect()
    }

    /// Where callers left the IVR in `flow`: for sessions that ended (entered in
    /// `[since, until)`, unix milliseconds, when given) and whose last step was one of the flow's
    /// nodes, how many ended at each node, by outcome. Most frequent first.
    pub async fn flow_exits(
        &self,
        flow: &FlowId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<FlowExitRow>, StoreError> {
        // The IVR before the queue and the survey after it are separate sessions of one call:
        // each ends at its own last step.
        let rows = sqlx::query(
            "SELECT node, kind, outcome, CAST(SUM(sessions) AS BIGINT) AS sessions FROM ( \
             SELECT s.node, s.kind, f.outcome, COUNT(*) AS sessions \
             FROM flow_sessions f JOIN flow_steps s ON s.call_id = f.call_id \
             WHERE f.ended_at IS NOT NULL AND s.flow_id = $1 AND s.survey = 0 \
             AND f.entered_at >= $2 AND f.entered_at < $3 \
             AND s.id = (SELECT MAX(m.id) FROM flow_steps m \
                         WHERE m.call_id = f.call_id AND m.survey = 0) \
             GROUP BY s.node, s.kind, f.outcome \
             UNION ALL \
             SELECT s.node, s.kind, v.outcome, COUNT(*) AS sessions \
             FROM call_surveys v JOIN flow_steps s ON s.call_id = v.call_id \
             WHERE v.ended_at IS NOT NULL AND s.flow_id = $1 AND s.survey = 1 \
             AND v.started_at >= $2 AND v.started_at < $3 \
             AND s.id = (SELECT MAX(m.id) FROM flow_steps m \
                         WHERE m.call_id = v.call_id AND m.survey = 1) \
             GROUP BY s.node, s.kind, v.outcome \
             ) AS exits GROUP BY node, kind, outcome \
             ORDER BY sessions DESC, node, outcome",
        )
        .bind(flow.as_str())
        .bind(since.map_or(i64::MIN, Timestamp::as_millis))
        .bind(until.map_or(i64::MAX, Timestamp::as_millis))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(flow_exit_row).collect()
    }

    /// Sessions that entered `flow` (in `[since, until)`, unix milliseconds, when given),
    /// newest first, at most `limit`, each with its number of steps.
    pub async fn flow_sessions(
        &self,
        flow: &FlowId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        limit_to: u32,
    ) -> Result<Vec<super::rows::FlowSessionSummary>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {FLOW_SESSION_COLUMNS}, \
             (SELECT COUNT(*) FROM flow_steps s WHERE s.call_id = f.call_id AND s.survey = 0) AS step_count \
             FROM flow_sessions f \
             WHERE f.flow_id = $1 AND f.entered_at >= $2 AND f.entered_at < $3 \
             ORDER BY f.entered_at DESC, f.call_id DESC LIMIT $4"
        ))
        .bind(flow.as_str())
        .bind(since.map_or(i64::MIN, Timestamp::as_millis))
        .bind(until.map_or(i64::MAX, Timestamp::as_millis))
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(super::rows::flow_session_summary_row)
            .collect()
    }

    /// An agent's `limit` most recent state changes, newest first.
    pub async fn agent_state_changes(
        &self,
        agent: &AgentId,
        limit_to: u32,
    ) -> Result<Vec<AgentStateRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_STATE_COLUMNS} FROM agent_state_changes WHERE agent_id = $1 \
             ORDER BY id DESC LIMIT $2"
        ))
        .bind(agent.as_str())
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent_state_row).collect()
    }

    /// Each agent's latest state and when they entered it, by agent id: what a restarted
    /// controller starts from.
    pub async fn last_agent_states(
        &self,
    ) -> Result<Vec<(AgentId, AgentStatus, Timestamp)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.agent_id, s.to_status, s.at FROM agent_state_changes s \
             WHERE s.id = (SELECT MAX(m.id) FROM agent_state_changes m \
             WHERE m.agent_id = s.agent_id)",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut latest = BTreeMap::new();
        for row in &rows {
            let c = Columns::new(row, "agent_state_changes", "id");
            let agent = c.parsed("agent_id", |s: &str| AgentId::new(s))?;
            let status = c.parsed("to_status", agent_status)?;
            let at = Timestamp::from_millis(c.int("at")?);
            latest.insert(agent, (status, at));
        }
        Ok(latest
            .into_iter()
            .map(|(agent, (status, at))| (agent, status, at))
            .collect())
    }

    /// The reason of each agent whose latest state change paused it, so a pause survives a
    /// restart with its reason.
    pub async fn last_pause_reasons(&self) -> Result<Vec<(AgentId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.agent_id, s.reason FROM agent_state_changes s \
             WHERE s.to_status = 'paused' AND s.id = (SELECT MAX(m.id) \
             FROM agent_state_changes m WHERE m.agent_id = s.agent_id)",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut reasons = BTreeMap::new();
        for row in &rows {
            let c = Columns::new(row, "agent_state_changes", "id");
            let agent = c.parsed("agent_id", |s: &str| AgentId::new(s))?;
            let reason = c.opt_text("reason")?.unwrap_or_default();
            reasons.insert(agent, reason);
        }
        Ok(reasons.into_iter().collect())
    }
}
