use super::*;

/// The extensions of our feature-code file, as the stock `default.xml` includes them.
fn shipped_features() -> &'static str {
    let file = include_str!("../../../dialplans/switchboard-features.xml");
    let start = file
        .find("<include>")
        .map(|i| i + "<include>".len())
        .unwrap_or(0);
    let end = file.rfind("</include>").unwrap_or(file.len());
    &file[start..end]
}

/// A stock 1.10 `default` context as `xml_locate` returns it (abridged, same order): the
/// demo extensions come before `default/*.xml`, where our feature codes and the hand-over of
/// the queues' numbers to `public` were put.
fn stock_default() -> String {
    format!(
        r#"<context name="default">
  <extension name="unloop">
    <condition field="${{unroll_loops}}" expression="^true$"/>
    <condition field="${{sip_looped_call}}" expression="^true$">
      <action application="deflect" data="${{destination_number}}"/>
    </condition>
  </extension>
  <extension name="tod_example" continue="true">
    <condition wday="2-6" hour="9-18">
      <action application="set" data="open=true"/>
    </condition>
  </extension>
  <extension name="group-intercept">
    <condition field="destination_number" expression="^\*8$">
      <action application="answer"/>
    </condition>
  </extension>
  <extension name="intercept-ext">
    <condition field="destination_number" expression="^\*\*(\d+)$">
      <action application="answer"/>
    </condition>
  </extension>
  <extension name="global" continue="true">
    <condition field="${{call_debug}}" expression="^true$" break="never">
      <action application="info"/>
    </condition>
    <condition field="${{default_password}}" expression="^1234$" break="never">
      <action application="sleep" data="10000"/>
    </condition>
    <condition>
      <action application="hash" data="insert/${{domain_name}}-spymap/${{caller_id_number}}/${{uuid}}"/>
    </condition>
  </extension>
  <extension name="eavesdrop">
    <condition field="destination_number" expression="^88(\d{{4}})$|^\*0(.*)$">
      <action application="answer"/>
    </condition>
  </extension>
  <extension name="call_return">
    <condition field="destination_number" expression="^\*69$|^869$|^lcr$">
      <action application="transfer" data="${{hash(select/${{domain_name}}-call_return/${{caller_id_number}})}}"/>
    </condition>
  </extension>
  <extension name="Local_Extension">
    <condition field="destination_number" expression="^(10[01][0-9])$">
      <action application="bridge" data="user/${{dialed_extension}}@${{domain_name}}"/>
    </condition>
  </extension>
  <extension name="vmain">
    <condition field="destination_number" expression="^vmain$|^4000$|^\*98$">
      <action application="voicemail" data="check default ${{domain_name}}"/>
    </condition>
  </extension>
  <extension name="ivr_demo">
    <condition field="destination_number" expression="^5000$">
      <action application="answer"/>
      <action application="ivr" data="demo_ivr"/>
    </condition>
  </extension>
  <extension name="dynamic_conference">
    <condition field="destination_number" expression="^5001$">
      <action application="conference" data="bridge:mydynaconf:sofia/${{use_profile}}/1234@conference.freeswitch.org"/>
    </condition>
  </extension>
  <extension name="valet_park">
    <condition field="destination_number" expression="^((?!6000)60\d{{2}})$">
      <action application="valet_park" data="valet_parking_lot $1"/>
    </condition>
  </extension>
  <extension name="hold_music">
    <condition field="destination_number" expression="^9664$"/>
    <condition field="${{rtp_has_crypto}}" expression="^(AES_CM_128_HMAC_SHA1_32|AES_CM_128_HMAC_SHA1_80)$">
      <action application="playback" data="$${{hold_music}}"/>
      <anti-action application="playback" data="local_stream://moh"/>
    </condition>
  </extension>
  {features}
  <extension name="switchboard_from_phones">
    <condition field="destination_number" expression="^(5000|5001|5002|5003)$">
      <action application="transfer" data="$1 XML public"/>
    </condition>
  </extension>
</context>
"#,
        features = shipped_features()
    )
}

fn context() -> Context {
    Context::parse(&stock_default()).expect("stock default parses")
}

