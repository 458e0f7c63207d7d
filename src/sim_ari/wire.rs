//! Bytes on the ARI sockets, written the way Asterisk 22.10.1 writes them: its HTTP/1.1
//! responses (fixed header order, `Content-type` with a lower-case `t`, odd reason phrases),
//! RFC 6455 frames (unmasked, FIN, one JSON object per text frame), the handshake's accept
//! key, and the JSON text itself (compact, keys in Asterisk's order, which a map would lose).

use std::fmt::Write as _;

use base64::Engine as _;

/// One parsed HTTP request.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    /// The path as sent (percent-encoded), without the query.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("malformed request line")]
    RequestLine,
    #[error("malformed header")]
    Header,
    #[error("bad Content-Length")]
    ContentLength,
}

/// Where the request's head ends (after the blank line), if it has arrived.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Parses the head (`buf[..head_len]`); returns the request (without body) and its body length.
pub fn parse_head(head: &[u8]) -> Result<(Request, usize), RequestError> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().ok_or(RequestError::RequestLine)?;
    let mut parts = first.split(' ');
    let method = parts.next().ok_or(RequestError::RequestLine)?.to_string();
    let target = parts.next().ok_or(RequestError::RequestLine)?;
    if method.is_empty() || !target.starts_with('/') {
        return Err(RequestError::RequestLine);
    }
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once(':').ok_or(RequestError::Header)?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let request = Request {
        method,
        path: path.to_string(),
        query: parse_query(raw_query),
        headers,
        body: Vec::new(),
    };
    let length = match request.header("Content-Length") {
        Some(v) => v.parse().map_err(|_| RequestError::ContentLength)?,
        None => 0,
    };
    Ok((request, length))
}

pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hi = (bytes[i + 1] as char).to_digit(16);
                let lo = (bytes[i + 2] as char).to_digit(16);
                match (hi, lo) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An HTTP response as Asterisk writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: &'static str,
    /// Headers between `Cache-Control` and `Content-type` (`WWW-Authenticate`, `Location`, `Allow`).
    pub extra: Vec<(&'static str, String)>,
    /// `None`: no `Content-type` (204 and the bare 400 of a failed upgrade).
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    /// `Connection: close` after the date-less headers (only the 503 while booting).
    pub close: bool,
}

impl Response {
    pub fn json(status: u16, reason: &'static str, body: String) -> Self {
        Response {
            status,
            reason,
            extra: Vec::new(),
            content_type: Some("application/json"),
            body: body.into_bytes(),
            close: false,
        }
    }

    pub fn ok(body: String) -> Self {
        Self::json(200, "OK", body)
    }

    pub fn no_content() -> Self {
        Response {
            status: 204,
            reason: "No Content",
            extra: Vec::new(),
            content_type: None,
            body: Vec::new(),
            close: false,
        }
    }

    /// `{"message":"..."}` with the given status line.
    pub fn message(status: u16, reason: &'static str, message: &str) -> Self {
        Self::json(status, reason, Obj::new().str("message", message).done())
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.extra.push((name, value));
        self
    }

