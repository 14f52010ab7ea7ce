//! The web console (`console/`, served by `components/console` at
//! `/console/`): its files over HTTP, and the whole console in a real
//! browser — Debian's Chromium driven by playwright-core
//! (`console/tests/console.mjs`) — against the real host and components,
//! with simulated devices moving executions while the browser watches.
//! Each browser step leaves a screenshot in `target/console-screenshots/`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::browser::*;
use common::fleet::*;
use common::*;
use fleetjobs_simulator::{Behaviour, Fleet, FleetConfig};
use serde_json::{json, Value};

/// The whole browser scenario; each of its steps waits 30 s at most.
const BROWSER_DEADLINE: Duration = Duration::from_secs(300);

/// One GET (or another method) with the response's head kept: status, head
/// (lower-cased), body bytes.
fn fetch(port: u16, method: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response");
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .map(str::trim)
}

#[test]
fn console_files_are_served_with_their_types_and_nothing_else() {
    require_console_tools();
    let host = fleetjobs(&[], &[]);
    let port = host.port;

    let (status, head, _) = fetch(port, "GET", "/console");
    assert_eq!(status, 308);
    assert_eq!(header(&head, "location"), Some("/console/"));

    let (status, head, body) = fetch(port, "GET", "/console/");
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        header(&head, "content-security-policy").is_some_and(|p| p.contains("script-src 'self'"))
    );
    let index = String::from_utf8(body).unwrap();
    // A client route gets the page too, so a reload or a shared link works.
    let (status, _, body) = fetch(port, "GET", "/console/jobs/some-job");
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body).unwrap(), index);

    // Every asset the page names is served with its type.
    let assets: Vec<&str> = index
        .split('"')
        .filter(|s| s.starts_with("/console/assets/"))
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{index}");
    assert!(assets.iter().any(|a| a.ends_with(".css")), "{index}");
    for asset in assets {
        let (status, head, body) = fetch(port, "GET", asset);
        assert_eq!(status, 200, "{asset}");
        let expected = if asset.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(header(&head, "content-type"), Some(expected), "{asset}");
        assert!(header(&head, "cache-control").is_some_and(|c| c.contains("immutable")));
        assert!(!body.is_empty());
    }
    let (status, _, _) = fetch(port, "HEAD", "/console/");
    assert_eq!(status, 200);

    // Missing assets, escapes and other methods.
    for path in [
        "/console/assets/missing.js",
        "/console/../spin.toml",
        "/console/%2e%2e/spin.toml",
        "/console/assets/..%2f..%2fspin.toml",
        "/console/assets/../../../etc/passwd",
        "/console//etc/passwd",
        "/console/.vite/manifest.json",
    ] {
        let (status, _, body) = fetch(port, "GET", path);
        assert!(
            status == 404 || status == 400,
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        assert!(!String::from_utf8_lossy(&body).contains("spin_manifest_version"));
    }
    let (status, head, _) = fetch(port, "POST", "/console/");
    assert_eq!(status, 405);
    assert_eq!(header(&head, "allow"), Some("get, head"));
}

/// The browser scenario's fixtures: a thing to target by name, a group of
/// two (one device succeeds, one hangs IN_PROGRESS until the job is
/// canceled with force), and a continuous job that the filters tell apart.
const JOB_THING: &str = "console-a";
const JOB_GROUP: &str = "console-fleet";
const GROUP_MEMBERS: [&str; 2] = ["console-b", "console-c"];
/// A continuous job of one thing without a device, which the filters tell
/// apart and the thing's page lists.
const BACKGROUND_JOB: &str = "background-continuous";
const IDLE_THING: &str = "console-idle";
/// An active job the browser pages through and deletes with force.
const PAGED_JOB: &str = "paged-job";
const PAGED_GROUP: &str = "console-many";
const PAGED_JOB_SIZE: usize = 120;

