//! The console's Commands tab (issue 17) in a real browser — Debian's
//! Chromium driven by playwright-core (`console/tests/commands.mjs`) —
//! against the real host, the managed broker and a simulated device that
//! answers commands: send one through the form and watch it succeed, a bad
//! Parameters JSON sends nothing, and cancel a command nobody answers. Each
//! browser step leaves a screenshot `commands-NN-<step>.png` in
//! `target/console-screenshots/`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::fleet::*;
use common::*;
use fleetjobs_simulator::{CommandBehaviour, CommandDevice};
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";
const PREFIX: &str = "$emqx/commands/things";
/// The whole browser scenario; each of its steps waits 30 s at most.
const BROWSER_DEADLINE: Duration = Duration::from_secs(240);
/// A thing whose simulated device answers every command SUCCEEDED.
const ANSWERING_THING: &str = "console-cmd-device";
/// A registered thing with no device connected: its commands stay SENT.
const SILENT_THING: &str = "console-cmd-silent";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The console's build and the browser are part of the test command: their
/// absence is a failure, not a skip.
fn require_console_tools() {
    let console = repository().join("console");
    assert!(
        console.join("dist/index.html").is_file(),
        "console/dist is missing: run `npm ci && npm run build` in console/ (scripts/test.sh does)"
    );
    assert!(
        console.join("node_modules/playwright-core").is_dir(),
        "console/node_modules is missing: run `npm ci` in console/ (scripts/setup.sh does)"
    );
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)"
    );
}

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

    let screenshots = repository().join("target/console-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    // Only this scenario's screenshots: the other console tests keep theirs.
    for entry in std::fs::read_dir(&screenshots).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("commands-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let mut browser = Command::new("node")
        .arg("tests/commands.mjs")
        .current_dir(repository().join("console"))
        .env("FLEETJOBS_URL", format!("http://127.0.0.1:{}", host.port))
        .env("FLEETJOBS_API_TOKEN", API_TOKEN)
        .env("SCREENSHOT_DIR", &screenshots)
        .env("CHROMIUM", CHROMIUM)
        .env("ANSWERING_THING", ANSWERING_THING)
        .env("SILENT_THING", SILENT_THING)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (the machine's Node.js)");
    let stdout = browser.stdout.take().unwrap();
    let printer = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("[browser] {line}");
        }
    });

    let deadline = Instant::now() + BROWSER_DEADLINE;
    let status = loop {
        if let Ok(Some(status)) = browser.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = browser.kill();
            let _ = browser.wait();
            panic!("the browser scenario did not finish within {BROWSER_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = printer.join();
    assert!(
        status.success(),
        "the browser scenario failed ({status}); screenshots in {}",
        screenshots.display()
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
