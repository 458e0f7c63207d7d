//! The checks of one Asterisk switch, over ARI, in the order an admin fixes things: reach ARI
//! with the right user, then the modules, the sounds the prompts name, the recordings folder
//! and the phones.
//!
//! ARI cannot read the dialplan or list music classes, so those are named in one `warn` line
//! with the CLI commands that show them, rather than passed over in silence.

use std::collections::{BTreeMap, BTreeSet};

use super::{Needs, Options, Report, Scoped, Status};
use crate::ari::probe::{AriProbe, AriProbeError, LoadedModule, PromptOnAsterisk};
use crate::config::AsteriskSwitchConfig;

/// The modules every Asterisk switch needs (`docs/install-asterisk.md`, "Modules that must be
/// loaded"), and why.
const MODULES: &[(&str, &str)] = &[
    ("res_http_websocket", "the WebSocket ARI events come over"),
    ("res_ari", "ARI itself"),
    ("res_ari_channels", "answering, ringing and hanging up legs"),
    ("res_ari_bridges", "bridging callers and agents"),
    ("res_ari_playbacks", "prompts and hold music"),
    ("res_ari_recordings", "call recordings"),
    ("res_ari_device_states", "the agents' BLF lamps"),
    ("res_ari_applications", "the Stasis application"),
    ("res_ari_events", "the event stream"),
    ("res_ari_endpoints", "reading which phones are registered"),
    (
        "res_stasis",
        "Stasis, where callers wait for the controller",
    ),
    ("res_stasis_answer", "answering callers"),
    ("res_stasis_playback", "prompts and hold music"),
    ("res_stasis_recording", "call recordings"),
    ("res_stasis_snoop", "supervisors listening and whispering"),
    ("res_stasis_device_state", "the agents' BLF lamps"),
    ("app_stasis", "the Stasis() dialplan application"),
    ("chan_pjsip", "SIP: callers and the agents' phones"),
    ("res_musiconhold", "hold music"),
    ("bridge_simple", "two-party bridges"),
    (
        "bridge_softmix",
        "conferences and barge-in (three or more in a bridge)",
    ),
];

/// Passwords anyone could guess: the capture rig's and the shipped `ari.conf`'s placeholder.
const WELL_KNOWN_PASSWORDS: &[&str] = &["ClueCon", "ChangeMe"];

struct Asterisk<'a> {
    probe: AriProbe,
    config: &'a AsteriskSwitchConfig,
    lines: Scoped<'a>,
}

impl<'a> std::ops::Deref for Asterisk<'a> {
    type Target = Scoped<'a>;
    fn deref(&self) -> &Scoped<'a> {
        &self.lines
    }
}

impl std::ops::DerefMut for Asterisk<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.lines
    }
}

/// Runs every check of one Asterisk; returns the endpoints online there, or `None` when ARI
/// could not be asked.
pub(super) async fn switch(
    config: &AsteriskSwitchConfig,
    needs: &Needs,
    options: Options,
    report: &mut Report,
) -> Option<Vec<String>> {
    let url = config.ari.to_string();
    let probe = match AriProbe::new(
        &url,
        &config.user,
        config.password.expose(),
        options.timeout,
    ) {
        Ok(probe) => probe,
        Err(e) => {
            report.push(
                Status::Fail,
                config.name.as_str(),
                "ari",
                e.to_string(),
                Some("check `ari` of the switch in the serve config".into()),
            );
            return None;
        }
    };
    let mut asterisk = Asterisk {
        probe,
        config,
        lines: Scoped {
            scope: config.name.as_str(),
            report,
        },
    };
    if !reach(&mut asterisk).await {
        return None;
    }
    match checks(&mut asterisk, needs).await {
        Ok(online) => Some(online),
        Err(e) => {
            asterisk.fail(
                "ari",
                format!("ARI stopped answering while checking: {e}"),
                "run the doctor again; if it persists, look at Asterisk's log (asterisk -rvvv)",
            );
            None
        }
    }
}

