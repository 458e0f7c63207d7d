//! What `uuid_dump`, `show channels|calls` and `status` print.

use super::*;

impl Core {
    pub(super) fn dump(&mut self, uuid: &str, json: bool) -> String {
        let seq = self.next_seq();
        let Some(ch) = self.channels.get(uuid) else {
            return "-ERR No such channel!\n".to_string();
        };
        let mut ev = self.base_event(
            "CHANNEL_DATA",
            seq,
            ("mod_commands.c", "uuid_dump_function", "6468"),
        );
        self.channel_data(ch, &mut ev);
        for (k, v) in &ch.vars {
            ev.add(format!("variable_{k}"), v.clone());
        }
        let bytes = if json {
            ev.render_json_body()
        } else {
            ev.render_plain_body()
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub(super) fn show(&self, arg: &str) -> String {
        let words: Vec<&str> = arg.split_whitespace().collect();
        let what = words.first().copied().unwrap_or("");
        let json = words.ends_with(&["as", "json"]);
        let like = words
            .iter()
            .position(|w| *w == "like")
            .and_then(|i| words.get(i + 1))
            .copied();
        if what != "channels" {
            return "-USAGE: show channels [like <match string>] [as json]\n".to_string();
        }
        let mut chans: Vec<&Channel> = self
            .channels
            .values()
            .filter(|c| c.hangup_cause.is_none())
            .filter(|c| {
                like.is_none_or(|l| {
                    c.uuid.contains(l)
                        || c.name.contains(l)
                        || c.profile.cid_number.contains(l)
                        || c.profile.destination.contains(l)
                })
            })
            .collect();
        chans.sort_by_key(|c| c.profile.created_us);
        let rows: Vec<Vec<(&'static str, String)>> =
            chans.iter().map(|c| self.show_row(c)).collect();
        if json {
            if rows.is_empty() {
                return "{\"row_count\": 0}\n".to_string();
            }
            let mut out = Vec::with_capacity(1024 * rows.len());
            out.extend_from_slice(format!("{{\"row_count\":{},\"rows\":[", rows.len()).as_bytes());
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'{');
                for (j, (k, v)) in row.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    wire::json_string_into(&mut out, k);
                    out.push(b':');
                    wire::json_string_into(&mut out, v);
                }
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
            return String::from_utf8_lossy(&out).into_owned();
        }
        let mut out = String::new();
        let cols: Vec<&str> = SHOW_COLUMNS.to_vec();
        out.push_str(&cols.join(","));
        out.push('\n');
        for row in &rows {
            let vals: Vec<&str> = row.iter().map(|(_, v)| v.as_str()).collect();
            out.push_str(&vals.join(","));
            out.push('\n');
        }
        out.push_str(&format!("\n{} total.\n", rows.len()));
        out
    }

    pub(super) fn show_row(&self, c: &Channel) -> Vec<(&'static str, String)> {
        let created_s = c.profile.created_us / 1_000_000;
        let app = c.var("current_application").unwrap_or("").to_string();
        let app_data = if c.park.is_some() && c.app.is_none() && app == "park" {
            String::new()
        } else {
            c.var("current_application_data").unwrap_or("").to_string()
        };
        let inbound = c.dir == Dir::Inbound;
        let callstate = c.call_state;
        let vals: Vec<String> = vec![
            c.uuid.clone(),
            c.dir.as_str().to_string(),
            wire::date_local(c.profile.created_us),
            created_s.to_string(),
            c.name.clone(),
            c.state.to_string(),
            c.profile.cid_name.clone().unwrap_or_default(),
            c.profile.cid_number.clone(),
            c.profile
                .network_addr
                .clone()
                .filter(|_| inbound)
                .unwrap_or_default(),
            c.profile.destination.clone(),
            app,
            app_data,
            c.profile.dialplan.unwrap_or("").to_string(),
            c.profile.context.to_string(),
            if c.media { "PCMU" } else { "" }.to_string(),
            if c.media { "8000" } else { "" }.to_string(),
            if c.media { "64000" } else { "" }.to_string(),
            if c.media { "PCMU" } else { "" }.to_string(),
            if c.media { "8000" } else { "" }.to_string(),
            if c.media { "64000" } else { "" }.to_string(),
            String::new(),
            self.hostname.clone(),
            c.presence_id.clone().unwrap_or_default(),
            String::new(),
            String::new(),
            callstate.to_string(),
            String::new(),
            String::new(),
            String::new(),
            if c.bridged_to.is_some() {
                c.call_uuid.clone()
            } else {
                String::new()
            },
            String::new(),
            String::new(),
            c.profile.orig_cid_name.clone().unwrap_or_default(),
            c.profile.orig_cid_number.clone(),
            c.profile
                .network_addr
                .clone()
                .filter(|_| inbound)
                .unwrap_or_default(),
            c.profile.destination.clone(),
            c.profile.dialplan.unwrap_or("").to_string(),
            c.profile.context.to_string(),
        ];
        SHOW_COLUMNS.iter().copied().zip(vals).collect()
    }

    pub(super) fn status_text(&self) -> String {
        let up = self.started.elapsed();
        let n = self.channels.len();
        format!(
            "UP {}\nFreeSWITCH (Version {FS_VERSION_SHORT}) is ready\n{} session(s) since startup\n{n} session(s) - peak {n}, last 5min {n} \n0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n1000 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n",
            uptime_text(up),
            self.sessions_since_startup
        )
    }
}

/// The fixed column set of `show channels` (custom variables never appear here).
const SHOW_COLUMNS: &[&str] = &[
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
];

pub(super) fn uptime_text(up: Duration) -> String {
    let total = up.as_secs();
    let (d, h, m, s) = (
        total / 86_400,
        (total % 86_400) / 3600,
        (total % 3600) / 60,
        total % 60,
    );
    let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "0 years, {}, {}, {}, {}, {}, {}",
        plural(d, "day"),
        plural(h, "hour"),
        plural(m, "minute"),
        plural(s, "second"),
        plural(up.subsec_millis() as u64, "millisecond"),
        plural((up.subsec_micros() % 1000) as u64, "microsecond"),
    )
}
