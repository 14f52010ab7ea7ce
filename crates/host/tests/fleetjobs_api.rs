//! The fleetjobs application itself (the repository's spin.toml and
//! components/) through the real host: the control-plane API slice built so
//! far (gateway, jobs, things, thing groups).

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "test-token-0123456789";

fn app() -> Host {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
    Host::start(&manifest, &[], &[("SPIN_VARIABLE_API_TOKEN", TOKEN)])
}

fn call(host: &Host, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let (status, text) =
        authorized_request(host.port, method, path, &body.to_string(), Some(TOKEN));
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

#[test]
fn seed_job_through_the_gateway() {
    let host = app();
    for thing in ["t1", "t2"] {
        let (status, reply) = call(
            &host,
            "POST",
            "/api/v1/things",
            &json!({"thingName": thing}),
        );
        assert_eq!(status, 201, "{reply}");
        assert!(reply["deviceToken"].as_str().unwrap().len() >= 32);
    }
    let group = "com.example.thermostat (default)";
    let (status, reply) = call(
        &host,
        "POST",
        "/api/v1/thing-groups",
        &json!({"thingGroupName": group}),
    );
    assert_eq!(status, 201, "{reply}");
    let encoded = "com.example.thermostat%20(default)";
    for thing in ["t1", "t2"] {
        let (status, reply) = call(
            &host,
            "PUT",
            &format!("/api/v1/thing-groups/{encoded}/things/{thing}"),
            &Value::Null,
        );
        assert_eq!(status, 204, "{reply}");
    }

    // design §2: the seed's body verbatim.
    let seed = r#"{
"description": "Firmware update to v2.1.5",
"targets": {
"thingGroupNames": ["com.example.thermostat (default)"]
},
"document": {
"action": "updateFirmware",
"params": {
"version": "2.1.5",
"url": "https://firmware.example.com/thermostat-v2.1.5.bin"
}
}
}"#;
    let (status, text) = authorized_request(host.port, "POST", "/api/v1/jobs", seed, Some(TOKEN));
    assert_eq!(status, 201, "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    let job_id = created["jobId"].as_str().unwrap();
    assert_eq!(job_id.len(), 36, "a UUID: {job_id}");
    assert_eq!(created["description"], "Firmware update to v2.1.5");

    let (status, job) = call(
        &host,
        "GET",
        &format!("/api/v1/jobs/{job_id}"),
        &Value::Null,
    );
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "IN_PROGRESS");
    assert_eq!(job["jobType"], "SNAPSHOT");
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 2);
}

#[test]
fn errors_have_one_shape_and_write_nothing() {
    let host = app();
    let (status, text) = authorized_request(host.port, "GET", "/api/v1/things", "", None);
    assert_eq!(status, 401, "{text}");
    let (status, text) = authorized_request(host.port, "GET", "/api/v1/things", "", Some("wrong"));
    assert_eq!(status, 401, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "Unauthorized");

    let (status, reply) = call(
        &host,
        "POST",
        "/api/v1/jobs",
        &json!({"targets": {"thingNames": ["ghost"]}, "document": {}}),
    );
    assert_eq!(status, 404, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ghost"),
        "{reply}"
    );
    let (status, reply) = call(
        &host,
        "POST",
        "/api/v1/jobs",
        &json!({"targets": {"thingNames": ["x"]}, "document": [], "jobId": "bad id"}),
    );
    assert_eq!(status, 400, "{reply}");
    let (status, reply) = call(
        &host,
        "POST",
        "/api/v1/jobs",
        &json!({"targets": {}, "document": {}, "surprise": 1}),
    );
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (400, Some("InvalidRequest")),
        "{reply}"
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("surprise"),
        "{reply}"
    );
    let big = json!({"targets": {"thingNames": ["x"]}, "document": {"blob": "x".repeat(70_000)}});
    assert_eq!(call(&host, "POST", "/api/v1/jobs", &big).0, 413);
    assert_eq!(call(&host, "GET", "/api/v1/jobs/nope", &Value::Null).0, 404);
    assert_eq!(
        call(
            &host,
            "DELETE",
            "/api/v1/thing-groups/x/things",
            &Value::Null
        )
        .0,
        405
    );

    let (status, _) = call(
        &host,
        "POST",
        "/api/v1/things",
        &json!({"thingName": "dup"}),
    );
    assert_eq!(status, 201);
    let (status, reply) = call(
        &host,
        "POST",
        "/api/v1/things",
        &json!({"thingName": "dup"}),
    );
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (409, Some("Conflict")),
        "{reply}"
    );
    let (status, list) = call(&host, "GET", "/api/v1/things?limit=10", &Value::Null);
    assert_eq!(status, 200);
    assert_eq!(
        list["things"].as_array().unwrap().len(),
        1,
        "refused requests wrote nothing: {list}"
    );
}
