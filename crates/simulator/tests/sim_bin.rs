//! The `fleetjobs-sim` binary runs the jobs a (stub) service hands its devices.

mod common;

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use common::{notice_topic, publish_confirmed, Broker, Service, PREFIX, WAIT};
use fleetjobs_simulator::NoticeKind;
use serde_json::{json, Value};

/// Pending jobs per thing, in order; updates seen, as "thing job status".
#[derive(Default)]
struct Jobs {
    pending: HashMap<String, VecDeque<String>>,
    updates: Vec<String>,
}

/// A minimal jobs service: start-next hands out the first pending job, an
/// update to SUCCEEDED removes it.
fn job_service(url: &str, jobs: Arc<Mutex<Jobs>>) -> Service {
    Service::start(
        url,
        Box::new(move |topic, payload| {
            let request: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
            let rest = topic.strip_prefix(&format!("{PREFIX}/")).unwrap();
            let (thing, rest) = rest.split_once("/jobs/").unwrap();
            let mut jobs = jobs.lock().unwrap();
            let mut body = json!({ "clientToken": request["clientToken"] });
            if rest == "start-next" {
                if let Some(job) = jobs.pending.get(thing).and_then(|q| q.front()) {
                    body["execution"] =
                        json!({ "jobId": job, "status": "IN_PROGRESS", "versionNumber": 2 });
                }
            } else if let Some(job) = rest.strip_suffix("/update") {
                let status = request["status"].as_str().unwrap_or_default().to_owned();
                jobs.updates.push(format!("{thing} {job} {status}"));
                if status == "SUCCEEDED" {
                    if let Some(queue) = jobs.pending.get_mut(thing) {
                        queue.retain(|j| j != job);
                    }
                }
            } else {
                return Vec::new();
            }
            vec![(format!("{topic}/accepted"), body.to_string().into_bytes())]
        }),
    )
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn runs_pending_and_notified_jobs() {
    let broker = Broker::start(false);
    let jobs = Arc::new(Mutex::new(Jobs::default()));
    jobs.lock()
        .unwrap()
        .pending
        .insert("sim-2".into(), VecDeque::from(["job-a".to_owned()]));
    let _service = job_service(&broker.url(), jobs.clone());

    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_fleetjobs-sim"))
            .args(["--mqtt-url", &broker.url(), "--prefix", PREFIX])
            .args(["--things", "2", "--name-prefix", "sim-"])
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
    let next_line = || {
        lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a line from fleetjobs-sim")
    };

    // A job pending at start is run at once.
    assert_eq!(next_line(), "sim-2 job-a SUCCEEDED");

    // A job announced by notify-next is run too.
    jobs.lock()
        .unwrap()
        .pending
        .insert("sim-1".into(), VecDeque::from(["job-b".to_owned()]));
    publish_confirmed(
        &broker.url(),
        &[(
            notice_topic("sim-1", NoticeKind::NotifyNext),
            json!({ "execution": { "jobId": "job-b" } }),
        )],
    );
    assert_eq!(next_line(), "sim-1 job-b SUCCEEDED");

    let jobs = jobs.lock().unwrap();
    assert_eq!(
        jobs.updates,
        [
            "sim-2 job-a IN_PROGRESS",
            "sim-2 job-a SUCCEEDED",
            "sim-1 job-b IN_PROGRESS",
            "sim-1 job-b SUCCEEDED"
        ]
    );
    assert!(jobs.pending.values().all(VecDeque::is_empty));
}