fn devices(host: &Host) -> Vec<Fleet> {
    let url = host.printed("MQTT").expect("the host prints its broker");
    let fleet = |things: Vec<String>, behaviour: Behaviour| {
        let mut config = FleetConfig::new(&url, "$emqx/things", things.clone());
        config.tokens = host.device_tokens(&things);
        config.mix = vec![(behaviour, 1.0)];
        config.step_delay = Duration::from_millis(200);
        Fleet::start(config).expect("the fleet connects")
    };
    vec![
        fleet(
            vec![JOB_THING.to_owned(), GROUP_MEMBERS[0].to_owned()],
            Behaviour::Succeed,
        ),
        fleet(vec![GROUP_MEMBERS[1].to_owned()], Behaviour::Hang),
    ]
}

#[test]
fn console_in_a_browser_creates_watches_cancels_and_deletes_a_job_and_manages_the_registry() {
    require_console_tools();
    let host = fleetjobs(&[], &[("SPIN_VARIABLE_SWEEP_EVERY_SECONDS", "1")]);
    create_thing(&host, JOB_THING);
    api_ok(
        &host,
        "POST",
        "/api/v1/thing-groups",
        json!({"thingGroupName": JOB_GROUP}),
        201,
    );
    for member in GROUP_MEMBERS {
        create_thing(&host, member);
        api_ok(
            &host,
            "PUT",
            &format!("/api/v1/thing-groups/{JOB_GROUP}/things/{member}"),
            Value::Null,
            204,
        );
    }
    create_thing(&host, IDLE_THING);
    create_job(
        &host,
        &json!({
            "jobId": BACKGROUND_JOB,
            "jobType": "CONTINUOUS",
            "targets": {"thingNames": [IDLE_THING]},
            "document": {"action": "noop"},
        }),
    );

    // Enough executions for three pages, seeded straight into the database.
    seed_fleet(&host, PAGED_GROUP, PAGED_JOB_SIZE);
    create_job(
        &host,
        &json!({
            "jobId": PAGED_JOB,
            "targets": {"thingGroupNames": [PAGED_GROUP]},
            "document": {"action": "reboot"},
        }),
    );

    let _ = std::fs::remove_dir_all(screenshots());
    let mut fleets = Vec::new();
    run_scenario(
        &host,
        "console.mjs",
        &[
            ("JOB_THING", JOB_THING.to_owned()),
            ("JOB_GROUP", JOB_GROUP.to_owned()),
            ("JOB_GROUP_SIZE", GROUP_MEMBERS.len().to_string()),
            ("PAGED_JOB", PAGED_JOB.to_owned()),
            ("PAGED_JOB_SIZE", PAGED_JOB_SIZE.to_string()),
            ("PAGED_GROUP", PAGED_GROUP.to_owned()),
            ("IDLE_THING", IDLE_THING.to_owned()),
            ("BACKGROUND_JOB", BACKGROUND_JOB.to_owned()),
        ],
        BROWSER_DEADLINE,
        |line| {
            if line == "READY devices" {
                fleets = devices(&host);
            }
        },
    );
    for fleet in fleets {
        fleet.stop();
    }

    // What the console did, as the API sees it: the jobs it deleted are gone
    // (a forced deletion may finish in the sweeper's batches).
    eventually("the deleted jobs to be gone", || {
        let jobs = api_ok(&host, "GET", "/api/v1/jobs", Value::Null, 200);
        let ids: Vec<String> = jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobId"].as_str().unwrap().to_owned())
            .collect();
        (ids == [BACKGROUND_JOB]).then_some(())
    });
    let (status, _) = api(
        &host,
        "GET",
        "/api/v1/things/console-new-thing",
        &Value::Null,
    );
    assert_eq!(status, 404);
    let (status, _) = api(
        &host,
        "GET",
        "/api/v1/thing-groups/console%20lab%20(beta)",
        &Value::Null,
    );
    assert_eq!(status, 404);
    assert!(screenshots()
        .join("01-sign-in-with-a-wrong-token.png")
        .is_file());
}
