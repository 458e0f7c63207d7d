//! The ESL wire format as FreeSWITCH 1.10 writes it: frame headers per frame type,
//! URL-encoding of plain event values, cJSON-style JSON events, event dates, and the
//! client command framing (`<line>\n<headers>\n\n`).
//!
//! This module owns bytes only; it knows nothing about channels or calls.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Bytes FreeSWITCH's `switch_url_encode` escapes besides controls and non-ASCII.
const URL_UNSAFE: &[u8] = b"\r\n \"#%&+:;<=>?@[\\]^`{|}";

/// Appends `value` URL-encoded the way FreeSWITCH encodes plain event values.
pub fn url_encode_into(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if !(b' '..=b'~').contains(&b) || URL_UNSAFE.contains(&b) {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        } else {
            out.push(b);
        }
    }
}

/// URL-encodes `value` like FreeSWITCH (`%3A`, `%20`, `%40`; commas stay).
pub fn url_encode(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len() + 8);
    url_encode_into(&mut out, value);
    // Only ASCII bytes are produced.
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends `value` as a JSON string literal escaped like cJSON.
pub fn json_string_into(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    for ch in value.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => {
                let mut s = String::new();
                let _ = write!(s, "\\u{:04x}", c as u32);
                out.extend_from_slice(s.as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// The event format a connection subscribed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Plain,
    Json,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Json => "json",
        }
    }
}

/// One event as an ordered header list plus an optional body.
#[derive(Clone, Debug, Default)]
pub struct Event {
    pub headers: Vec<(Cow<'static, str>, String)>,
    pub body: Option<String>,
}

impl Event {
    pub fn with_capacity(n: usize) -> Self {
        Event {
            headers: Vec::with_capacity(n),
            body: None,
        }
    }

    pub fn add(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        self.headers.push((name.into(), value.into()));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `Name: value\n` lines, URL-encoded values, blank line; a body gets an inner
    /// `Content-Length` header first (the `text/event-plain` body and `uuid_dump`).
    pub fn render_plain_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * self.headers.len() + 64);
        for (k, v) in &self.headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            url_encode_into(&mut out, v);
            out.push(b'\n');
        }
        if let Some(body) = &self.body {
            out.extend_from_slice(format!("Content-Length: {}\n\n", body.len()).as_bytes());
            out.extend_from_slice(body.as_bytes());
        } else {
            out.push(b'\n');
        }
        out
    }

    /// One JSON object, every value a string, the body under `_body`.
    pub fn render_json_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * self.headers.len() + 64);
        out.push(b'{');
        let mut first = true;
        for (k, v) in &self.headers {
            if !first {
                out.push(b',');
            }
            first = false;
            json_string_into(&mut out, k);
            out.push(b':');
            json_string_into(&mut out, v);
        }
        if let Some(body) = &self.body {
            if !first {
                out.push(b',');
            }
            json_string_into(&mut out, "Content-Length");
            out.push(b':');
            json_string_into(&mut out, &body.len().to_string());
            out.push(b',');
            json_string_into(&mut out, "_body");
            out.push(b':');
            json_string_into(&mut out, body);
        }
        out.push(b'}');
        out
    }

    /// The whole `text/event-*` frame for `format`.
    pub fn frame(&self, format: Format) -> Vec<u8> {
        let (body, ct) = match format {
            Format::Plain => (self.render_plain_body(), "text/event-plain"),
            Format::Json => (self.render_json_body(), "text/event-json"),
        };
        let mut out = Vec::with_capacity(body.len() + 64);
        out.extend_from_slice(
            format!("Content-Length: {}\nContent-Type: {}\n\n", body.len(), ct).as_bytes(),
        );
        out.extend_from_slice(&body);
        out
    }
}

/// `Content-Type: auth/request` greeting.
pub fn auth_request() -> Vec<u8> {
    b"Content-Type: auth/request\n\n".to_vec()
}

/// A `command/reply` frame; the text lives in `Reply-Text`, never in a body.
pub fn command_reply(text: &str) -> Vec<u8> {
    format!("Content-Type: command/reply\nReply-Text: {text}\n\n").into_bytes()
}

/// The `bgapi` reply: `Job-UUID` both in the text and as its own header.
pub fn bgapi_reply(job_uuid: &str) -> Vec<u8> {
    format!(
        "Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job_uuid}\nJob-UUID: {job_uuid}\n\n"
    )
    .into_bytes()
}

