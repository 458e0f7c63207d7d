//! The API's OpenAPI description as a client generator fetches it: without a token, read by an
//! independent OpenAPI 3.1 parser (`oas3`), describing every route the server has, each with the
//! parameters its path's `{}` segments name, and replies that have the members their schemas say.

use std::time::Duration;

use oas3::spec::ParameterIn;
use serde_json::{json, Value};
use switchboard::api::auth::{Verb, RULES};

use crate::harness::{eventually, spawn_app, Agent};

fn method_of(verb: Verb) -> http::Method {
    match verb {
        Verb::Get => http::Method::GET,
        Verb::Post => http::Method::POST,
        Verb::Put => http::Method::PUT,
        Verb::Patch => http::Method::PATCH,
        Verb::Delete => http::Method::DELETE,
    }
}

#[tokio::test]
async fn the_openapi_document_is_served_without_a_token_and_parses_as_openapi_3_1() {
    let app = spawn_app(Vec::new(), Duration::ZERO).await;
    let response = reqwest::get(format!("{}/v1/openapi.json", app.base))
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.expect("body");
    let spec = oas3::from_json(&text).expect("an OpenAPI document");
    let version = spec.validate_version().expect("a supported version");
    assert_eq!((version.major, version.minor), (3, 1));
    assert_eq!(spec.info.title, "Switchboard");
    assert_eq!(spec.info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(spec.servers[0].url, "/");
    let scheme = spec
        .components
        .as_ref()
        .and_then(|c| c.security_schemes.get("bearer"));
    assert!(scheme.is_some(), "a bearer security scheme");
}

#[tokio::test]
async fn the_openapi_document_has_every_route_with_parameters_matching_its_path() {
    let app = spawn_app(Vec::new(), Duration::ZERO).await;
    let text = app
        .get("/v1/openapi.json")
        .await
        .text()
        .await
        .expect("body");
    let spec = oas3::from_json(&text).expect("an OpenAPI document");
    let mut operations: Vec<(String, http::Method)> = spec
        .operations()
        .map(|(path, method, _)| (path, method))
        .collect();
    let mut routes: Vec<(String, http::Method)> = RULES
        .iter()
        .map(|&(verb, path, _)| (path.to_owned(), method_of(verb)))
        .collect();
    operations.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
    routes.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
    assert_eq!(operations, routes);

    for (path, method, operation) in spec.operations() {
        let parameters = operation.parameters(&spec).expect("parameters resolve");
        let in_path: Vec<&str> = parameters
            .iter()
            .filter(|p| p.location == ParameterIn::Path)
            .map(|p| p.name.as_str())
            .collect();
        let segments: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        assert_eq!(in_path, segments, "{method} {path}");
        assert!(
            parameters
                .iter()
                .filter(|p| p.location == ParameterIn::Path)
                .all(|p| p.required == Some(true)),
            "{method} {path}: path parameters are required"
        );
        operation
            .request_body(&spec)
            .expect("the request body resolves");
        assert!(
            operation
                .responses(&spec)
                .keys()
                .any(|s| s.starts_with('2')),
            "{method} {path} says what it answers"
        );
        assert!(operation.operation_id.is_some(), "{method} {path}");
    }
}

#[tokio::test]
async fn every_documented_read_without_parameters_is_answered_by_the_server() {
    let app = spawn_app(Vec::new(), Duration::ZERO).await;
    let text = app
        .get("/v1/openapi.json")
        .await
        .text()
        .await
        .expect("body");
    let spec = oas3::from_json(&text).expect("an OpenAPI document");
    // `/readyz` answers 503 until the switch link is up and resynced.
    eventually("the controller is ready", || async {
        app.get("/readyz").await.status().is_success()
    })
    .await;
    for (path, method, operation) in spec.operations() {
        if method != http::Method::GET || path.contains('{') {
            continue;
        }
        // A read that needs query parameters (the staffing calculator) is not one without.
        let parameters = operation.parameters(&spec).expect("parameters resolve");
        if parameters.iter().any(|p| p.required == Some(true)) {
            continue;
        }
        let status = app.get(&path).await.status();
        assert!(status.is_success(), "GET {path}: {status}");
    }
}

/// The members of a reply that the document's schema `name` does not know, and the required
/// ones the reply lacks.
fn differences(document: &Value, name: &str, reply: &Value) -> (Vec<String>, Vec<String>) {
    let schema = &document["components"]["schemas"][name];
    let properties = schema["properties"].as_object().expect("properties");
    let members = reply.as_object().expect("an object");
    let unknown = members
        .keys()
        .filter(|k| !properties.contains_key(*k))
        .cloned()
        .collect();
    let missing = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| !members.contains_key(*r))
        .map(str::to_owned)
        .collect();
    (unknown, missing)
}

#[tokio::test]
async fn typed_replies_have_the_members_their_schemas_name() {
    let app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    let document: Value = app
        .get("/v1/openapi.json")
        .await
        .json()
        .await
        .expect("JSON");
    let reply_schema = |path: &str, method: &str, status: &str| {
        document["paths"][path][method]["responses"][status]["content"]["application/json"]
            ["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .expect("a named schema")
            .to_owned()
    };
    let none = (Vec::new(), Vec::new());

    let created = app
        .put_json("/v1/pause-reasons/lunch", json!({ "name": "Lunch" }))
        .await;
    assert_eq!(created.status(), 201);
    let schema = reply_schema("/v1/pause-reasons/{code}", "put", "201");
    let body: Value = created.json().await.expect("JSON");
    assert_eq!(differences(&document, &schema, &body), none);

    let provisioning: Value = app
        .get("/v1/agents/1001/provisioning")
        .await
        .json()
        .await
        .expect("JSON");
    let schema = reply_schema("/v1/agents/{id}/provisioning", "get", "200");
    assert_eq!(differences(&document, &schema, &provisioning), none);

    let token = app
        .http
        .post(format!("{}/v1/tokens", app.base))
        .json(&json!({ "name": "crm", "role": "integration" }))
        .send()
        .await
        .expect("request");
    assert_eq!(token.status(), 201);
    let schema = reply_schema("/v1/tokens", "post", "201");
    let body: Value = token.json().await.expect("JSON");
    // The secret is the one member the view adds, this once (the reply's description says so).
    let (unknown, missing) = differences(&document, &schema, &body);
    assert_eq!((unknown, missing), (vec!["token".to_owned()], Vec::new()));

    let refused = app.get("/v1/agents/nobody").await;
    assert_eq!(refused.status(), 404);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(differences(&document, "Problem", &body), none);
}
