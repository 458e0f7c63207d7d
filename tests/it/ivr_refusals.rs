//! IVR flows whose nodes the controller refuses to run as written: the caller is never left in
//! silence, the flow takes the way out the node has.

use std::time::{Duration, Instant};

use crate::ivr::{app_serving, caller, ended_session, step, steps};

#[tokio::test]
async fn a_say_of_text_the_command_layer_refuses_moves_on_instead_of_leaving_the_caller_in_silence()
{
    let (app, _flows) = app_serving(
        r#"
[node.start]
kind = "set"
next = "readback"
[node.start.variables]
balance = "1,234.50"

[node.readback]
kind = "play"
say = "{{balance}}"
say_as = "money"
next = "bye"

[node.bye]
kind = "hangup"
cause = "NORMAL_CLEARING"
"#,
    )
    .await;
    let placed = Instant::now();
    let uuid = app.sim.place_call(caller());
    let session = ended_session(&app, &uuid).await;
    assert!(
        placed.elapsed() < Duration::from_secs(5),
        "the caller waited {:?}",
        placed.elapsed()
    );
    assert_eq!(session["outcome"], "hung_up", "{session:#}");
    let steps = steps(&session);
    assert_eq!(steps.last(), Some(&step("bye", "hung up")), "{steps:?}");
}
