//! The switch's disk: when the simulator is given a real folder to stand for the switch's `/`
//! (`SimConfig::disk_root`), a stopped `uuid_record` leaves a real WAV file there, so the
//! controller's download, purge and erasure can be tested against real files.
//!
//! A path on the "switch" (`/var/lib/freeswitch/recordings/2026-11-23/support/x.wav`) is
//! written at the same place below the root (`<root>/var/lib/freeswitch/…`), so a test or the
//! demo mounts `<root>/<recordings_dir>` as the controller's `recordings_mount`, as an admin
//! would mount the switch's folder over NFS. Mapping below a root (rather than writing at the
//! given path) works whatever characters the real folder's path has, and nothing can land
//! outside it: the path must be absolute with plain folders only (no `.`, `..` or empty part,
//! whatever the controller checked before), and the folder the file goes into must still lie
//! below the root once links are resolved; an existing link in the file's place is refused.
//!
//! The file is what the capture shows (`record-pause-mask`: 8.00 s ⇒ 128044 bytes): a 44-byte
//! RIFF header, 8000 Hz, 16-bit PCM, 1 channel or 2 in stereo, as long as the recording's
//! written time (paused time left out). Its samples are a quiet tone (425 Hz for the caller,
//! 600 Hz for the agent's channel in stereo), and silence where the recording was masked.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};

use crate::sim::{RecordingInterval, SessionRecordingView};

/// Samples per second.
pub(crate) const SAMPLE_RATE: u32 = 8000;
/// The RIFF/WAVE header of a PCM file.
pub(crate) const HEADER_BYTES: u64 = 44;
/// The tone's amplitude: quiet (about -32 dBFS).
const AMPLITUDE: f64 = 800.0;
/// The caller's and the agent's tone, in Hz.
const TONES: [f64; 2] = [425.0, 600.0];

/// Where `switch_path` lies below `root`, or why it may not be written.
pub(crate) fn file_under(root: &Path, switch_path: &str) -> io::Result<PathBuf> {
    let refused = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{switch_path:?}: {why}"),
        )
    };
    let Some(relative) = switch_path.strip_prefix('/') else {
        return Err(refused("not an absolute path"));
    };
    if relative.is_empty() || relative.split('/').any(|part| part.is_empty()) {
        return Err(refused("an empty folder"));
    }
    // `Path::components` drops inner `.` parts, so the words are checked first.
    let relative_path = Path::new(relative);
    if relative.split('/').any(|part| part == "." || part == "..")
        || !relative_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(refused("a '.' or '..' part"));
    }
    Ok(root.join(relative_path))
}

/// Writes the file of a stopped recording of `ms` milliseconds; returns where it went.
pub(crate) fn write_recording(
    root: &Path,
    recording: &SessionRecordingView,
    ms: u64,
) -> io::Result<PathBuf> {
    let file = file_under(root, &recording.path)?;
    let folder = file
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no folder"))?;
    fs::create_dir_all(folder)?;
    let real_root = fs::canonicalize(root)?;
    if !fs::canonicalize(folder)?.starts_with(&real_root) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} leaves {}", folder.display(), real_root.display()),
        ));
    }
    if fs::symlink_metadata(&file).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is a link", file.display()),
        ));
    }
    let mut out = BufWriter::new(File::create(&file)?);
    write_wav(&mut out, recording, ms)?;
    out.flush()?;
    Ok(file)
}

/// The file's bytes: `ms` of audio in `recording.channels` channels.
pub(crate) fn write_wav(
    out: &mut impl Write,
    recording: &SessionRecordingView,
    ms: u64,
) -> io::Result<()> {
    let channels = recording.channels.clamp(1, 2);
    let frames = ms * u64::from(SAMPLE_RATE) / 1000;
    let block = 2 * u32::from(channels);
    let data = u32::try_from(frames * u64::from(block))
        .ok()
        .filter(|d| *d <= u32::MAX - 36)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too long for a WAV file"))?;
    out.write_all(b"RIFF")?;
    out.write_all(&(36 + data).to_le_bytes())?;
    out.write_all(b"WAVEfmt ")?;
    out.write_all(&16u32.to_le_bytes())?;
    out.write_all(&1u16.to_le_bytes())?; // PCM
    out.write_all(&channels.to_le_bytes())?;
    out.write_all(&SAMPLE_RATE.to_le_bytes())?;
    out.write_all(&(SAMPLE_RATE * block).to_le_bytes())?;
    out.write_all(&(block as u16).to_le_bytes())?;
    out.write_all(&16u16.to_le_bytes())?;
    out.write_all(b"data")?;
    out.write_all(&data.to_le_bytes())?;
    let mut paused = recording.paused_intervals.clone();
    paused.sort_by_key(|iv| iv.from);
    for frame in 0..frames {
        let wall = wall_ms(frame * 1000 / u64::from(SAMPLE_RATE), &paused);
        let silent = recording
            .masked_intervals
            .iter()
            .any(|iv| (iv.from.as_millis()..iv.to.as_millis()).contains(&u128::from(wall)));
        for tone in &TONES[..usize::from(channels)] {
            let sample = if silent {
                0
            } else {
                let t = frame as f64 / f64::from(SAMPLE_RATE);
                (AMPLITUDE * (2.0 * std::f64::consts::PI * tone * t).sin()) as i16
            };
            out.write_all(&sample.to_le_bytes())?;
        }
    }
    Ok(())
}

