//! What an administrator (or `switchboard doctor`) asks a switch about its installation:
//! `module_exists`, `xml_locate`, `local_stream show`, `file_exists` and `acl`, and the event
//! socket's `apply-inbound-acl` applied to new connections.
//!
//! Reply shapes follow FreeSWITCH 1.10's sources, since no capture shows them:
//! `module_exists`, `file_exists` and `acl` answer a bare `true` / `false` (`mod_commands.c`);
//! `xml_locate <section> <tag> <attr> <value>` the located element as XML, or
//! `can't find anything\n`, or `-Error bad args\n`; `local_stream show` one `name,folder\n`
//! line per stream (`mod_local_stream.c`); a denied address gets `text/rude-rejection`
//! (`Content-Length: 24`, "Access Denied, go away.\n") and the goodbye notice before any
//! `auth/request` (`mod_event_socket.c`). An API of a module that is not loaded is
//! `-ERR <command> Command not found!\n`, as captured in `api-outputs`.
//!
//! The installation is set through [`SimConfig`]'s `missing_modules`, `dialplan_xml`,
//! `local_streams`, `acl_lists`, `esl_inbound_acl` and `esl_listen_ip`; files are the ones
//! below `disk_root` (the switch's `/`) or, without one, the sound files.

use std::net::IpAddr;

use super::Core;
use crate::sim::wire;
use crate::sim::SimConfig;

/// The installation as `SimConfig` describes it, kept for the admin commands.
#[derive(Debug, Clone, Default)]
pub(crate) struct Admin {
    missing_modules: Vec<String>,
    dialplan_xml: Vec<(String, String)>,
    /// Numbers of the shipped dialplan in their order, for the contexts not given as XML.
    entry_points: Vec<(String, Vec<(String, String)>)>,
    local_streams: Vec<(String, String)>,
    acl_lists: Vec<(String, Vec<String>)>,
    esl_inbound_acl: Vec<String>,
    esl_listen_ip: String,
    password: String,
    pub(super) default_password: String,
}

impl Admin {
    pub(crate) fn from_config(config: &SimConfig) -> Admin {
        Admin {
            missing_modules: config.missing_modules.clone(),
            dialplan_xml: config.dialplan_xml.clone(),
            entry_points: config
                .entry_points
                .iter()
                .map(|e| (e.number.clone(), e.variables.clone()))
                .collect(),
            local_streams: config.local_streams.clone(),
            acl_lists: config.acl_lists.clone(),
            esl_inbound_acl: config.esl_inbound_acl.clone(),
            esl_listen_ip: config.esl_listen_ip.clone(),
            password: config.password.clone(),
            default_password: config.default_password.clone(),
        }
    }

    fn loaded(&self, module: &str) -> bool {
        !self.missing_modules.iter().any(|m| m == module)
    }

    /// Whether `ip` passes the list `name` (`loopback.auto` built in, as in the core).
    fn admits(&self, name: &str, ip: IpAddr) -> bool {
        if name == "loopback.auto" {
            return ip.is_loopback();
        }
        self.acl_lists
            .iter()
            .find(|(list, _)| list == name)
            .is_some_and(|(_, cidrs)| cidrs.iter().any(|c| in_cidr(ip, c)))
    }
}