fn no_vars(_: &str) -> Option<String> {
    None
}

fn taken_by(context: &Context, number: &str) -> Option<String> {
    context
        .hunt(number, &no_vars)
        .taken_by
        .map(|i| context.extensions[i].name.clone())
}

#[test]
fn feature_codes_reach_our_extensions_past_the_stock_ones() {
    let ctx = context();
    for (number, extension) in [
        ("*21", "switchboard_agent_hot_desk"),
        ("*22", "switchboard_agent_login"),
        ("*23", "switchboard_agent_logout"),
        ("*24", "switchboard_agent_pause"),
        ("*241", "switchboard_agent_pause"),
        ("*25", "switchboard_agent_ready"),
        ("*26", "switchboard_agent_end_wrap_up"),
        ("*271", "switchboard_agent_disposition"),
        ("agent+1001", "switchboard_agent_blf_toggle"),
    ] {
        let hunt = ctx.hunt(number, &no_vars);
        assert_eq!(
            hunt.taken_by.map(|i| ctx.extensions[i].name.as_str()),
            Some(extension),
            "{number}"
        );
        assert!(hunt.maybe.is_empty(), "{number}: {:?}", hunt.maybe);
    }
}

#[test]
fn the_stock_demo_extensions_shadow_the_queues_numbers_from_phones() {
    let ctx = context();
    assert_eq!(taken_by(&ctx, "5000").as_deref(), Some("ivr_demo"));
    assert_eq!(
        taken_by(&ctx, "5001").as_deref(),
        Some("dynamic_conference")
    );
    assert_eq!(
        taken_by(&ctx, "5002").as_deref(),
        Some("switchboard_from_phones")
    );
    let ours = ctx
        .extensions
        .iter()
        .find(|e| e.name == "switchboard_from_phones")
        .expect("ours");
    assert_eq!(ours.role(), Some(Role::Transfer("public".into())));
}

#[test]
fn conditions_on_the_call_rather_than_the_number_are_not_reported() {
    // `unloop` depends on channel variables only; `global` continues; `tod_example` too.
    let hunt = context().hunt("*22", &no_vars);
    assert!(hunt.maybe.is_empty(), "{:?}", hunt.maybe);
}

#[test]
fn a_number_condition_followed_by_an_unknown_one_may_take_the_number() {
    let ctx = context();
    // hold_music: 9664 and then SRTP or not; its anti-action plays music anyway, so it
    // takes the call either way.
    assert_eq!(taken_by(&ctx, "9664").as_deref(), Some("hold_music"));
    let xml = r#"<context name="x">
      <extension name="secure_only">
        <condition field="destination_number" expression="^7000$"/>
        <condition field="${rtp_has_crypto}" expression="^AES"><action application="answer"/></condition>
      </extension>
      <extension name="ours"><condition field="destination_number" expression="^7000$"><action application="park"/></condition></extension>
    </context>"#;
    let ctx = Context::parse(xml).expect("parses");
    let hunt = ctx.hunt("7000", &no_vars);
    assert_eq!(hunt.taken_by, Some(1));
    assert_eq!(hunt.maybe.len(), 1);
    assert!(
        hunt.maybe[0].1.contains("${rtp_has_crypto}"),
        "{:?}",
        hunt.maybe
    );
}

#[test]
fn a_lookahead_the_regex_crate_cannot_read_still_proves_a_mismatch() {
    let ctx = context();
    // valet_park's `^((?!6000)60\d{2})$`: 5003 cannot match the looser `^((60\d{2}))$`.
    let hunt = ctx.hunt("5003", &no_vars);
    assert!(hunt.maybe.is_empty(), "{:?}", hunt.maybe);
    // 6001 may match it; the doctor says so instead of guessing.
    let hunt = ctx.hunt("6001", &no_vars);
    assert_eq!(hunt.taken_by, None);
    assert_eq!(hunt.maybe.len(), 1);
    assert!(hunt.maybe[0].1.contains("cannot read"), "{:?}", hunt.maybe);
    assert_eq!(matches("^((?!6000)60\\d{2})$", "5000"), Some(false));
    assert_eq!(matches("^((?!6000)60\\d{2})$", "6001"), None);
}

