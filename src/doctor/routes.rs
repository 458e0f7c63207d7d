//! The routes to other switches (`[switch.reach]`): a route through a gateway needs that
//! gateway on this switch, or every agent reached through it sits out with
//! `INVALID_GATEWAY`.

use super::checks::Switch;
use crate::config::SwitchConfig;
use crate::esl::probe::ProbeError;

/// One line per route: a `sofia/gateway/<name>/…` route's gateway exists (`sofia status
/// gateway <name>`); other routes are not checked.
pub(super) async fn gateways(
    switch: &mut Switch<'_>,
    config: &SwitchConfig,
) -> Result<(), ProbeError> {
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