/// An `api/response` frame (always with a body).
pub fn api_response(body: &str) -> Vec<u8> {
    let mut out = format!(
        "Content-Type: api/response\nContent-Length: {}\n\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// The goodbye body sent after `exit` and after a failed `auth`.
pub const GOODBYE: &str = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";
/// The body sent to every connection when the switch shuts down.
pub const SHUTTING_DOWN: &str = "The system is being shut down.\n";

/// A `text/disconnect-notice` frame.
pub fn disconnect_notice(body: &str) -> Vec<u8> {
    let mut out = format!(
        "Content-Type: text/disconnect-notice\nContent-Length: {}\n\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// One command a client sent: the first line and the `Name: value` lines after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub line: String,
    pub headers: Vec<(String, String)>,
}

impl Command {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Incremental parser for client commands (`\n\n`-terminated blocks, optional body).
#[derive(Default)]
pub struct CommandReader {
    buf: Vec<u8>,
}

impl CommandReader {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Next complete command, if any. `Content-Length` bodies (sendmsg/sendevent)
    /// are consumed and ignored.
    pub fn next_command(&mut self) -> Option<Command> {
        loop {
            let end = find_double_newline(&self.buf)?;
            let block = String::from_utf8_lossy(&self.buf[..end]).replace('\r', "");
            let mut lines = block.split('\n');
            let line = lines.next().unwrap_or("").trim().to_string();
            let mut headers = Vec::new();
            let mut body_len = 0usize;
            for l in lines {
                if let Some((k, v)) = l.split_once(':') {
                    let (k, v) = (k.trim().to_string(), v.trim().to_string());
                    if k.eq_ignore_ascii_case("Content-Length") {
                        body_len = v.parse().unwrap_or(0);
                    }
                    headers.push((k, v));
                }
            }
            let total = end + 2 + body_len;
            if self.buf.len() < total {
                return None;
            }
            self.buf.drain(..total);
            if line.is_empty() && headers.is_empty() {
                // Stray blank lines between commands.
                continue;
            }
            return Some(Command { line, headers });
        }
    }
}

fn find_double_newline(buf: &[u8]) -> Option<usize> {
    // Leading newlines (e.g. "\n\n" keep-alives) are skipped by the caller loop.
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == b'\n' {
            if buf[i + 1] == b'\n' {
                return Some(i);
            }
            if buf[i + 1] == b'\r' && i + 2 < buf.len() && buf[i + 2] == b'\n' {
                return Some(i + 1);
            }
        }
        i += 1;
    }
    None
}

/// Civil date from a Unix time in seconds (UTC): (year, month, day, h, m, s, weekday 0=Sun).
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let weekday = (days + 4).rem_euclid(7); // 1970-01-01 was a Thursday
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    (
        y,
        mo as u32,
        d as u32,
        h as u32,
        m as u32,
        s as u32,
        weekday as u32,
    )
}

/// `Event-Date-Local` (the simulator's local time is UTC): `2026-11-22 15:33:40`.
pub fn date_local(unix_us: u64) -> String {
    let (y, mo, d, h, mi, s, _) = civil((unix_us / 1_000_000) as i64);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// `Event-Date-GMT`: `Sun, 22 Nov 2026 15:33:40 GMT`.
pub fn date_gmt(unix_us: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, wd) = civil((unix_us / 1_000_000) as i64);
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        DAYS[wd as usize],
        MONTHS[(mo - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_matches_captured_values() {
        assert_eq!(url_encode("fd00::2"), "fd00%3A%3A2");
        assert_eq!(
            url_encode("Sun, 22 Nov 2026 15:33:40 GMT"),
            "Sun,%2022%20Nov%202026%2015%3A33%3A40%20GMT"
        );
        assert_eq!(
            url_encode("tone_stream://%(200,0,500)"),
            "tone_stream%3A//%25(200,0,500)"
        );
    }

    #[test]
    fn dates_render_like_the_switch() {
        assert_eq!(date_local(1_795_361_620_747_895), "2026-11-22 15:33:40");
        assert_eq!(
            date_gmt(1_795_361_620_747_895),
            "Sun, 22 Nov 2026 15:33:40 GMT"
        );
    }

    #[test]
    fn command_reader_splits_commands_and_headers() {
        let mut r = CommandReader::default();
        r.push(b"auth ClueCon\n\nsendmsg u\ncall-command: execute\nexecute-app-name: park\n\n");
        assert_eq!(
            r.next_command().map(|c| c.line),
            Some("auth ClueCon".into())
        );
        let c = r.next_command();
        assert_eq!(
            c.as_ref().and_then(|c| c.header("call-command")),
            Some("execute")
        );
        assert!(r.next_command().is_none());
    }
}
