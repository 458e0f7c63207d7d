//! A queue's disposition codes and wrap-up limit in the provisioning file.

use std::time::Duration;

use super::provisioning::Provisioning;

const QUEUE: &str = r#"
[[queue]]
id = "sales"
name = "Sales"
max_wrap_up = "2m"
disposition_required = true
disposition_codes = [
  { code = "1", label = "Sale" },
  { code = "2", label = "No sale" },
]
"#;

#[test]
fn a_queues_codes_and_wrap_up_limit_are_read() {
    let p = Provisioning::parse(QUEUE, "provisioning.toml").expect("valid");
    let work = &p.queues[0].routing.wrap_up_work;
    assert_eq!(work.disposition_codes.len(), 2);
    assert_eq!(work.disposition_codes[1].label, "No sale");
    assert!(work.disposition_required);
    assert_eq!(work.max_wrap_up, Some(Duration::from_secs(120)));
}

#[test]
fn bad_lists_are_refused_with_the_queues_key() {
    for (bad, says) in [
        (QUEUE.replace("code = \"2\"", "code = \"1\""), "listed twice"),
        (QUEUE.replace("code = \"2\"", "code = \"2 3\""), "letters, digits"),
        (QUEUE.replace("\"No sale\"", "\"\""), "label"),
        (
            QUEUE.replace(
                "disposition_codes = [\n  { code = \"1\", label = \"Sale\" },\n  { code = \"2\", label = \"No sale\" },\n]",
                "",
            ),
            "needs disposition_codes",
        ),
    ] {
        let err = Provisioning::parse(&bad, "provisioning.toml")
            .expect_err("refused")
            .to_string();
        assert!(err.contains(says), "{err}");
        assert!(err.contains("queue[0]"), "{err}");
    }
}