async fn checks(asterisk: &mut Asterisk<'_>, needs: &Needs) -> Result<Vec<String>, AriProbeError> {
    modules(asterisk, needs).await?;
    sounds(asterisk, needs).await?;
    not_checkable(asterisk, needs);
    recordings(asterisk).await?;
    phones(asterisk).await
}

/// `GET /asterisk/info` with the configured user: whether ARI answers, takes the user, and
/// which Asterisk it is.
async fn reach(asterisk: &mut Asterisk<'_>) -> bool {
    let url = asterisk.config.ari.to_string();
    let user = asterisk.config.user.clone();
    let name = asterisk.config.name.as_str().to_owned();
    let info = match asterisk.probe.info().await {
        Ok(info) => info,
        Err(e) => {
            let fix = match &e {
                AriProbeError::Unreachable { .. } => format!(
                    "enable Asterisk's HTTP server where `ari` points ({url}): http.conf as asterisk-conf/http.conf shows (enabled=yes, bindaddr, bindport), then asterisk -rx 'module reload http'; or correct `ari` of [[switch]] {name:?}"
                ),
                AriProbeError::WrongCredentials { .. } => format!(
                    "give ari.conf a [{user}] section with type=user and the password of [[switch]] {name:?} (or {}), as asterisk-conf/ari.conf shows, then asterisk -rx 'module reload res_ari.so'",
                    crate::config::SwitchConfig::password_env_var(&asterisk.config.name)
                ),
                AriProbeError::Refused { status: 404, .. } => format!(
                    "something answers HTTP at {url} but not ARI: load it (asterisk -rx 'module load res_ari.so', enabled=yes in ari.conf), or correct `ari` of [[switch]] {name:?}"
                ),
                _ => "look at Asterisk's log (asterisk -rvvv) for why ARI refused".to_owned(),
            };
            asterisk.fail("ari", e.to_string(), fix);
            return false;
        }
    };
    asterisk.ok(
        "ari",
        format!(
            "connected to {url}, user {user:?} accepted: Asterisk {}",
            info.version
        ),
    );
    match info.major() {
        Some(major) if major >= 20 => {}
        _ => asterisk.warn(
            "ari",
            format!(
                "Asterisk {} is not one Switchboard is built for (20 and 22)",
                info.version
            ),
            "upgrade to Asterisk 22 (or 20)",
        ),
    }
    let password = asterisk.config.password.expose().to_owned();
    if WELL_KNOWN_PASSWORDS.contains(&password.as_str()) {
        let variable = crate::config::SwitchConfig::password_env_var(&asterisk.config.name);
        asterisk.warn(
            "ari",
            format!("the ARI password is the well-known {password:?}"),
            format!(
                "choose another in ari.conf's [{user}] and in [[switch]] {name:?} (or {variable}), then asterisk -rx 'module reload res_ari.so'"
            ),
        );
    }
    true
}