/// The wall offset (since the start) at `file_ms` into the file: every paused stretch before
/// it is not in the file. `paused` is in order.
fn wall_ms(file_ms: u64, paused: &[RecordingInterval]) -> u64 {
    let mut wall = file_ms;
    for iv in paused {
        let from = u64::try_from(iv.from.as_millis()).unwrap_or(u64::MAX);
        if from > wall {
            break;
        }
        let to = u64::try_from(iv.to.as_millis()).unwrap_or(u64::MAX);
        wall = wall.saturating_add(to.saturating_sub(from));
    }
    wall
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn view(channels: u16, paused: &[(u64, u64)], masked: &[(u64, u64)]) -> SessionRecordingView {
        let iv = |(from, to): &(u64, u64)| RecordingInterval {
            from: Duration::from_millis(*from),
            to: Duration::from_millis(*to),
        };
        SessionRecordingView {
            path: "/rec/2026-11-23/support/x.wav".into(),
            channels,
            paused: false,
            masked: false,
            written: Duration::ZERO,
            paused_intervals: paused.iter().map(iv).collect(),
            masked_intervals: masked.iter().map(iv).collect(),
        }
    }

    fn samples(bytes: &[u8]) -> Vec<i16> {
        bytes[44..]
            .chunks(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    #[test]
    fn eight_seconds_mono_is_the_captures_128044_bytes() {
        let mut out = Vec::new();
        write_wav(&mut out, &view(1, &[(4000, 6000)], &[(2000, 4000)]), 8000).expect("wav");
        assert_eq!(out.len(), 128_044);
        assert_eq!(&out[..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes([out[4], out[5], out[6], out[7]]),
            128_036
        );
        assert_eq!(&out[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([out[22], out[23]]), 1, "mono");
        assert_eq!(
            u32::from_le_bytes([out[24], out[25], out[26], out[27]]),
            8000
        );
        assert_eq!(u16::from_le_bytes([out[34], out[35]]), 16, "16-bit");
        assert_eq!(&out[36..40], b"data");
        assert_eq!(
            u32::from_le_bytes([out[40], out[41], out[42], out[43]]),
            128_000
        );
    }

    #[test]
    fn masked_time_is_silence_and_paused_time_is_not_in_the_file() {
        // Wall 0-2 s tone, 2-4 s masked, 4-6 s paused (absent), 6-10 s tone: 8 s of file.
        let mut out = Vec::new();
        write_wav(&mut out, &view(1, &[(4000, 6000)], &[(2000, 4000)]), 8000).expect("wav");
        let s = samples(&out);
        let loud = |range: std::ops::Range<usize>| s[range].iter().any(|v| v.abs() > 100);
        assert!(loud(0..16_000), "the first two seconds hold the tone");
        assert!(!loud(16_000..32_000), "the masked two seconds are silent");
        assert!(loud(32_000..64_000), "after the pause the tone goes on");
    }

    #[test]
    fn stereo_has_two_channels_of_twice_the_bytes() {
        let mut out = Vec::new();
        write_wav(&mut out, &view(2, &[], &[]), 1000).expect("wav");
        assert_eq!(out.len(), 44 + 8000 * 4);
        assert_eq!(u16::from_le_bytes([out[22], out[23]]), 2);
        assert_eq!(u16::from_le_bytes([out[32], out[33]]), 4, "block align");
    }

    #[test]
    fn a_path_maps_below_the_root_and_nothing_can_leave_it() {
        let root = Path::new("/srv/disk");
        assert_eq!(
            file_under(root, "/var/lib/freeswitch/recordings/a/b.wav").expect("ok"),
            Path::new("/srv/disk/var/lib/freeswitch/recordings/a/b.wav")
        );
        for bad in [
            "relative/x.wav",
            "/",
            "/rec/../../etc/passwd",
            "/rec/./x.wav",
            "/rec//x.wav",
            "/rec/x/..",
        ] {
            assert!(file_under(root, bad).is_err(), "{bad} is refused");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_out_of_the_root_is_not_followed() {
        let outside = tempfile::tempdir().expect("tempdir");
        let root = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), root.path().join("rec")).expect("link");
        let mut v = view(1, &[], &[]);
        v.path = "/rec/x.wav".into();
        assert!(write_recording(root.path(), &v, 100).is_err());
        assert!(!outside.path().join("x.wav").exists());
        std::os::unix::fs::symlink(outside.path().join("y.wav"), root.path().join("y.wav"))
            .expect("link");
        v.path = "/y.wav".into();
        assert!(write_recording(root.path(), &v, 100).is_err());
        assert!(!outside.path().join("y.wav").exists());
        v.path = "/ok/z.wav".into();
        let written = write_recording(root.path(), &v, 100).expect("inside the root");
        assert_eq!(fs::metadata(written).expect("file").len(), 44 + 800 * 2);
    }
}
