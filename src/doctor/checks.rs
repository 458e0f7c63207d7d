//! The checks of one switch, in the order an admin fixes things: reach the switch, then its
//! modules, dialplan, music, recordings folder and phones.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::dialplan::{self, Context, Role};
use super::{Needs, Options, Report, Scoped, Status};
use crate::config::SwitchConfig;
use crate::esl::probe::{Probe, ProbeError};
use crate::esl::translate::registered_users;

/// A documentation address (RFC 5737) the shipped `acl.conf.xml` uses as a placeholder.
const PLACEHOLDER_ADDRESS: &str = "192.0.2.10";
/// Another documentation address, standing for "some host on the internet".
const OUTSIDE_ADDRESS: &str = "203.0.113.50";

/// The feature codes of `dialplans/switchboard-features.xml`, by `switchboard_feature`.
const FEATURES: &[(&str, &str)] = &[
    ("login", "log in"),
    ("logout", "log out"),
    ("pause", "pause"),
    ("ready", "be ready again"),
    ("end_wrap_up", "end wrap-up"),
    ("toggle", "toggle with their BLF key"),
    ("disposition", "give a call a disposition code"),
];

/// A switch's answer to a question, or the connection lost on the way.
type Answer = Result<String, ProbeError>;

struct Switch<'a> {
    probe: Probe,
    lines: Scoped<'a>,
}

impl<'a> std::ops::Deref for Switch<'a> {
    type Target = Scoped<'a>;
    fn deref(&self) -> &Scoped<'a> {
        &self.lines
    }
}

impl std::ops::DerefMut for Switch<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.lines
    }
}

impl Switch<'_> {
    async fn ask(&mut self, command: &str) -> Answer {
        self.probe.api(command).await
    }
}

/// Runs every check of one switch; returns the users registered there, or `None` when the
/// switch could not be asked.
pub(super) async fn switch(
    config: &SwitchConfig,
    needs: &Needs,
    options: Options,
    report: &mut Report,
) -> Option<Vec<String>> {
    let scope = config.name.as_str();
    let password = config.password.expose();
    let probe =
        match Probe::connect(&config.esl.host, config.esl.port, password, options.timeout).await {
            Ok(probe) => probe,
            Err(e) => {
                let (message, fix) = connect_failure(config, &e);
                report.push(Status::Fail, scope, "esl", message, Some(fix));
                return None;
            }
        };
    report.push(
        Status::Ok,
        scope,
        "esl",
        format!("connected to {}, password accepted", config.esl),
        None,
    );
    if matches!(password, "ClueCon" | "ChangeMe") {
        report.push(
            Status::Warn,
            scope,
            "esl",
            format!("the ESL password is the well-known {password:?}"),
            Some(format!(
                "choose another in event_socket.conf.xml and in [[switch]] {scope:?} (or {}), then fs_cli -x 'reload mod_event_socket'",
                SwitchConfig::password_env_var(&config.name)
            )),
        );
    }
    let mut switch = Switch {
        probe,
        lines: Scoped { scope, report },
    };
    let users = match checks(&mut switch, config, needs).await {
        Ok(users) => Some(users),
        Err(e) => {
            switch.fail(
                "esl",
                format!("the connection broke while checking: {e}"),
                "run the doctor again; if it persists, look at the switch's log",
            );
            None
        }
    };
    switch.probe.close().await;
    users
}

async fn checks(
    switch: &mut Switch<'_>,
    config: &SwitchConfig,
    needs: &Needs,
) -> Result<Vec<String>, ProbeError> {
    acl(switch).await?;
    stock_password(switch).await?;
    if !modules(switch, needs).await? {
        // Without mod_commands the switch cannot answer anything else.
        return Ok(Vec::new());
    }
    dialplan_checks(switch, needs).await?;
    hold_music(switch, needs).await?;
    recordings(switch, config).await?;
    routes(switch, config).await?;
    registrations(switch).await
}

