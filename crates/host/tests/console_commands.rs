//! The console's Commands tab (issue 17) in a real browser — Debian's
//! Chromium driven by playwright-core (`console/tests/commands.mjs`) —
//! against the real host, the managed broker and a simulated device that
//! answers commands: send one through the form and watch it succeed, a bad
//! Parameters JSON sends nothing, and cancel a command nobody answers. Each
//! browser step leaves a screenshot `commands-NN-<step>.png` in
//! `target/console-screenshots/`.

mod common;

use std::time::Duration;

use common::browser::*;
use common::fleet::*;
use common::*;
use fleetjobs_simulator::{CommandBehaviour, CommandDevice};
use serde_json::Value;

const PREFIX: &str = "$emqx/commands/things";
/// The whole browser scenario; each of its steps waits 30 s at most.
const BROWSER_DEADLINE: Duration = Duration::from_secs(240);
/// A thing whose simulated device answers every command SUCCEEDED.
const ANSWERING_THING: &str = "console-cmd-device";
/// A registered thing with no device connected: its commands stay SENT.
const SILENT_THING: &str = "console-cmd-silent";

fn commands(host: &Host, thing: &str) -> Vec<Value> {
    let reply = api_ok(
        host,
        "GET",
        &format!("/api/v1/commands?thingName={thing}"),
        Value::Null,
        200,
    );
    // Each as DescribeCommand answers it (with its result).
    reply["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = c["executionId"].as_str().unwrap();
            api_ok(
                host,
                "GET",
                &format!("/api/v1/commands/{id}"),
                Value::Null,
                200,
            )
        })
        .collect()
}

#[test]
fn console_commands_tab_sends_watches_and_cancels_commands() {
    require_console_tools();
    let host = fleetjobs(&[], &[]);
    let token = create_thing(&host, ANSWERING_THING);
    create_thing(&host, SILENT_THING);
    let url = host.printed("MQTT").expect("the host prints its broker");
    let device = CommandDevice::connect(
        &url,
        PREFIX,
        ANSWERING_THING,
        Some(&token),
        CommandBehaviour::Succeed,
        Duration::from_secs(30),
    )
    .expect("the simulated device connects");

    let screenshots = screenshots();
    std::fs::create_dir_all(&screenshots).unwrap();
    // Only this scenario's screenshots: the other console tests keep theirs.
    for entry in std::fs::read_dir(&screenshots).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("commands-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    run_scenario(
        &host,
        "commands.mjs",
        &[
            ("ANSWERING_THING", ANSWERING_THING.to_owned()),
            ("SILENT_THING", SILENT_THING.to_owned()),
        ],
        BROWSER_DEADLINE,
        |_| {},
    );

    // What the console did, as the API and the device see it: one command
    // answered with its result (the bad Parameters sent nothing), and one
    // canceled.
    let answered = commands(&host, ANSWERING_THING);
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert_eq!(answered[0]["status"], "SUCCEEDED");
    assert_eq!(answered[0]["action"], "setTemperature");
    assert_eq!(answered[0]["params"]["value"], 24);
    assert_eq!(answered[0]["result"]["action"], "setTemperature");
    assert_eq!(device.received(), 1);
    let canceled = commands(&host, SILENT_THING);
    assert_eq!(canceled.len(), 1, "{canceled:?}");
    assert_eq!(canceled[0]["status"], "CANCELED");
    assert_eq!(canceled[0]["action"], "reboot");
    assert!(screenshots
        .join("commands-03-command-succeeds-with-its-result.png")
        .is_file());
    device.disconnect();
}
