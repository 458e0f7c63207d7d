//! Recordings over REST: search, metadata, the audio, and supervisors' evaluations.
//!
//! The audio is read from the controller's mount of the switch's recordings directory
//! (`recordings_mount`); without one a recording is metadata only. The stored relative path is
//! checked again before it is joined to the mount, and the file it resolves to (links followed)
//! must still be under the mount. Files are streamed in chunks, never read whole, and a single
//! `Range` is honoured so players can seek.
//!
//! An agent's token reaches only recordings where its agent is the agent; any other id, even
//! one that does not exist, is 403, so ids cannot be probed.

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use tracing::warn;

use super::search_filters::{agent_scope, time_range};
use super::{wall_clock_ms, ApiState, Principal, Problem};
use crate::config::EvaluationForm;
use crate::engine::recording::is_safe_relative_path;
use crate::engine::{CallId, QueueId, RecordingId, Timestamp};
use crate::store::{
    EvaluationRow, NewEvaluation, RecordingCursor, RecordingDetail, RecordingRow, RecordingSearch,
    RecordingStatus,
};

/// Bytes read from a recording per chunk of the reply.
const CHUNK: usize = 64 * 1024;

/// The longest notes an evaluation keeps.
const MAX_NOTES: usize = 4_000;

/// The longest number a search takes.
const MAX_NUMBER: usize = 64;

pub(super) const AUDIO_CONTENT_TYPE: &str = "audio/wav";

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordingsQuery {
    /// Started at or after this time: RFC 3339 (`2024-05-01T08:00:00Z`) or unix milliseconds.
    since: Option<String>,
    /// Started before this time: RFC 3339 or unix milliseconds.
    until: Option<String>,
    /// An agent id (an agent's token may give only its own).
    agent: Option<String>,
    /// A queue id.
    queue: Option<String>,
    /// The caller's number or the number dialled, exactly as the switch reported it.
    number: Option<String>,
    /// A call id.
    call: Option<String>,
    /// `recording`, `stopped`, `failed` or `declined`.
    status: Option<String>,
    /// At most this many (default 50, at most 500).
    limit: Option<u32>,
    /// The `next` of the previous page: the recordings after it.
    before: Option<String>,
}

/// One page of recordings, newest first.
#[derive(Serialize, JsonSchema)]
pub(super) struct RecordingList {
    recordings: Vec<RecordingRow>,
    /// Pass as `before` for the next page; null on the last one.
    #[schemars(with = "Option<String>")]
    next: Option<RecordingCursor>,
}

/// A recording's metadata, where its audio is, and its evaluations.
#[derive(Serialize, JsonSchema)]
pub(super) struct RecordingView {
    #[serde(flatten)]
    detail: RecordingDetail,
    /// Where the audio is served; null when the controller has no mount of the switch's
    /// recordings (metadata only) or the recording has no finished file.
    audio: Option<String>,
    /// Every evaluation, oldest first, without scores and notes (see `/evaluations`).
    evaluations: Vec<EvaluationSummary>,
}

#[derive(Serialize, JsonSchema)]
pub(super) struct EvaluationSummary {
    id: i64,
    form: String,
    evaluator: String,
    total: i64,
    max_total: i64,
    /// RFC 3339.
    at: String,
}