    pub fn to_bytes(&self, date: &str) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        let _ = write!(head, "Server: Asterisk/22.10.1\r\nDate: {date}\r\n");
        if self.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("Cache-Control: no-cache, no-store\r\n");
        for (k, v) in &self.extra {
            let _ = write!(head, "{k}: {v}\r\n");
        }
        if let Some(ct) = self.content_type {
            if ct == "audio/wav" {
                let _ = write!(head, "Content-Type: {ct}\r\n");
            } else {
                let _ = write!(head, "Content-type: {ct}\r\n");
            }
        }
        let _ = write!(head, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// The two responses of an `/ari/events` upgrade without `app`.
pub fn missing_app_responses(date: &str) -> Vec<u8> {
    let html = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n</head><body>\r\n<h1>Bad Request</h1>\r\n<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n<address>Asterisk/22.10.1</address>\r\n</body></html>\r\n";
    let mut out = format!(
        "HTTP/1.1 400 Bad Request\r\nServer: Asterisk/22.10.1\r\nDate: {date}\r\nCache-Control: no-cache, no-store\r\nContent-type: text/html\r\nContent-Length: {}\r\n\r\n{html}",
        html.len()
    )
    .into_bytes();
    out.extend_from_slice(
        format!("HTTP/1.1 400 Bad Request\r\nServer: Asterisk/22.10.1\r\nDate: {date}\r\nCache-Control: no-cache, no-store\r\nSec-WebSocket-Version: 7, 8, 13\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    );
    out
}

/// The 101 response: exactly these three headers, no `Server`/`Date`.
pub fn switching_protocols(key: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    )
    .into_bytes()
}

pub fn accept_key(key: &str) -> String {
    let digest = crate::sim_ari::sha1::digest(
        format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// A server frame: FIN, unmasked, 7-, 16- or 64-bit length.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if len <= u16::MAX as usize {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// A client frame decoded (unmasked).
#[derive(Debug)]
pub struct ClientFrame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// Decodes one frame from the front of `buf`: the frame and its length, or None if incomplete.
pub fn decode_frame(buf: &[u8]) -> Option<(ClientFrame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let mut len = (buf[1] & 0x7f) as usize;
    let mut at = 2;
    if len == 126 {
        let b = buf.get(2..4)?;
        len = u16::from_be_bytes([b[0], b[1]]) as usize;
        at = 4;
    } else if len == 127 {
        let b = buf.get(2..10)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        len = usize::try_from(u64::from_be_bytes(a)).ok()?;
        at = 10;
    }
    let mask = if masked {
        let m = buf.get(at..at + 4)?;
        at += 4;
        Some([m[0], m[1], m[2], m[3]])
    } else {
        None
    };
    let data = buf.get(at..at.checked_add(len)?)?;
    let payload = match mask {
        Some(m) => data.iter().enumerate().map(|(i, b)| b ^ m[i % 4]).collect(),
        None => data.to_vec(),
    };
    Some((ClientFrame { opcode, payload }, at + len))
}

/// `Mon, 07 Dec 2026 01:39:02 GMT`.
pub fn http_date() -> String {
    jiff::Timestamp::now()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// `2026-12-07T01:39:02.402+0000`.
pub fn ari_timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

pub fn unix_seconds() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A compact JSON object written key by key, in the order given.
#[derive(Default)]
pub struct Obj {
    text: String,
}

impl Obj {
    pub fn new() -> Self {
        Obj {
            text: String::from("{"),
        }
    }

    fn key(&mut self, key: &str) {
        if self.text.len() > 1 {
            self.text.push(',');
        }
        self.text.push_str(&quote(key));
        self.text.push(':');
    }

    pub fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        self.text.push_str(&quote(value));
        self
    }

    pub fn num(mut self, key: &str, value: i64) -> Self {
        self.key(key);
        let _ = write!(self.text, "{value}");
        self
    }

    pub fn boolean(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.text.push_str(if value { "true" } else { "false" });
        self
    }

    /// A value already written as JSON.
    pub fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key);
        self.text.push_str(json);
        self
    }

    pub fn strs(self, key: &str, values: &[String]) -> Self {
        let list = str_list(values);
        self.raw(key, &list)
    }

    pub fn done(mut self) -> String {
        self.text.push('}');
        self.text
    }
}

pub fn str_list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| quote(v)).collect();
    format!("[{}]", items.join(","))
}

pub fn raw_list(values: &[String]) -> String {
    format!("[{}]", values.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        // inbound-stasis.app.timeline.jsonl: the key sent and the accept received.
        assert_eq!(
            accept_key("u4QPEcuKGBriBTvFsP1rjQ=="),
            "M5M9+fNJt3vaK7D+z+owYgMnmNQ="
        );
    }

    #[test]
    fn timestamp_has_asterisk_shape() {
        let t = ari_timestamp();
        assert_eq!(t.len(), 28, "{t}");
        assert!(t.ends_with("+0000"));
    }

    #[test]
    fn url_decode_handles_plus_and_percent() {
        assert_eq!(url_decode("Support+%3C6000%3E"), "Support <6000>");
        assert_eq!(url_decode("100%"), "100%");
    }
}
