//! A command as ARI carries it out: a plan of requests run in order in one lane, with inputs
//! to give the engine once the requests before them succeeded, and what to do when one fails.

use super::client::AriRequest;
use super::media::{media_of, Media, Refused};
use super::state::{PlaybackInfo, PlaybackPurpose, Tables};
use crate::engine::{ChannelId, Input, SwitchName};

/// What the adapter needs to know to render.
#[derive(Debug, Clone)]
pub struct Context {
    pub switch: SwitchName,
    pub app: String,
    pub recordings_dir: String,
}

/// What to do when a request fails.
#[derive(Debug, Clone, PartialEq)]
pub enum OnError {
    /// Tell the engine (`CommandFailed`) and skip the rest of the plan.
    Report,
    /// The thing is gone already, or it does not matter: go on.
    Ignore,
    /// An originate: the leg is over before it began (`OriginateFailed`).
    Originate { leg: ChannelId },
}

/// One step of a plan, run in order in the command's lane.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Request {
        request: AriRequest,
        on_error: OnError,
    },
    /// An input the engine would have had from FreeSWITCH, given once the steps before it
    /// succeeded.
    Emit(Input),
}

pub fn report(request: AriRequest) -> Step {
    Step::Request {
        request,
        on_error: OnError::Report,
    }
}

pub fn ignore(request: AriRequest) -> Step {
    Step::Request {
        request,
        on_error: OnError::Ignore,
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn channel_path(channel: &ChannelId) -> String {
    format!("/channels/{channel}")
}

/// Hangs a channel up with a Q.850 cause number.
pub fn hangup(channel: &ChannelId, code: u16) -> Step {
    ignore(AriRequest::delete(channel_path(channel)).param("reason_code", code.to_string()))
}

/// Starts a source on a channel: a MOH class, or a playback of ours.
pub fn start_media(
    tables: &mut Tables,
    channel: &ChannelId,
    source: &str,
    purpose: impl FnOnce(String) -> PlaybackPurpose,
) -> Result<Step, Refused> {
    Ok(match media_of(source)? {
        Media::Moh(class) => report(
            AriRequest::post(format!("{}/moh", channel_path(channel))).param("mohClass", class),
        ),
        Media::Uri(uri) => play(tables, channel, &uri, purpose(uri.clone())),
    })
}

pub fn play(
    tables: &mut Tables,
    channel: &ChannelId,
    media: &str,
    purpose: PlaybackPurpose,
) -> Step {
    let id = new_id();
    tables.playbacks.insert(
        id.clone(),
        PlaybackInfo {
            channel: channel.clone(),
            purpose,
        },
    );
    report(
        AriRequest::post(format!("{}/play", channel_path(channel)))
            .param("media", media.to_owned())
            .param("playbackId", id),
    )
}