/// The stock `vars.xml` keeps `default_password=1234`, and the stock `global` extension then
/// sleeps 10 s before every call from a phone: feature codes and hot-desking answer 10 s late.
async fn stock_password(switch: &mut Switch<'_>) -> Result<(), ProbeError> {
    let reply = switch.ask("global_getvar default_password").await?;
    if reply.trim() == "1234" {
        switch.fail(
            "vars",
            "default_password is still the stock 1234: the stock dialplan then makes every call from a phone (feature codes, hot-desking) wait 10 s",
            "set another default_password in vars.xml, then fs_cli -x reloadxml",
        );
    } else {
        switch.ok("vars", "default_password is not the stock 1234");
    }
    Ok(())
}

fn connect_failure(config: &SwitchConfig, error: &ProbeError) -> (String, String) {
    let addr = &config.esl;
    let name = config.name.as_str();
    let message = format!("cannot use ESL at {addr}: {error}");
    let fix = match error {
        ProbeError::Refused { .. } => format!(
            "nothing listens on {addr}: check that mod_event_socket is loaded and that listen-ip and listen-port of event_socket.conf.xml match `esl` of [[switch]] {name:?} (on the switch: ss -ltn 'sport = :{}')",
            addr.port
        ),
        ProbeError::TimedOut { .. } | ProbeError::Unreachable { .. } => format!(
            "check the host of `esl` in [[switch]] {name:?} and let TCP {} through the firewall from this host",
            addr.port
        ),
        ProbeError::AccessDenied { .. } => "add this controller's address to the list that apply-inbound-acl names in event_socket.conf.xml (the `switchboard` list of acl.conf.xml), then fs_cli -x reloadacl".to_owned(),
        ProbeError::WrongPassword { .. } => format!(
            "make `password` of [[switch]] {name:?} (or {}) equal the password param of event_socket.conf.xml",
            SwitchConfig::password_env_var(&config.name)
        ),
        ProbeError::Protocol(_) => format!("check that {addr} is FreeSWITCH's event socket"),
    };
    (message, fix)
}

fn not_found(reply: &str) -> bool {
    reply.starts_with("-ERR") && reply.contains("Command not found")
}