async fn modules(asterisk: &mut Asterisk<'_>, needs: &Needs) -> Result<(), AriProbeError> {
    let Some(loaded) = asterisk.probe.modules().await? else {
        asterisk.warn(
            "modules",
            "this Asterisk does not list its modules over ARI (no GET /asterisk/modules)",
            "check them by hand: asterisk -rx 'module show like stasis' (and like ari, pjsip, musiconhold, bridge)",
        );
        return Ok(());
    };
    let mut wanted: Vec<(&str, String)> = MODULES
        .iter()
        .map(|(name, why)| (*name, (*why).to_owned()))
        .collect();
    if let Some(voicemail) = needs.modules.iter().find(|m| m.name == "mod_voicemail") {
        wanted.push(("app_voicemail", voicemail.why.clone()));
    }
    let (running, missing) = running_and_missing(&loaded, &wanted);
    if missing.is_empty() {
        asterisk.ok(
            "modules",
            format!("the {running} modules Switchboard uses are running"),
        );
    } else {
        let names: Vec<&str> = missing.iter().map(|(name, _)| *name).collect();
        let lines: Vec<String> = missing
            .iter()
            .map(|(name, why)| format!("{name} ({why})"))
            .collect();
        asterisk.fail(
            "modules",
            format!("not running: {}", lines.join(", ")),
            format!(
                "load them: {} (and load = in modules.conf so they come back after a restart)",
                names
                    .iter()
                    .map(|n| format!("asterisk -rx 'module load {n}.so'"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
    }
    Ok(())
}

/// How many of `wanted` run, and those that do not.
fn running_and_missing<'w>(
    loaded: &[LoadedModule],
    wanted: &'w [(&'w str, String)],
) -> (usize, Vec<(&'w str, &'w str)>) {
    let running: BTreeSet<&str> = loaded
        .iter()
        .filter(|m| m.status.eq_ignore_ascii_case("running"))
        .map(|m| m.name.as_str())
        .collect();
    let missing: Vec<(&str, &str)> = wanted
        .iter()
        .filter(|(name, _)| !running.contains(name))
        .map(|(name, why)| (*name, why.as_str()))
        .collect();
    (wanted.len() - missing.len(), missing)
}

/// The prompts and hold-music files the config plays, against `GET /sounds`.
async fn sounds(asterisk: &mut Asterisk<'_>, needs: &Needs) -> Result<(), AriProbeError> {
    let mut wanted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut refused = Vec::new();
    let hold_music = needs.hold_music.iter().map(|(source, queues)| {
        let users = queues.iter().map(|q| format!("hold music of queue {q}"));
        (source, users.collect::<Vec<_>>())
    });
    let prompts = needs.prompts.iter().map(|(s, u)| (s, u.clone()));
    for (source, users) in prompts.chain(hold_music) {
        match crate::ari::probe::prompt_on_asterisk(source) {
            PromptOnAsterisk::Sound(id) => wanted.entry(id).or_default().extend(users),
            PromptOnAsterisk::Refused => refused.push(format!("{source} ({})", users.join(", "))),
            PromptOnAsterisk::AbsoluteFile(_)
            | PromptOnAsterisk::MusicClass(_)
            | PromptOnAsterisk::Tone => {}
        }
    }
    if !refused.is_empty() {
        asterisk.fail(
            "sounds",
            format!("cannot be played on Asterisk: {}", refused.join(", ")),
            "use a sound file name (letters, digits, / . _ -), local_stream://<music class>, tone_stream:// or silence_stream://",
        );
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let have: BTreeSet<String> = asterisk.probe.sounds().await?.into_iter().collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(id, _)| !have.contains(*id))
        .map(|(id, users)| format!("{id} ({})", users.join(", ")))
        .collect();
    if missing.is_empty() {
        asterisk.ok(
            "sounds",
            format!(
                "the {} sound(s) the prompts name are installed",
                wanted.len()
            ),
        );
    } else {
        asterisk.warn(
            "sounds",
            format!(
                "Asterisk has no sound {}: it is skipped, as a missing prompt is",
                missing.join(", ")
            ),
            "copy each file under Asterisk's sounds folder by that name (/var/lib/asterisk/sounds/<language>/<name>.wav, 8 kHz mono), or point the prompt at a sound Asterisk has (asterisk -rx 'core show sounds'); docs/install-asterisk.md, \"Sounds are Asterisk's\"",
        );
    }
    Ok(())
}

/// What ARI cannot show: the dialplan's entry points and feature codes, and music classes.
fn not_checkable(asterisk: &mut Asterisk<'_>, needs: &Needs) {
    let classes: BTreeSet<String> = needs
        .hold_music
        .keys()
        .filter_map(
            |source| match crate::ari::probe::prompt_on_asterisk(source) {
                PromptOnAsterisk::MusicClass(class) => Some(class),
                _ => None,
            },
        )
        .collect();
    let mut what = vec![
        "the dialplan (the entry points of queues and flows, the feature codes, the BLF hints)"
            .to_owned(),
    ];
    if !classes.is_empty() {
        what.push(format!(
            "the music classes {}",
            classes.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    asterisk.warn(
        "dialplan",
        format!("not checked, ARI cannot read them: {}", what.join("; ")),
        "asterisk -rx 'dialplan show switchboard-entry' and 'dialplan show switchboard-features' (asterisk-conf/extensions_switchboard.conf), asterisk -rx 'moh show classes'; then call each entry point once",
    );
}

/// That `recordings_mount` is Asterisk's recording folder: a file written there is listed by
/// ARI as a stored recording.
async fn recordings(asterisk: &mut Asterisk<'_>) -> Result<(), AriProbeError> {
    let dir = asterisk.config.recordings_dir.clone();
    let name = asterisk.config.name.as_str().to_owned();
    let Some(mount) = asterisk.config.recordings_mount.clone() else {
        asterisk.warn(
            "recordings",
            format!("no recordings_mount, so recordings are metadata only (no download, no purge of files); Asterisk writes them under {dir}"),
            format!("mount Asterisk's {dir} on this host and set recordings_mount of [[switch]] {name:?}"),
        );
        return Ok(());
    };
    if !mount.is_dir() {
        asterisk.fail(
            "recordings",
            format!(
                "recordings_mount {} is not a folder on this host",
                mount.display()
            ),
            format!("mount Asterisk's {dir} at {}", mount.display()),
        );
        return Ok(());
    }
    let marker = format!("switchboard-doctor-{}", uuid::Uuid::new_v4());
    let local = mount.join(format!("{marker}.wav"));
    if let Err(e) = std::fs::write(&local, empty_wav()) {
        asterisk.fail(
            "recordings",
            format!("the controller cannot write to {} ({e}): the retention purge and erasures cannot delete files there", mount.display()),
            "give the controller's user write access to the mount",
        );
        return Ok(());
    }
    let seen = asterisk.probe.has_stored_recording(&marker).await;
    let removed = std::fs::remove_file(&local);
    if seen? {
        asterisk.ok(
            "recordings",
            format!(
                "{} is Asterisk's recording folder: a file written there is listed by ARI",
                mount.display()
            ),
        );
    } else {
        asterisk.fail(
            "recordings",
            format!("{} is not Asterisk's recording folder ({dir}): a file written there is not listed by ARI, so recordings cannot be played or purged", mount.display()),
            format!("mount Asterisk's {dir} at {} (NFS, SMB or a bind mount), or correct recordings_dir / recordings_mount of [[switch]] {name:?}", mount.display()),
        );
    }
    if let Err(e) = removed {
        asterisk.warn(
            "recordings",
            format!("cannot remove the marker {}: {e}", local.display()),
            "delete it by hand",
        );
    }
    Ok(())
}

/// A WAV file with no samples (8 kHz mono 16-bit), so the marker is a recording by its
/// content as well as its name.
fn empty_wav() -> Vec<u8> {
    let mut wav = Vec::with_capacity(44);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&36u32.to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&0u32.to_le_bytes());
    wav
}

async fn phones(asterisk: &mut Asterisk<'_>) -> Result<Vec<String>, AriProbeError> {
    let online = asterisk.probe.online_endpoints().await?;
    asterisk.ok(
        "phones",
        format!("{} PJSIP endpoint(s) online", online.len()),
    );
    Ok(online)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_not_running_counts_as_missing() {
        let loaded = vec![
            LoadedModule {
                name: "res_ari".into(),
                status: "Running".into(),
            },
            LoadedModule {
                name: "res_stasis".into(),
                status: "Not Running".into(),
            },
        ];
        let wanted = vec![
            ("res_ari", "ARI".to_owned()),
            ("res_stasis", "Stasis".to_owned()),
            ("app_stasis", "Stasis()".to_owned()),
        ];
        let (running, missing) = running_and_missing(&loaded, &wanted);
        assert_eq!(running, 1);
        assert_eq!(
            missing,
            vec![("res_stasis", "Stasis"), ("app_stasis", "Stasis()")]
        );
    }
}