/// Whether `ip` lies in `cidr` (`a.b.c.d/n`, `x::y/n`, or a bare address).
fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((net, bits)) => (net, bits.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

fn xml_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// `^<number>$` with the regex's special characters escaped (`*22` → `^\*22$`).
fn anchored(number: &str) -> String {
    let mut out = String::from("^");
    for c in number.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

impl Core {
    /// The admin commands above, or "Command not found" for a command nothing else answered
    /// (the fallback of `run_api`). An empty reply is sent as `-ERR no reply\n`, as
    /// `api_exec` in mod_event_socket.c does (`local_stream show` without streams).
    pub(crate) fn admin_api(&mut self, cmd: &str, arg: &str) -> String {
        match self.admin_command(cmd, arg) {
            None => format!("-ERR {cmd} Command not found!\n"),
            Some(reply) if reply.is_empty() => "-ERR no reply\n".to_owned(),
            Some(reply) => reply,
        }
    }

    fn admin_command(&mut self, cmd: &str, arg: &str) -> Option<String> {
        let module = match cmd {
            "module_exists" | "xml_locate" | "file_exists" | "acl" => "mod_commands",
            "local_stream" => "mod_local_stream",
            "sofia" => "mod_sofia",
            _ => return None,
        };
        if !self.admin.loaded(module) {
            return Some(format!("-ERR {cmd} Command not found!\n"));
        }
        let arg = arg.trim();
        Some(match cmd {
            "module_exists" if arg.is_empty() => String::new(),
            "module_exists" => self.admin.loaded(arg).to_string(),
            "xml_locate" => self.xml_locate(arg),
            "file_exists" => (!arg.is_empty() && self.file_exists(arg)).to_string(),
            "acl" => {
                let mut words = arg.split_whitespace();
                match (words.next().map(str::parse::<IpAddr>), words.next()) {
                    (Some(Ok(ip)), Some(list)) => self.admin.admits(list, ip).to_string(),
                    _ => "false".to_owned(),
                }
            }
            "sofia" => self.sofia_status_gateway(arg),
            _ => self.local_stream(arg),
        })
    }

    /// Whether a new ESL connection from `ip` is refused by `apply-inbound-acl` (every list
    /// must admit it; none configured means `loopback.auto`).
    pub(crate) fn esl_refuses(&self, ip: IpAddr) -> bool {
        if self.admin.esl_inbound_acl.is_empty() {
            return !self.admin.admits("loopback.auto", ip);
        }
        self.admin
            .esl_inbound_acl
            .iter()
            .any(|list| !self.admin.admits(list, ip))
    }

    /// The bytes a refused connection gets before the switch closes it.
    pub(crate) fn esl_rejection() -> Vec<u8> {
        const MESSAGE: &str = "Access Denied, go away.\n";
        let mut bytes = format!(
            "Content-Type: text/rude-rejection\nContent-Length: {}\n\n{MESSAGE}",
            MESSAGE.len()
        )
        .into_bytes();
        bytes.extend(wire::disconnect_notice(wire::GOODBYE));
        bytes
    }

    fn file_exists(&self, path: &str) -> bool {
        if let Some(root) = &self.disk_root {
            let on_disk = super::disk::file_under(root, path).is_ok_and(|p| p.exists());
            let listed = matches!(&self.sounds, crate::sim::SoundFiles::Only(list) if list.iter().any(|p| p == path));
            return on_disk || listed;
        }
        self.sounds.exists(path)
    }

    fn local_stream(&self, arg: &str) -> String {
        let words: Vec<&str> = arg.split_whitespace().collect();
        match words.as_slice() {
            ["show"] => self
                .admin
                .local_streams
                .iter()
                .map(|(name, folder)| format!("{name},{folder}\n"))
                .collect(),
            ["show", name, ..] => match self.admin.local_streams.iter().find(|(n, _)| n == name) {
                Some((name, folder)) => format!("{name}\n  location: {folder}\n"),
                None => format!("-ERR Cannot locate local_stream {name}!\n"),
            },
            _ => "-USAGE: <show|start|reload|stop|hup> <local_stream_name>\n".to_owned(),
        }
    }

    fn xml_locate(&self, arg: &str) -> String {
        let words: Vec<&str> = arg.split(' ').filter(|w| !w.is_empty()).collect();
        match words.as_slice() {
            ["dialplan", "context", "name", context] => match self.dialplan_context(context) {
                Some(xml) => xml,
                None => "can't find anything\n".to_owned(),
            },
            ["configuration", "configuration", "name", "event_socket.conf"] => {
                self.event_socket_conf()
            }
            [_, _, _, _] => "can't find anything\n".to_owned(),
            _ => "-Error bad args\n".to_owned(),
        }
    }

    fn dialplan_context(&self, context: &str) -> Option<String> {
        if let Some((_, xml)) = self.admin.dialplan_xml.iter().find(|(c, _)| c == context) {
            return Some(xml.clone());
        }
        if context != "public" && context != "default" {
            return None;
        }
        let mut xml = format!("<context name=\"{context}\">\n");
        for (number, variables) in &self.admin.entry_points {
            xml.push_str(&format!(
                "  <extension name=\"sim_{}\">\n    <condition field=\"destination_number\" expression=\"{}\">\n",
                xml_escape(number),
                xml_escape(&anchored(number))
            ));
            for (name, value) in variables {
                xml.push_str(&format!(
                    "      <action application=\"set\" data=\"{}\"/>\n",
                    xml_escape(&format!("{name}={value}"))
                ));
            }
            xml.push_str(
                "      <action application=\"park\"/>\n    </condition>\n  </extension>\n",
            );
        }
        xml.push_str("</context>\n");
        Some(xml)
    }

    fn event_socket_conf(&self) -> String {
        let mut xml = String::from(
            "<configuration name=\"event_socket.conf\" description=\"Socket Client\">\n  <settings>\n",
        );
        let mut param = |name: &str, value: &str| {
            xml.push_str(&format!(
                "    <param name=\"{name}\" value=\"{}\"/>\n",
                xml_escape(value)
            ));
        };
        param("nat-map", "false");
        param("listen-ip", &self.admin.esl_listen_ip);
        param("listen-port", "8021");
        param("password", &self.admin.password);
        for list in &self.admin.esl_inbound_acl {
            param("apply-inbound-acl", list);
        }
        xml.push_str("  </settings>\n</configuration>\n");
        xml
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_match_as_the_acl_lists_do() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(in_cidr(ip("127.0.0.1"), "127.0.0.0/8"));
        assert!(!in_cidr(ip("10.0.0.1"), "127.0.0.0/8"));
        assert!(in_cidr(ip("192.0.2.10"), "192.0.2.10/32"));
        assert!(in_cidr(ip("8.8.8.8"), "0.0.0.0/0"));
        assert!(in_cidr(ip("::1"), "::1/128"));
        assert!(!in_cidr(ip("::1"), "127.0.0.0/8"));
        assert!(!in_cidr(ip("127.0.0.1"), "not-an-address"));
    }

    #[test]
    fn numbers_become_anchored_expressions() {
        assert_eq!(anchored("*22"), "^\\*22$");
        assert_eq!(anchored("agent+1001"), "^agent\\+1001$");
        assert_eq!(anchored("5000"), "^5000$");
    }
}
