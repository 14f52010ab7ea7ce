//! The console's browser scenarios (`console/tests/*.mjs`): node runs one
//! with playwright-core on Debian's Chromium against a host.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::fleet::API_TOKEN;
use super::Host;

pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the scenarios' screenshots go.
pub fn screenshots() -> PathBuf {
    repository().join("target/console-screenshots")
}

/// The console's build and the browser are part of the test command
/// (scripts/setup.sh installs them, scripts/test.sh builds): their absence is
/// a failure, not a skip.
pub fn require_console_tools() {
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

/// Runs `console/tests/{script}` against `host` with `env` besides the
/// address, the API token and the screenshot folder, handing each line it
/// prints to `on_line`; fails unless it exits successfully within
/// `deadline`.
pub fn run_scenario(
    host: &Host,
    script: &str,
    env: &[(&str, String)],
    deadline: Duration,
    mut on_line: impl FnMut(&str),
) {
    let mut browser = Command::new("node")
        .arg(format!("tests/{script}"))
        .current_dir(repository().join("console"))
        .env("FLEETJOBS_URL", format!("http://127.0.0.1:{}", host.port))
        .env("FLEETJOBS_API_TOKEN", API_TOKEN)
        .env("SCREENSHOT_DIR", screenshots())
        .env("CHROMIUM", CHROMIUM)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (the machine's Node.js)");
    let (lines, received) = mpsc::channel();
    let stdout = browser.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("[browser] {line}");
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let until = Instant::now() + deadline;
    let status = loop {
        if let Ok(Some(status)) = browser.try_wait() {
            break status;
        }
        if Instant::now() > until {
            let _ = browser.kill();
            let _ = browser.wait();
            panic!("the browser scenario {script} did not finish within {deadline:?}");
        }
        if let Ok(line) = received.recv_timeout(Duration::from_millis(100)) {
            on_line(&line);
        }
    };
    assert!(
        status.success(),
        "the browser scenario {script} failed ({status}); screenshots in {}",
        screenshots().display()
    );
}