impl EvaluationSummary {
    fn of(e: &EvaluationRow) -> Self {
        Self {
            id: e.id,
            form: e.form.clone(),
            evaluator: e.evaluator.clone(),
            total: e.total,
            max_total: e.max_total,
            at: crate::cti::rfc3339(e.at).unwrap_or_default(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub(super) struct EvaluationForms {
    forms: Vec<EvaluationForm>,
}

#[derive(Serialize, JsonSchema)]
pub(super) struct EvaluationList {
    #[schemars(with = "String")]
    recording: RecordingId,
    evaluations: Vec<EvaluationRow>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EvaluationBody {
    /// A form's name (`GET /v1/evaluation-forms`).
    form: String,
    /// A score for every criterion of the form, each from 0 to the criterion's `max`.
    scores: BTreeMap<String, i64>,
    #[serde(default)]
    notes: String,
}

fn parse_recording_id(raw: &str) -> Result<RecordingId, Problem> {
    RecordingId::parse(raw).map_err(|e| Problem::bad_request(e.to_string()))
}

fn not_yours(who: &Principal) -> Problem {
    Problem::forbidden(format!(
        "token {:?} is an agent's: it reads only recordings of its own agent's calls",
        who.token
    ))
}

/// The recording `raw` names, if `who` may read it.
async fn readable(
    state: &ApiState,
    who: &Principal,
    raw: &str,
) -> Result<RecordingDetail, Problem> {
    let id = parse_recording_id(raw)?;
    let found = state
        .store
        .recording(id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if let Some(me) = who.only_agent() {
        let own = found
            .as_ref()
            .is_some_and(|d| d.recording.agent.is_some() && d.recording.agent.as_ref() == me);
        if !own {
            return Err(not_yours(who));
        }
    }
    found.ok_or_else(|| Problem::not_found(format!("no recording {id}")))
}

/// The search a query asks for, narrowed to the agent's own recordings for an agent's token;
/// `None` for an agent token without an agent, which sees nothing.
fn search_of(query: RecordingsQuery, who: &Principal) -> Result<Option<RecordingSearch>, Problem> {
    let (since, until) = time_range(
        ("since", query.since.as_deref()),
        ("until", query.until.as_deref()),
    )?;
    let Some(agent) = agent_scope(who, query.agent, not_yours)? else {
        return Ok(None);
    };
    let queue = query
        .queue
        .map(|q| QueueId::new(q).map_err(|e| Problem::bad_request(format!("queue: {e}"))))
        .transpose()?;
    if let Some(number) = &query.number {
        if number.is_empty() || number.chars().count() > MAX_NUMBER {
            return Err(Problem::bad_request(format!(
                "number must be 1 to {MAX_NUMBER} characters"
            )));
        }
    }
    let call = query
        .call
        .as_deref()
        .map(|c| CallId::parse(c).map_err(|e| Problem::bad_request(format!("call: {e}"))))
        .transpose()?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            RecordingStatus::parse(s).ok_or_else(|| {
                Problem::bad_request(format!(
                    "status {s:?}: one of recording, stopped, failed, declined"
                ))
            })
        })
        .transpose()?;
    let before = query
        .before
        .as_deref()
        .map(|b| {
            b.parse::<RecordingCursor>()
                .map_err(|e| Problem::bad_request(format!("before: {e}")))
        })
        .transpose()?;
    Ok(Some(RecordingSearch {
        since,
        until,
        agent,
        queue,
        number: query.number,
        call,
        status,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
        before,
    }))
}

/// Recordings, newest first, by start time, agent, queue, number, call and status; an agent's
/// token sees only its agent's.
pub(super) async fn list(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    query: Result<Query<RecordingsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RecordingList>, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let Some(search) = search_of(query, &who)? else {
        return Ok(Json(RecordingList {
            recordings: Vec::new(),
            next: None,
        }));
    };
    let page = state
        .store
        .search_recordings(&search)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(RecordingList {
        recordings: page.recordings,
        next: page.next,
    }))
}

/// Whether the controller could serve the recording's audio (not whether the file is there).
fn audio_url(state: &ApiState, r: &RecordingRow) -> Option<String> {
    let finished = matches!(r.status, RecordingStatus::Stopped | RecordingStatus::Failed);
    (finished && r.relative_path.is_some() && state.recording_mounts.contains_key(&r.switch))
        .then(|| format!("/v1/recordings/{}/audio", r.id))
}

pub(super) async fn one(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<RecordingView>, Problem> {
    let detail = readable(&state, &who, &id).await?;
    let evaluations = state
        .store
        .evaluations(detail.recording.id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(RecordingView {
        audio: audio_url(&state, &detail.recording),
        evaluations: evaluations.iter().map(EvaluationSummary::of).collect(),
        detail,
    }))
}

/// A refusal to serve audio, of its own problem type so players and scripts can tell them
/// apart.
fn no_audio(
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
) -> Problem {
    Problem::new(status, kind, title, detail)
}

/// A recording's file the mount will not give: the share down, stale or full of errors. The
/// cause (an I/O error, no path) is in the detail and the log; a client may try again later.
fn unreadable(r: &RecordingRow, e: &std::io::Error) -> Problem {
    warn!(recording = %r.id, switch = %r.switch, error = %e, "a recording's file cannot be read through its mount");
    no_audio(
        StatusCode::SERVICE_UNAVAILABLE,
        "/problems/recording-unreadable",
        "Recording unreadable",
        format!(
            "recording {}'s file cannot be read through switch {}'s recordings_mount: {}",
            r.id,
            r.switch,
            e.kind()
        ),
    )
}

/// The recording's file under the mount, with links resolved, when it is there and stays
/// under the mount.
async fn audio_file(state: &ApiState, r: &RecordingRow) -> Result<PathBuf, Problem> {
    match r.status {
        RecordingStatus::Declined => {
            return Err(no_audio(
                StatusCode::CONFLICT,
                "/problems/recording-without-audio",
                "Recording without audio",
                format!(
                    "recording {} has no audio: the caller declined to be recorded",
                    r.id
                ),
            ))
        }
        RecordingStatus::Recording => {
            return Err(no_audio(
                StatusCode::CONFLICT,
                "/problems/recording-in-progress",
                "Recording in progress",
                format!(
                    "recording {} is still being recorded: its audio is served once it stops",
                    r.id
                ),
            ))
        }
        RecordingStatus::Stopped | RecordingStatus::Failed => {}
    }
    let Some(relative) = r.relative_path.as_deref() else {
        return Err(no_audio(
            StatusCode::CONFLICT,
            "/problems/recording-without-audio",
            "Recording without audio",
            format!("recording {} has no file", r.id),
        ));
    };
    let Some(mount) = state.recording_mounts.get(&r.switch) else {
        return Err(no_audio(
            StatusCode::CONFLICT,
            "/problems/recording-metadata-only",
            "Metadata only",
            format!(
                "switch {} has no recordings_mount: the controller cannot reach its recordings, \
                 only their metadata",
                r.switch
            ),
        ));
    };
    let refused = || {
        warn!(recording = %r.id, path = relative, "refused to serve a recording path that is not a safe relative path under the mount");
        no_audio(
            StatusCode::CONFLICT,
            "/problems/recording-path-refused",
            "Recording path refused",
            format!(
                "recording {}'s stored path is not a safe path under the recordings folder; \
                 it is not served",
                r.id
            ),
        )
    };
    if !is_safe_relative_path(relative) {
        return Err(refused());
    }
    let root = match tokio::fs::canonicalize(mount).await {
        Ok(root) if tokio::fs::metadata(&root).await.is_ok_and(|m| m.is_dir()) => Ok(root),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "the mount is not a folder",
        )),
        Err(e) => Err(e),
    };
    let root = root.map_err(|e| {
        warn!(switch = %r.switch, mount = %mount.display(), error = %e, "the recordings mount cannot be read");
        no_audio(
            StatusCode::SERVICE_UNAVAILABLE,
            "/problems/recording-mount-unavailable",
            "Recordings mount unavailable",
            format!(
                "switch {}'s recordings_mount cannot be read on the controller",
                r.switch
            ),
        )
    })?;
    let missing = || {
        no_audio(
            StatusCode::NOT_FOUND,
            "/problems/recording-file-missing",
            "Recording file missing",
            format!(
                "recording {}'s file is not in the recordings folder (removed, or not yet copied)",
                r.id
            ),
        )
    };
    let file = match tokio::fs::canonicalize(root.join(relative)).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
        Err(e) => return Err(unreadable(r, &e)),
    };
    if !file.starts_with(&root) {
        return Err(refused());
    }
    match tokio::fs::metadata(&file).await {
        Ok(m) if m.is_file() => Ok(file),
        Ok(_) => Err(missing()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing()),
        Err(e) => Err(unreadable(r, &e)),
    }
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranged {
    /// No range, or one we answer whole: several ranges, or a header that does not parse
    /// (RFC 9110 lets a server ignore those).
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A range that starts past the end (416).
    Unsatisfiable,
}

fn byte_range(header: Option<&HeaderValue>, len: u64) -> Ranged {
    let Some(spec) = header
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.trim().strip_prefix("bytes="))
    else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first, number(first), number(last)) {
        // `-n`: the last n bytes.
        ("", None, Some(n)) => {
            if n == 0 || len == 0 {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start: len.saturating_sub(n),
                    end: len - 1,
                }
            }
        }
        (_, Some(start), None) if last.is_empty() => {
            if start >= len {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start,
                    end: len - 1,
                }
            }
        }
        (_, Some(start), Some(end)) if start <= end => {
            if start >= len {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start,
                    end: end.min(len - 1),
                }
            }
        }
        _ => Ranged::Whole,
    }
}

