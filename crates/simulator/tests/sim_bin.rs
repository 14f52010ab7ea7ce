//! The `fleetjobs-sim` binary: `run` executes the jobs a (fake) service hands
//! its devices, `watch` draws a job's progress from a (fake) control plane.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use common::{job_service, notify_next, Broker, Jobs, PREFIX, WAIT};
use serde_json::json;

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fleetjobs-sim"))
}

// ---------------------------------------------------------------- run

#[test]
fn run_executes_pending_and_notified_jobs_by_behaviour() {
    let broker = Broker::start(false);
    let jobs = Jobs::shared();
    jobs.lock().unwrap().queue("sim-2", "job-a");
    let _service = job_service(&broker.url(), jobs.clone());

    let mut child = KillOnDrop(
        sim()
            .args(["run", "--mqtt-url", &broker.url(), "--prefix", PREFIX])
            .args(["--things", "2", "--name-prefix", "sim-", "--fail", "0.5"])
            .args(["--progress-steps", "1", "--step-delay-ms", "0"])
            .args(["--summary-interval-ms", "50"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + WAIT;
    let line_with = |text: &str| loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no summary line with {text:?}"));
        if line.contains(text) {
            return line;
        }
    };

    // sim-1 fails its jobs, sim-2 succeeds: a job pending at start is run at once.
    let line = line_with("SUCCEEDED 1 FAILED 0");
    assert!(
        line.starts_with("devices 2 (succeed 1 fail 1) online 2 |"),
        "{line}"
    );

    // A job announced by notify-next is run too.
    jobs.lock().unwrap().queue("sim-1", "job-b");
    notify_next(&broker.url(), &["sim-1".to_owned()], "job-b");
    line_with("SUCCEEDED 1 FAILED 1");

    let jobs = jobs.lock().unwrap();
    assert_eq!(
        jobs.updates_of("sim-2"),
        ["job-a IN_PROGRESS", "job-a SUCCEEDED"]
    );
    assert_eq!(
        jobs.updates_of("sim-1"),
        ["job-b IN_PROGRESS", "job-b FAILED"]
    );
    assert!(jobs.pending.values().all(|queue| queue.is_empty()));
}

#[test]
fn run_refuses_shares_beyond_the_fleet() {
    let output = sim()
        .args(["run", "--mqtt-url", "mqtt://127.0.0.1:1", "--fail", "0.7"])
        .args(["--hang", "0.5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("more than the whole fleet"));
    let output = sim()
        .args(["run", "--mqtt-url", "mqtt://127.0.0.1:1", "--slow", "1.5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

// ---------------------------------------------------------------- watch

/// A one-route HTTP server on a loopback port: the n-th request gets the n-th
/// response (the last one again after that). Returns its base URL and the
/// request heads it received. The thread ends with the test process.
fn control_plane(responses: Vec<(u16, serde_json::Value)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let (status, body) = &responses[n.min(responses.len() - 1)];
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, requests)
}

fn job(
    status: &str,
    queued: u64,
    in_progress: u64,
    succeeded: u64,
    failed: u64,
) -> serde_json::Value {
    json!({
        "jobId": "job-w",
        "status": status,
        "jobProcessDetails": {
            "numberOfQueuedThings": queued,
            "numberOfInProgressThings": in_progress,
            "numberOfSucceededThings": succeeded,
            "numberOfFailedThings": failed,
            "numberOfRejectedThings": 0,
            "numberOfTimedOutThings": 0,
            "numberOfCanceledThings": 0,
            "numberOfRemovedThings": 0,
        },
    })
}

/// Runs `fleetjobs-sim watch` against `api`; the watcher's own --timeout-secs bounds it.
fn watch(api: &str, extra: &[&str]) -> Output {
    let child = sim()
        .args(["watch", "--api", api, "--token", "sekrit", "--job", "job-w"])
        .args(["--interval-ms", "50"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || done_tx.send(child.wait_with_output().unwrap()));
    done.recv_timeout(WAIT).expect("fleetjobs-sim watch exits")
}

#[test]
fn watch_draws_progress_until_the_job_completes() {
    let mut completed = job("COMPLETED", 0, 0, 7, 3);
    completed["comment"] = json!("all done");
    let (api, requests) = control_plane(vec![
        (200, job("IN_PROGRESS", 4, 2, 3, 1)),
        (200, completed),
    ]);
    let output = watch(&api, &["--timeout-secs", "30"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");

    // Into a pipe, each frame is printed once, without escape codes.
    assert!(!stdout.contains('\x1b'), "{stdout}");
    assert!(
        stdout.contains("job job-w  IN_PROGRESS  (10 things)"),
        "{stdout}"
    );
    // 4 of 10 is 16 of 40 cells.
    let bar = format!("{}{}", "█".repeat(16), "░".repeat(24));
    assert!(
        stdout.contains(&format!("QUEUED       {bar}  4")),
        "{stdout}"
    );
    assert!(
        stdout.contains("job job-w  COMPLETED  (10 things)"),
        "{stdout}"
    );
    // The final summary closes the output.
    let tail: Vec<&str> = stdout.lines().rev().take(10).collect();
    assert_eq!(tail[0], "comment: all done", "{stdout}");
    assert!(tail.contains(&"  SUCCEEDED    7"), "{stdout}");
    assert!(tail.contains(&"  FAILED       3"), "{stdout}");
    assert!(tail.contains(&"job job-w COMPLETED"), "{stdout}");

    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0].starts_with("GET /api/v1/jobs/job-w HTTP/1.1\r\n"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer sekrit\r\n"),
        "{}",
        requests[0]
    );
}

#[test]
fn watch_scales_to_a_given_total_and_reports_a_cancel() {
    let mut canceled = job("CANCELED", 0, 0, 5, 0);
    canceled["reasonCode"] = json!("OPERATOR_ABORT");
    let (api, _) = control_plane(vec![(200, canceled)]);
    let output = watch(&api, &["--total", "20"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let quarter = format!("{}{}", "█".repeat(10), "░".repeat(30));
    assert!(
        stdout.contains(&format!("SUCCEEDED    {quarter}  5")),
        "{stdout}"
    );
    assert!(stdout.ends_with("reasonCode: OPERATOR_ABORT\n"), "{stdout}");
}

#[test]
fn watch_gives_up_after_its_timeout_or_on_an_unknown_job() {
    let (api, _) = control_plane(vec![(200, job("IN_PROGRESS", 1, 1, 0, 0))]);
    let output = watch(&api, &["--timeout-secs", "1"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("has not ended"), "{stderr}");
    // The last state seen is summed up all the same.
    assert!(String::from_utf8_lossy(&output.stdout).contains("job job-w IN_PROGRESS"));

    let (api, _) = control_plane(vec![(404, json!({ "message": "no such job" }))]);
    let output = watch(&api, &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("HTTP 404") && stderr.contains("no such job"),
        "{stderr}"
    );
}