#[test]
fn known_variables_decide_their_conditions() {
    let xml = r#"<context name="x">
      <extension name="debug_only">
        <condition field="${call_debug}" expression="^true$"/>
        <condition field="destination_number" expression="^5000$"><action application="info"/></condition>
      </extension>
    </context>"#;
    let ctx = Context::parse(xml).expect("parses");
    let off = |name: &str| (name == "call_debug").then(|| "false".to_owned());
    assert_eq!(ctx.hunt("5000", &off), Hunt::default());
    let on = |name: &str| (name == "call_debug").then(|| "true".to_owned());
    assert_eq!(ctx.hunt("5000", &on).taken_by, Some(0));
}

#[test]
fn break_never_and_absolute_conditions_follow_mod_dialplan_xml() {
    // The last evaluated condition decides: a failing first condition with break="never"
    // does not stop an absolute one after it.
    let xml = r#"<context name="x">
      <extension name="catch_all">
        <condition field="destination_number" expression="^9$" break="never"/>
        <condition><action application="hangup"/></condition>
      </extension>
    </context>"#;
    let ctx = Context::parse(xml).expect("parses");
    assert_eq!(ctx.hunt("5000", &no_vars).taken_by, Some(0));
    // break="on-true": the first pass ends the extension, taken.
    let xml = r#"<context name="x">
      <extension name="either">
        <condition field="destination_number" expression="^5000$" break="on-true"/>
        <condition field="destination_number" expression="^5001$"/>
      </extension>
    </context>"#;
    let ctx = Context::parse(xml).expect("parses");
    assert_eq!(ctx.hunt("5000", &no_vars).taken_by, Some(0));
    assert_eq!(ctx.hunt("5001", &no_vars).taken_by, Some(0));
    assert_eq!(ctx.hunt("5002", &no_vars).taken_by, None);
}

#[test]
fn roles_come_from_the_variables_an_extension_sets() {
    let ctx = context();
    let role = |name: &str| {
        ctx.extensions
            .iter()
            .find(|e| e.name == name)
            .and_then(Extension::role)
    };
    assert_eq!(
        role("switchboard_agent_pause"),
        Some(Role::Feature("pause".into()))
    );
    assert_eq!(role("ivr_demo"), None);
    let hot_desk = ctx
        .extensions
        .iter()
        .find(|e| e.name == "switchboard_agent_hot_desk")
        .expect("hot desk");
    assert!(hot_desk.collects_agent_number());
    assert_eq!(hot_desk.number_expressions(), vec!["^\\*21$"]);
}

#[test]
fn numbers_are_sampled_from_the_expressions_of_our_extensions() {
    assert_eq!(
        sample_numbers("^(5000|5001|5002|5003)$"),
        vec!["5000", "5001", "5002", "5003"]
    );
    assert_eq!(sample_numbers("^\\*24(\\d{0,8})$"), vec!["*24", "*240"]);
    assert_eq!(
        sample_numbers("^(\\+?15551230000)$"),
        vec!["+15551230000", "15551230000"]
    );
    assert_eq!(sample_numbers("^\\*22$"), vec!["*22"]);
    assert!(sample_numbers("^(?!x)").is_empty());
}

#[test]
fn the_xml_reader_takes_entities_cdata_and_comments() {
    let xml = r#"<?xml version="1.0"?>
    <!-- a comment -->
    <context name="a&amp;b">
      <extension name="x&#x41;">
        <condition field="destination_number">
          <expression><![CDATA[^1&2$]]></expression>
          <action application="set" data="v=&lt;&quot;&gt;"/>
        </condition>
      </extension>
    </context>"#;
    let ctx = Context::parse(xml).expect("parses");
    assert_eq!(ctx.name, "a&b");
    assert_eq!(ctx.extensions[0].name, "xA");
    assert_eq!(ctx.extensions[0].number_expressions(), vec!["^1&2$"]);
    assert_eq!(ctx.extensions[0].actions()[0].data, "v=<\">");
    assert!(Context::parse("<context name=\"x\"><extension>").is_err());
    assert!(Context::parse("can't find anything\n").is_err());
}