/// `length` bytes of `reader` as a body, a chunk at a time; a read error ends the body (the
/// client sees a short reply, as the length said more).
fn stream_body<R: AsyncRead + Unpin + Send + 'static>(reader: R, length: u64) -> Body {
    let reader = reader.take(length);
    let chunks = futures_util::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        let mut buf = vec![0_u8; CHUNK];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), Some(reader)))
            }
            Err(e) => {
                warn!(error = %e, "reading a recording failed mid-reply");
                Some((Err(e), None))
            }
        }
    });
    Body::from_stream(chunks)
}

/// The audio, streamed: whole (200) or one byte range (206), `audio/wav`.
pub(super) async fn audio(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let detail = readable(&state, &who, &id).await?;
    let r = &detail.recording;
    let path = audio_file(&state, r).await?;
    let opened = async {
        let file = tokio::fs::File::open(&path).await?;
        let len = file.metadata().await?.len();
        Ok::<_, std::io::Error>((file, len))
    };
    let (mut file, len) = opened.await.map_err(|e| unreadable(r, &e))?;
    let (status, start, length) = match byte_range(headers.get(header::RANGE), len) {
        Ranged::Whole => (StatusCode::OK, 0, len),
        Ranged::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Ranged::Unsatisfiable => {
            let mut response = no_audio(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "/problems/range-not-satisfiable",
                "Range not satisfiable",
                format!("the recording's audio is {len} bytes"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(|e| unreadable(r, &e))?;
    }
    let mut response = Response::new(stream_body(file, length));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(AUDIO_CONTENT_TYPE),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // Recordings are personal data: no shared cache keeps a copy.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{}.wav\"", r.id)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{}/{len}", start + length - 1);
        if let Ok(value) = HeaderValue::from_str(&range) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// The evaluation forms supervisors score recordings with.
pub(super) async fn forms(State(state): State<ApiState>) -> Json<EvaluationForms> {
    Json(EvaluationForms {
        forms: state.evaluation_forms.as_ref().clone(),
    })
}

pub(super) async fn evaluations(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<EvaluationList>, Problem> {
    let detail = readable(&state, &who, &id).await?;
    let id = detail.recording.id;
    let evaluations = state
        .store
        .evaluations(id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(EvaluationList {
        recording: id,
        evaluations,
    }))
}

/// Scores a recording against a form (201): every criterion of the form, each within its
/// range; the totals are computed, the evaluator is the token's name.
pub(super) async fn evaluate(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let id = parse_recording_id(&id)?;
    let body: EvaluationBody = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"form\": <name>, \"scores\": {{<criterion>: <integer>, ...}}, \
             \"notes\": <text>}}: {e}"
        ))
    })?;
    let form = state
        .evaluation_forms
        .iter()
        .find(|f| f.name == body.form)
        .ok_or_else(|| {
            let names: Vec<String> = state
                .evaluation_forms
                .iter()
                .map(|f| format!("{:?}", f.name))
                .collect();
            Problem::invalid(
                "form",
                format!(
                    "no evaluation form {:?}; the forms are {}",
                    body.form,
                    names.join(", ")
                ),
            )
        })?;
    let scores = form
        .score(&body.scores)
        .map_err(|e| Problem::invalid(format!("scores.{}", e.criterion()), e))?;
    if body.notes.chars().count() > MAX_NOTES {
        return Err(Problem::invalid(
            "notes",
            format!("at most {MAX_NOTES} characters"),
        ));
    }
    let recording = state
        .store
        .recording(id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("no recording {id}")))?;
    if recording.recording.status == RecordingStatus::Declined {
        return Err(Problem::conflict(format!(
            "recording {id} was declined by the caller: there is nothing to evaluate"
        )));
    }
    let kept = state
        .store
        .add_evaluation(&NewEvaluation {
            recording: id,
            form: form.name.clone(),
            evaluator: who.token.clone(),
            scores,
            notes: body.notes,
            at: Timestamp::from_millis(wall_clock_ms()),
        })
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("no recording {id}")))?;
    Ok((StatusCode::CREATED, Json(kept)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(header: &str, len: u64) -> Ranged {
        byte_range(Some(&HeaderValue::from_str(header).expect("header")), len)
    }

    #[test]
    fn a_single_byte_range_is_honoured_and_clipped_to_the_file() {
        assert_eq!(byte_range(None, 100), Ranged::Whole);
        assert_eq!(range("bytes=0-9", 100), Ranged::Part { start: 0, end: 9 });
        assert_eq!(range("bytes=90-", 100), Ranged::Part { start: 90, end: 99 });
        assert_eq!(range("bytes=-10", 100), Ranged::Part { start: 90, end: 99 });
        assert_eq!(range("bytes=-500", 100), Ranged::Part { start: 0, end: 99 });
        assert_eq!(
            range("bytes=50-5000", 100),
            Ranged::Part { start: 50, end: 99 }
        );
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable_and_odd_ones_answered_whole() {
        assert_eq!(range("bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=100-200", 100), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=-0", 100), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=0-", 0), Ranged::Unsatisfiable);
        for whole in [
            "bytes=0-1,5-6",
            "bytes=9-3",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "items=0-1",
            "bytes 0-1",
        ] {
            assert_eq!(range(whole, 100), Ranged::Whole, "{whole}");
        }
    }

    #[test]
    fn only_relative_paths_of_path_characters_are_served() {
        assert!(is_safe_relative_path("2024-05-01/support/a.wav"));
        for bad in [
            "",
            "/etc/passwd",
            "../x.wav",
            "a/../../x.wav",
            "a//b.wav",
            "./a.wav",
            "a/b c.wav",
            "a\\b.wav",
            "a/b.wav\n",
        ] {
            assert!(!is_safe_relative_path(bad), "{bad:?}");
        }
    }
}