async fn acl(switch: &mut Switch<'_>) -> Result<(), ProbeError> {
    let xml = switch
        .ask("xml_locate configuration configuration name event_socket.conf")
        .await?;
    let params = match dialplan::settings_params(&xml) {
        Ok(params) => params,
        Err(_) => {
            switch.warn(
                "acl",
                format!(
                    "cannot read event_socket.conf from the switch ({})",
                    first_line(&xml)
                ),
                "check by hand that apply-inbound-acl names a list of the controllers' addresses",
            );
            return Ok(());
        }
    };
    let listen_ip = params
        .iter()
        .find(|(k, _)| k == "listen-ip")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let lists: Vec<String> = params
        .iter()
        .filter(|(k, v)| k == "apply-inbound-acl" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let local_only = listen_ip.starts_with("127.") || listen_ip == "::1";
    if lists.is_empty() {
        switch.ok(
            "acl",
            format!("ESL listens on {listen_ip}; no apply-inbound-acl, so only this switch's host may connect (loopback.auto)"),
        );
        return Ok(());
    }
    let mut fine = true;
    for list in &lists {
        if switch
            .ask(&format!("acl {PLACEHOLDER_ADDRESS} {list}"))
            .await?
            .trim()
            == "true"
        {
            fine = false;
            switch.warn(
                "acl",
                format!("ACL list {list:?} still allows the placeholder {PLACEHOLDER_ADDRESS}"),
                format!("replace {PLACEHOLDER_ADDRESS}/32 in acl.conf.xml with the controller's address (or delete it), then fs_cli -x reloadacl"),
            );
        }
        let open = switch
            .ask(&format!("acl {OUTSIDE_ADDRESS} {list}"))
            .await?
            .trim()
            == "true";
        if open && !local_only {
            fine = false;
            switch.fail(
                "acl",
                format!("ESL listens on {listen_ip} and ACL list {list:?} admits any address (tried {OUTSIDE_ADDRESS}): whoever reaches the port can try passwords, which travel in clear text"),
                format!("make {list:?} in acl.conf.xml default=\"deny\" with one node per controller address, then fs_cli -x reloadacl"),
            );
        }
    }
    if fine {
        switch.ok(
            "acl",
            format!(
                "ESL listens on {listen_ip}; apply-inbound-acl {} admits this controller and no outside address",
                lists.join(", ")
            ),
        );
    }
    Ok(())
}

/// Returns false when `mod_commands` is missing (nothing else can be asked then).
async fn modules(switch: &mut Switch<'_>, needs: &Needs) -> Result<bool, ProbeError> {
    let mut loaded = Vec::new();
    for module in &needs.modules {
        let reply = switch
            .ask(&format!("module_exists {}", module.name))
            .await?;
        match reply.trim() {
            "true" => loaded.push(module.name.as_str()),
            "false" => switch.fail(
                "modules",
                format!("{} is not loaded; it is needed for {}", module.name, module.why),
                format!(
                    "add <load module=\"{0}\"/> to autoload_configs/modules.conf.xml (install the package if it is missing), then fs_cli -x 'load {0}'",
                    module.name
                ),
            ),
            other if not_found(other) => {
                switch.fail(
                    "modules",
                    "mod_commands is not loaded: the switch answers none of the API commands the controller sends",
                    "add <load module=\"mod_commands\"/> to autoload_configs/modules.conf.xml, then restart FreeSWITCH",
                );
                return Ok(false);
            }
            other => switch.warn(
                "modules",
                format!("module_exists {} answered {:?}", module.name, first_line(other)),
                format!("check by hand: fs_cli -x 'module_exists {}'", module.name),
            ),
        }
    }
    if !loaded.is_empty() {
        switch.ok("modules", format!("loaded: {}", loaded.join(", ")));
    }
    Ok(true)
}

/// Fetches a context; `None` (with a line said) when there is none or it cannot be read.
async fn context(
    switch: &mut Switch<'_>,
    name: &str,
    why: &str,
) -> Result<Option<Context>, ProbeError> {
    let xml = switch
        .ask(&format!("xml_locate dialplan context name {name}"))
        .await?;
    if xml.trim_start().starts_with("can't find anything") {
        switch.fail(
            "dialplan",
            format!("the switch has no dialplan context {name:?} ({why})"),
            format!(
                "restore dialplan/{name}.xml from the FreeSWITCH samples, then fs_cli -x reloadxml"
            ),
        );
        return Ok(None);
    }
    match Context::parse(&xml) {
        Ok(context) => Ok(Some(context)),
        Err(e) => {
            switch.warn(
                "dialplan",
                format!("cannot read context {name:?}: {e}"),
                format!("check by hand: fs_cli -x 'xml_locate dialplan context name {name}'"),
            );
            Ok(None)
        }
    }
}

fn no_vars(_: &str) -> Option<String> {
    None
}

fn describe(role: &Role) -> String {
    match role {
        Role::Queue(q) => format!("queue {q}"),
        Role::Flow(f) => format!("flow entry point {f}"),
        Role::Feature(f) => format!("feature {f}"),
        Role::Transfer(c) => format!("context {c}"),
    }
}

/// Numbers an extension answers, from its `destination_number` expressions.
fn numbers_of(ext: &dialplan::Extension) -> Vec<String> {
    let expressions = ext.number_expressions();
    let mut numbers: Vec<String> = expressions
        .first()
        .map(|e| dialplan::sample_numbers(e))
        .unwrap_or_default();
    numbers.retain(|n| answers(ext, n));
    numbers
}

/// Whether every `destination_number` expression of `ext` matches `number`.
fn answers(ext: &dialplan::Extension, number: &str) -> bool {
    let expressions = ext.number_expressions();
    !expressions.is_empty()
        && expressions
            .iter()
            .all(|e| dialplan::matches(e, number) == Some(true))
}

/// How a number fares in a context where `wanted` should take it.
enum Verdict {
    Reached(Vec<String>),
    Shadowed { by: String, expressions: String },
    Nowhere,
}

fn verdict(context: &Context, number: &str, wanted: &dyn Fn(usize) -> bool) -> Verdict {
    let hunt = context.hunt(number, &no_vars);
    match hunt.taken_by {
        Some(i) if wanted(i) => Verdict::Reached(
            hunt.maybe
                .iter()
                .map(|(j, why)| format!("'{}' (depending on {why})", context.extensions[*j].name))
                .collect(),
        ),
        Some(i) => {
            let ext = &context.extensions[i];
            Verdict::Shadowed {
                by: ext.name.clone(),
                expressions: ext.number_expressions().join(" "),
            }
        }
        None => Verdict::Nowhere,
    }
}

async fn dialplan_checks(switch: &mut Switch<'_>, needs: &Needs) -> Result<(), ProbeError> {
    let public = context(switch, "public", "where callers from carriers arrive").await?;
    let default = context(switch, "default", "where agents' phones dial").await?;
    let mut entries: Vec<(String, Role)> = Vec::new();
    if let Some(public) = &public {
        entry_points(switch, public, needs, &mut entries);
    }
    let contexts: Vec<&Context> = public.iter().chain(default.iter()).collect();
    unreached(switch, &contexts, needs);
    if let Some(default) = &default {
        from_phones(switch, default, &entries);
        features(switch, default, needs);
    }
    Ok(())
}

/// Our extensions in `public`: does each lead somewhere the controller knows, and do its
/// numbers reach it?
fn entry_points(
    switch: &mut Switch<'_>,
    public: &Context,
    needs: &Needs,
    entries: &mut Vec<(String, Role)>,
) {
    for (i, ext) in public.extensions.iter().enumerate() {
        let role = match ext.role() {
            Some(role @ (Role::Queue(_) | Role::Flow(_))) => role,
            _ => continue,
        };
        match &role {
            Role::Queue(q) if !needs.queues.contains(q) => switch.fail(
                "dialplan",
                format!("extension '{}' in context public parks callers for queue {q:?}, which the provisioning does not have: they are hung up", ext.name),
                format!("add a [[queue]] with id = {q:?} to the provisioning file, or correct switchboard_queue in dialplan/public/"),
            ),
            Role::Flow(f) if !needs.flow_entry_points.contains(f) => switch.fail(
                "dialplan",
                format!("extension '{}' in context public sends callers to flow entry point {f:?}, which no loaded flow has: they are hung up", ext.name),
                format!("add {f:?} to entry_points of a flow, or correct switchboard_flow in dialplan/public/"),
            ),
            _ => {}
        }
        let numbers = numbers_of(ext);
        if numbers.is_empty() {
            switch.warn(
                "dialplan",
                format!(
                    "cannot tell which numbers extension '{}' ({}) answers",
                    ext.name,
                    describe(&role)
                ),
                "check by hand that no extension before it in context public takes them",
            );
            continue;
        }
        let same = |j: usize| j == i || public.extensions[j].role().as_ref() == Some(&role);
        let mut reached = Vec::new();
        for number in numbers {
            entries.push((number.clone(), role.clone()));
            match verdict(public, &number, &same) {
                Verdict::Reached(maybe) => {
                    if !maybe.is_empty() {
                        switch.warn(
                            "dialplan",
                            format!("callers dialling {number} may be taken first by {}", maybe.join(", ")),
                            "check those extensions in context public by hand",
                        );
                    }
                    reached.push(number.clone());
                }
                Verdict::Shadowed { by, expressions } => switch.fail(
                    "dialplan",
                    format!("callers dialling {number} reach extension '{by}' ({expressions}) in context public before '{}' ({})", ext.name, describe(&role)),
                    format!("remove or renumber '{by}', or put '{}' before it", ext.name),
                ),
                Verdict::Nowhere => switch.warn(
                    "dialplan",
                    format!("callers dialling {number} may not reach '{}': its other conditions cannot be checked here", ext.name),
                    "check the extension's conditions by hand",
                ),
            }
        }
        if !reached.is_empty() {
            switch.ok(
                "dialplan",
                format!(
                    "callers dialling {} reach {} (extension '{}', context public)",
                    reached.join(", "),
                    describe(&role),
                    ext.name
                ),
            );
        }
    }
}

/// Queues nothing leads to. (A flow's entry points are not required to have extensions:
/// `goto`, surveys and transfers reach flows too.)
fn unreached(switch: &mut Switch<'_>, contexts: &[&Context], needs: &Needs) {
    let roles: BTreeSet<String> = contexts
        .iter()
        .flat_map(|c| c.extensions.iter())
        .filter_map(|e| e.role())
        .map(|r| describe(&r))
        .collect();
    for queue in &needs.queues {
        if !roles.contains(&format!("queue {queue}"))
            && !needs.queues_reached_otherwise.contains(queue)
        {
            switch.warn(
                "dialplan",
                format!("no extension parks callers for queue {queue} and no flow or overflow leads to it: callers cannot reach it"),
                format!("add an extension setting switchboard_queue={queue} to dialplan/public/switchboard.xml, then fs_cli -x reloadxml"),
            );
        }
    }
}

/// The entry numbers dialled from a phone (context `default`).
fn from_phones(switch: &mut Switch<'_>, default: &Context, entries: &[(String, Role)]) {
    let ours = |role: Option<Role>, wanted: &Role| match role {
        Some(Role::Transfer(c)) => c == "public",
        Some(r) => &r == wanted,
        None => false,
    };
    let mut reached = Vec::new();
    for (number, role) in entries {
        let wanted = |j: usize| ours(default.extensions[j].role(), role);
        match verdict(default, number, &wanted) {
            Verdict::Reached(_) => reached.push(number.as_str()),
            Verdict::Shadowed { by, expressions } => {
                let late = default
                    .extensions
                    .iter()
                    .find(|e| ours(e.role(), role) && answers(e, number));
                match late {
                    Some(late) => switch.fail(
                        "dialplan",
                        format!("phones dialling {number} reach extension '{by}' ({expressions}) in context default before '{}'", late.name),
                        format!("delete '{by}' from dialplan/default.xml (the stock demo), then fs_cli -x reloadxml"),
                    ),
                    None => switch.warn(
                        "dialplan",
                        format!("phones dialling {number} reach extension '{by}' in context default, not {}", describe(role)),
                        format!("to let phones call it, delete '{by}' from dialplan/default.xml and add the hand-over to public described in dialplans/switchboard.xml"),
                    ),
                }
            }
            Verdict::Nowhere => {}
        }
    }
    if !reached.is_empty() {
        switch.ok(
            "dialplan",
            format!(
                "phones dialling {} reach them too (context default)",
                reached.join(", ")
            ),
        );
    }
}

/// The feature codes in `default`: present, and not shadowed.
fn features(switch: &mut Switch<'_>, default: &Context, needs: &Needs) {
    let feature_of = |j: usize| match default.extensions[j].role() {
        Some(Role::Feature(f)) => Some(f),
        _ => None,
    };
    let found: Vec<(usize, String)> = (0..default.extensions.len())
        .filter_map(|j| feature_of(j).map(|f| (j, f)))
        .collect();
    if found.is_empty() {
        switch.fail(
            "dialplan",
            "context default has no feature codes: agents cannot log in, pause or be ready from their phones",
            "copy dialplans/switchboard-features.xml to dialplan/default/, then fs_cli -x reloadxml",
        );
        return;
    }
    for (feature, what) in FEATURES {
        if !found.iter().any(|(_, f)| f == feature) {
            switch.warn(
                "dialplan",
                format!("no extension in context default sets switchboard_feature={feature}: agents cannot {what} from their phones"),
                "copy it from dialplans/switchboard-features.xml to dialplan/default/, then fs_cli -x reloadxml",
            );
        }
    }
    let mut reached: Vec<String> = Vec::new();
    for (i, feature) in &found {
        let ext = &default.extensions[*i];
        let mut numbers = numbers_of(ext);
        if feature == "pause" {
            if let Some(shortest) = numbers.iter().min_by_key(|n| n.len()).cloned() {
                numbers.extend(
                    needs
                        .pause_codes
                        .iter()
                        .map(|code| format!("{shortest}{code}"))
                        .filter(|n| answers(ext, n)),
                );
            }
        }
        if feature == "toggle" {
            let keys: Vec<String> = needs
                .agents
                .iter()
                .map(|(id, _)| format!("agent+{id}"))
                .filter(|n| answers(ext, n))
                .collect();
            if !keys.is_empty() {
                numbers = keys;
            }
        }
        numbers.sort();
        numbers.dedup();
        if numbers.is_empty() {
            switch.warn(
                "dialplan",
                format!(
                    "cannot tell which numbers the feature extension '{}' answers",
                    ext.name
                ),
                "check by hand that no extension before it in context default takes them",
            );
        }
        let same = |j: usize| feature_of(j).as_ref() == Some(feature);
        for number in numbers {
            match verdict(default, &number, &same) {
                Verdict::Reached(maybe) if maybe.is_empty() => reached.push(number),
                Verdict::Reached(maybe) => {
                    switch.warn(
                        "dialplan",
                        format!("phones dialling {number} may be taken first by {}", maybe.join(", ")),
                        "check those extensions in context default by hand",
                    );
                    reached.push(number);
                }
                Verdict::Shadowed { by, expressions } => switch.fail(
                    "dialplan",
                    format!("phones dialling {number} reach extension '{by}' ({expressions}) in context default before '{}' (feature {feature})", ext.name),
                    format!("remove or renumber '{by}', or change the code in '{}' (the controller only reads switchboard_feature)", ext.name),
                ),
                Verdict::Nowhere => switch.warn(
                    "dialplan",
                    format!("phones dialling {number} may not reach '{}'", ext.name),
                    "check the extension's conditions by hand",
                ),
            }
        }
    }
    if let Some(hot_desk) = &needs.hot_desk_extension {
        let hunt = default.hunt(hot_desk, &no_vars);
        let taken = hunt.taken_by.map(|i| &default.extensions[i]);
        match taken {
            Some(ext) if ext.collects_agent_number() => {}
            other => switch.fail(
                "dialplan",
                format!(
                    "a log-in from a phone no agent has is sent to {hot_desk}, which reaches {} instead of an extension asking for the agent number",
                    other.map_or("nothing".to_owned(), |e| format!("'{}'", e.name))
                ),
                "set [agents] hot_desk_extension to the hot-desk code of dialplans/switchboard-features.xml (*21), or \"\" to refuse such log-ins",
            ),
        }
    }
    if !reached.is_empty() {
        switch.ok(
            "dialplan",
            format!(
                "feature codes {} reach their extensions (context default)",
                reached.join(", ")
            ),
        );
    }
}

async fn hold_music(switch: &mut Switch<'_>, needs: &Needs) -> Result<(), ProbeError> {
    let mut streams: Option<Vec<(String, String)>> = None;
    for (source, queues) in &needs.hold_music {
        let queues = queues.join(", ");
        if let Some(name) = source.strip_prefix("local_stream://") {
            if streams.is_none() {
                let listing = switch.ask("local_stream show").await?;
                if not_found(&listing) {
                    // mod_local_stream missing: already a FAIL of the modules check.
                    return Ok(());
                }
                streams = Some(
                    listing
                        .lines()
                        .filter_map(|l| l.split_once(','))
                        .map(|(n, f)| (n.trim().to_owned(), f.trim().to_owned()))
                        .collect(),
                );
            }
            let all = streams.as_deref().unwrap_or_default();
            let prefix = format!("{name}/");
            let found: Vec<&(String, String)> = all
                .iter()
                .filter(|(n, _)| n == name || n.starts_with(&prefix))
                .collect();
            if found.is_empty() {
                let fallback = all.iter().any(|(n, _)| n == "default");
                let message = format!(
                    "no local stream {name:?} for {source} (queues {queues}); the switch has {}",
                    if all.is_empty() {
                        "none".to_owned()
                    } else {
                        all.iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
                let fix = format!("define <directory name=\"{name}/8000\" path=\"$${{sounds_dir}}/music/8000\"> (and the other rates) in local_stream.conf.xml, install the music files, then fs_cli -x 'reload mod_local_stream'");
                if fallback {
                    switch.warn(
                        "moh",
                        format!("{message}: callers hear the 'default' stream instead"),
                        fix,
                    );
                } else {
                    switch.fail("moh", format!("{message}: callers hear silence"), fix);
                }
                continue;
            }
            let mut missing = Vec::new();
            for (stream, folder) in &found {
                if switch.ask(&format!("file_exists {folder}")).await?.trim() != "true" {
                    missing.push(format!("{stream} ({folder})"));
                }
            }
            if missing.is_empty() {
                let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
                switch.ok(
                    "moh",
                    format!("{source} (queues {queues}) plays {}", names.join(", ")),
                );
            } else {
                switch.fail(
                    "moh",
                    format!("the folders of {} are missing on the switch (queues {queues})", missing.join(", ")),
                    "install the music files (the freeswitch-music packages, or make cd-moh-install), then fs_cli -x 'reload mod_local_stream'",
                );
            }
        } else if source.starts_with('/') {
            if switch.ask(&format!("file_exists {source}")).await?.trim() == "true" {
                switch.ok(
                    "moh",
                    format!("{source} (queues {queues}) exists on the switch"),
                );
            } else {
                switch.fail(
                    "moh",
                    format!(
                        "the hold music {source} of queues {queues} does not exist on the switch"
                    ),
                    format!("copy the file to the switch, or correct `moh` of queues {queues}"),
                );
            }
        }
    }
    Ok(())
}

async fn recordings(switch: &mut Switch<'_>, config: &SwitchConfig) -> Result<(), ProbeError> {
    let dir = &config.recordings_dir;
    let name = config.name.as_str();
    if switch.ask(&format!("file_exists {dir}")).await?.trim() != "true" {
        switch.fail(
            "recordings",
            format!("the switch has no folder {dir} (recordings_dir): recordings fail to start"),
            format!("create it on the switch (mkdir -p {dir}, owned by the user FreeSWITCH runs as), or correct recordings_dir of [[switch]] {name:?}"),
        );
        return Ok(());
    }
    let Some(mount) = &config.recordings_mount else {
        switch.warn(
            "recordings",
            format!("{dir} exists on the switch; no recordings_mount, so recordings are metadata only (no download, no purge of files)"),
            format!("mount the switch's {dir} on this host and set recordings_mount of [[switch]] {name:?}"),
        );
        return Ok(());
    };
    if !mount.is_dir() {
        switch.fail(
            "recordings",
            format!(
                "recordings_mount {} is not a folder on this host",
                mount.display()
            ),
            format!("mount the switch's {dir} at {}", mount.display()),
        );
        return Ok(());
    }
    let marker = format!(".switchboard-doctor-{}", uuid::Uuid::new_v4());
    let local = mount.join(&marker);
    if let Err(e) = std::fs::write(&local, b"switchboard doctor\n") {
        switch.fail(
            "recordings",
            format!("the controller cannot write to {} ({e}): the retention purge and erasures cannot delete files there", mount.display()),
            "give the controller's user write access to the mount",
        );
        return Ok(());
    }
    let seen = switch.ask(&format!("file_exists {dir}/{marker}")).await;
    let removed = std::fs::remove_file(&local);
    let seen = seen?.trim() == "true";
    if seen {
        switch.ok(
            "recordings",
            format!(
                "{} is the switch's {dir}: a file written there is seen by the switch",
                mount.display()
            ),
        );
    } else {
        switch.fail(
            "recordings",
            format!("{} is not the switch's {dir}: a file written there is not seen by the switch, so recordings cannot be played or purged", mount.display()),
            format!("mount the switch's {dir} at {} (NFS, SMB or a bind mount), or correct recordings_dir / recordings_mount of [[switch]] {name:?}", mount.display()),
        );
    }
    if let Err(e) = removed {
        switch.warn(
            "recordings",
            format!("cannot remove the marker {}: {e}", local.display()),
            "delete it by hand",
        );
    }
    Ok(())
}

/// The routes to other switches (`[switch.reach]`): one through a gateway needs that gateway
/// here, or every agent reached through it fails with `INVALID_GATEWAY`.
/// One line per route: a `sofia/gateway/<name>/…` route's gateway exists (`sofia status
/// gateway <name>`); other routes are not checked.
async fn routes(switch: &mut Switch<'_>, config: &SwitchConfig) -> Result<(), ProbeError> {
    for (to, template) in &config.reach {
        let Some(gateway) = template
            .strip_prefix("sofia/gateway/")
            .and_then(|rest| rest.split('/').next())
        else {
            switch.ok(
                "routes",
                format!("route to {to}: {template} (not through a gateway: not checked)"),
            );
            continue;
        };
        let reply = switch
            .ask(&format!("sofia status gateway {gateway}"))
            .await?;
        if reply.starts_with("Invalid Gateway") || reply.starts_with("-ERR") {
            switch.fail(
                "routes",
                format!("route to {to}: this switch has no gateway {gateway:?}"),
                format!(
                    "add it as freeswitch-conf/sip_profiles/external/switchboard-fs2.xml shows (named {gateway}, proxy {to}'s address, port 5080), then fs_cli -x 'sofia profile external rescan'"
                ),
            );
        } else {
            switch.ok("routes", format!("route to {to}: gateway {gateway} exists"));
        }
    }
    Ok(())
}

async fn registrations(switch: &mut Switch<'_>) -> Result<Vec<String>, ProbeError> {
    let listing = switch.ask("show registrations as json").await?;
    match registered_users(&listing) {
        Ok(users) => {
            switch.ok("phones", format!("{} phone(s) registered", users.len()));
            Ok(users)
        }
        Err(e) => {
            switch.warn(
                "phones",
                format!("cannot read the registrations: {e}"),
                "check by hand: fs_cli -x 'show registrations'",
            );
            Ok(Vec::new())
        }
    }
}

/// Agents whose phone is registered on no switch (nothing when no switch could be asked).
pub(super) fn phones(
    needs: &Needs,
    registered: &[String],
    complete: bool,
    any_listed: bool,
    report: &mut Report,
) {
    if !any_listed {
        return;
    }
    let mut missing = Vec::new();
    let mut checked = 0;
    for (agent, user) in &needs.agents {
        let Some(user) = user else { continue };
        checked += 1;
        if !registered.iter().any(|r| r == user) {
            missing.push((agent, user));
        }
    }
    let where_ = if complete {
        "any switch"
    } else {
        "any switch the doctor could reach"
    };
    for (agent, user) in &missing {
        report.push(
            Status::Warn,
            "agents",
            "phones",
            format!("agent {agent}'s phone (user {user}) is not registered on {where_}: the agent gets no offers"),
            Some(format!("register the phone as SIP user {user} (FreeSWITCH: freeswitch-conf/directory/default/1001.xml, fs_cli -x 'show registrations' lists what is registered; Asterisk: the PJSIP endpoint {user} of asterisk-conf/pjsip_switchboard.conf, asterisk -rx 'pjsip show contacts')")),
        );
    }
    if checked > 0 && missing.is_empty() {
        let mut message = String::new();
        let _ = write!(
            message,
            "the phones of all {checked} agent(s) are registered"
        );
        report.push(Status::Ok, "agents", "phones", message, None);
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}
