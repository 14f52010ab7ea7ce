//! notify / notify-next (docs/lifecycle.md#pending-list): which messages each change of a
//! thing's pending list causes, in which order, and their JSON payloads.

mod common;

use common::{at, details};
use fleetjobs_core::execution::DeviceUpdate;
use fleetjobs_core::notify::{self, notices, pending_list, Notice, NOTIFY_LIMIT};
use fleetjobs_core::protocol;
use fleetjobs_core::{Execution, ExecutionStatus, Timestamp};
use serde_json::{json, Map, Value};

const THING: &str = "thermo-1";

/// One thing's executions, as the store would hold them.
struct Thing {
    executions: Vec<Execution>,
}

impl Thing {
    fn new() -> Self {
        Thing { executions: vec![] }
    }

    fn pending(&self) -> Vec<Execution> {
        pending_list(self.executions.clone())
    }

    /// Applies a change and returns the notices it causes.
    fn change(&mut self, f: impl FnOnce(&mut Vec<Execution>)) -> Vec<Notice> {
        let before = self.pending();
        f(&mut self.executions);
        let after = self.pending();
        notices(THING, &before, &after)
    }

    fn queue(&mut self, job: &str, now: Timestamp) -> Vec<Notice> {
        self.change(|es| es.push(Execution::queued(job, THING, now)))
    }

    fn index(&self, job: &str) -> usize {
        self.executions
            .iter()
            .rposition(|e| e.job_id == job)
            .expect("known job")
    }

    fn update(&mut self, job: &str, status: ExecutionStatus, now: Timestamp) -> Vec<Notice> {
        let i = self.index(job);
        self.change(|es| {
            es[i] = es[i]
                .device_update(&DeviceUpdate::to(status), None, now)
                .unwrap()
        })
    }

    fn start_next(&mut self, now: Timestamp) -> (Option<String>, Vec<Notice>) {
        let head = self.pending().first().cloned();
        let Some(head) = head else {
            return (None, vec![]);
        };
        let i = self
            .executions
            .iter()
            .position(|e| e.job_id == head.job_id && e.execution_number == head.execution_number)
            .unwrap();
        let notices = self.change(|es| {
            if let Some(next) = es[i].start_next(None, None, None, now).unwrap() {
                es[i] = next;
            }
        });
        (Some(head.job_id), notices)
    }
}

/// A compact view of notices: ("notify", [job ids]) or ("notify-next", [head]).
fn shape(notices: &[Notice]) -> Vec<(&'static str, Vec<String>)> {
    notices
        .iter()
        .map(|n| {
            assert_eq!(n.thing_name(), THING);
            match n {
                Notice::Notify { pending, .. } => (
                    "notify",
                    pending
                        .iter()
                        .map(|e| format!("{}:{}", e.job_id, e.status))
                        .collect(),
                ),
                Notice::NotifyNext { head, .. } => (
                    "notify-next",
                    head.iter()
                        .map(|e| format!("{}:{}", e.job_id, e.status))
                        .collect(),
                ),
            }
        })
        .collect()
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn notify_aws_sample_sequence_three_jobs() {
    use ExecutionStatus::{InProgress, Succeeded};
    let mut thing = Thing::new();

    // Queue three jobs one after another: notify each time, notify-next only
    // when the head changes (the first time).
    assert_eq!(
        shape(&thing.queue("job-a", at("12:00"))),
        vec![
            ("notify", ids(&["job-a:QUEUED"])),
            ("notify-next", ids(&["job-a:QUEUED"]))
        ]
    );
    assert_eq!(
        shape(&thing.queue("job-b", at("12:01"))),
        vec![("notify", ids(&["job-a:QUEUED", "job-b:QUEUED"]))]
    );
    assert_eq!(
        shape(&thing.queue("job-c", at("12:02"))),
        vec![(
            "notify",
            ids(&["job-a:QUEUED", "job-b:QUEUED", "job-c:QUEUED"])
        )]
    );

    // start-next on the head: no messages.
    let (started, notices) = thing.start_next(at("12:03"));
    assert_eq!(started.as_deref(), Some("job-a"));
    assert_eq!(notices, vec![]);
    // A second start-next returns the same IN_PROGRESS head, unchanged.
    let version = thing.executions[0].version_number;
    let (again, notices) = thing.start_next(at("12:03"));
    assert_eq!(again.as_deref(), Some("job-a"));
    assert_eq!(notices, vec![]);
    assert_eq!(thing.executions[0].version_number, version);

    // Progress reports of the head: detail changes, no messages.
    assert_eq!(thing.update("job-a", InProgress, at("12:04")), vec![]);

    // The head succeeds: notify-next (new head), then notify.
    assert_eq!(
        shape(&thing.update("job-a", Succeeded, at("12:05"))),
        vec![
            ("notify-next", ids(&["job-b:QUEUED"])),
            ("notify", ids(&["job-b:QUEUED", "job-c:QUEUED"]))
        ]
    );

    // A non-head goes IN_PROGRESS: it moves to the front, so notify and
    // notify-next.
    assert_eq!(
        shape(&thing.update("job-c", InProgress, at("12:06"))),
        vec![
            ("notify", ids(&["job-c:IN_PROGRESS", "job-b:QUEUED"])),
            ("notify-next", ids(&["job-c:IN_PROGRESS"]))
        ]
    );

    assert_eq!(
        shape(&thing.update("job-c", Succeeded, at("12:07"))),
        vec![
            ("notify-next", ids(&["job-b:QUEUED"])),
            ("notify", ids(&["job-b:QUEUED"]))
        ]
    );

    // The last one finishes: notify-next with no execution, notify empty.
    let last = thing.update("job-b", Succeeded, at("12:08"));
    assert_eq!(
        last,
        vec![
            Notice::NotifyNext {
                thing_name: THING.into(),
                head: None
            },
            Notice::Notify {
                thing_name: THING.into(),
                pending: vec![]
            }
        ]
    );
}

#[test]
fn notify_non_head_start_behind_an_in_progress_head() {
    use ExecutionStatus::{Failed, InProgress};
    let mut thing = Thing::new();
    thing.queue("job-a", at("12:00"));
    thing.queue("job-b", at("12:01"));
    thing.queue("job-c", at("12:02"));
    thing.start_next(at("12:03"));
    // job-c starts while job-a is the IN_PROGRESS head: job-a stays head.
    assert_eq!(
        shape(&thing.update("job-c", InProgress, at("12:04"))),
        vec![(
            "notify",
            ids(&["job-a:IN_PROGRESS", "job-c:IN_PROGRESS", "job-b:QUEUED"])
        )]
    );
    // A non-head becoming terminal only changes the list.
    assert_eq!(
        shape(&thing.update("job-b", Failed, at("12:05"))),
        vec![("notify", ids(&["job-a:IN_PROGRESS", "job-c:IN_PROGRESS"]))]
    );
    // Progress of a non-head that is already IN_PROGRESS: nothing.
    assert_eq!(thing.update("job-c", InProgress, at("12:06")), vec![]);
}

#[test]
fn notify_retry_of_the_head_is_a_new_head() {
    let mut thing = Thing::new();
    thing.queue("job-a", at("12:00"));
    let i = thing.index("job-a");
    let notices = thing.change(|es| {
        let failed = es[i]
            .device_update(
                &DeviceUpdate::to(ExecutionStatus::Failed),
                None,
                at("12:01"),
            )
            .unwrap();
        let retry: fleetjobs_core::config::RetryConfig = serde_json::from_value(
            json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}),
        )
        .unwrap();
        let next = failed.retry(Some(&retry), at("12:01")).unwrap();
        es[i] = failed;
        es.push(next);
    });
    assert_eq!(
        shape(&notices),
        vec![
            ("notify-next", ids(&["job-a:QUEUED"])),
            ("notify", ids(&["job-a:QUEUED"]))
        ]
    );
    let Notice::NotifyNext {
        head: Some(head), ..
    } = &notices[0]
    else {
        panic!("notify-next with the retry");
    };
    assert_eq!(head.execution_number, 2);
}

#[test]
fn notify_carries_at_most_ten_pending() {
    let mut thing = Thing::new();
    for i in 0..12 {
        thing.queue(&format!("job-{i:02}"), at("12:00").plus_minutes(i));
    }
    let notices = thing.queue("job-99", at("13:00"));
    let Notice::Notify { pending, .. } = &notices[0] else {
        panic!("notify first");
    };
    assert_eq!(pending.len(), NOTIFY_LIMIT);
    assert_eq!(pending[0].job_id, "job-00");
    assert_eq!(pending[9].job_id, "job-09");
}

#[test]
fn notify_pending_order_in_progress_first_then_queued_at() {
    let a = Execution::queued("job-a", THING, at("12:00"));
    let b = Execution::queued("job-b", THING, at("12:01"));
    let c = Execution::queued("job-c", THING, at("12:02"))
        .start_next(None, None, None, at("12:03"))
        .unwrap()
        .unwrap();
    let done = Execution::queued("job-d", THING, at("11:00"))
        .device_update(
            &DeviceUpdate::to(ExecutionStatus::Succeeded),
            None,
            at("11:01"),
        )
        .unwrap();
    let same_time = Execution::queued("job-0", THING, at("12:01"));
    let list = pending_list(vec![b.clone(), done, a.clone(), same_time, c.clone()]);
    let order: Vec<_> = list.iter().map(|e| e.job_id.as_str()).collect();
    assert_eq!(order, vec!["job-c", "job-a", "job-0", "job-b"]);
    assert_eq!(
        notify::pending_order(&a, &b),
        std::cmp::Ordering::Less,
        "older first"
    );
}

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

fn document() -> Map<String, Value> {
    json!({"action": "updateFirmware", "params": {"version": "2.1.5"}})
        .as_object()
        .unwrap()
        .clone()
}

/// A time with milliseconds, to show that payloads carry whole seconds.
fn now() -> Timestamp {
    Timestamp(at("12:10").0 + 750)
}

#[test]
fn notify_payload_queued_list() {
    let a = Execution::queued("job-a", THING, at("12:00"));
    let b = Execution::queued("job-b", THING, at("12:01"));
    let (suffix, payload) = protocol::notice(
        &Notice::Notify {
            thing_name: THING.into(),
            pending: vec![a, b],
        },
        None,
        now(),
    );
    assert_eq!(suffix, "notify");
    let secs = at("12:00").as_secs();
    assert_eq!(
        payload,
        json!({"timestamp": at("12:10").as_secs(), "jobs": {"QUEUED": [
            {"jobId": "job-a", "queuedAt": secs, "lastUpdatedAt": secs,
             "versionNumber": 1, "executionNumber": 1},
            {"jobId": "job-b", "queuedAt": secs + 60, "lastUpdatedAt": secs + 60,
             "versionNumber": 1, "executionNumber": 1}
        ]}})
    );
    // Seconds, not milliseconds.
    assert_eq!(payload["timestamp"], json!(now().0 / 1000));
    assert!(payload["timestamp"].as_i64().unwrap() < 10_000_000_000);
    assert_eq!(
        protocol::topic("$aws/things", THING, suffix),
        "$aws/things/thermo-1/jobs/notify"
    );
}

#[test]
fn notify_payload_in_progress_and_queued() {
    let a = Execution::queued("job-a", THING, at("12:00"))
        .start_next(Some(&details(&[("step", "1")])), None, None, at("12:05"))
        .unwrap()
        .unwrap();
    let b = Execution::queued("job-b", THING, at("12:01"));
    let (_, payload) = protocol::notice(
        &Notice::Notify {
            thing_name: THING.into(),
            pending: vec![a, b],
        },
        None,
        now(),
    );
    let jobs = payload["jobs"].as_object().unwrap();
    assert_eq!(
        jobs.keys().collect::<Vec<_>>(),
        vec!["IN_PROGRESS", "QUEUED"]
    );
    assert_eq!(
        jobs["IN_PROGRESS"],
        json!([{"jobId": "job-a", "queuedAt": at("12:00").as_secs(),
            "startedAt": at("12:05").as_secs(), "lastUpdatedAt": at("12:05").as_secs(),
            "versionNumber": 2, "executionNumber": 1}])
    );
    assert_eq!(jobs["QUEUED"].as_array().unwrap().len(), 1);
    // Summaries carry no status and no details.
    assert!(jobs["IN_PROGRESS"][0].get("status").is_none());
    assert!(jobs["IN_PROGRESS"][0].get("statusDetails").is_none());
}

#[test]
fn notify_payload_empty_list() {
    let (suffix, payload) = protocol::notice(
        &Notice::Notify {
            thing_name: THING.into(),
            pending: vec![],
        },
        None,
        now(),
    );
    assert_eq!(suffix, "notify");
    assert_eq!(
        payload,
        json!({"timestamp": at("12:10").as_secs(), "jobs": {}})
    );
}

#[test]
fn notify_next_payload_with_execution() {
    let head = Execution::queued("job-a", THING, at("12:00"));
    let (suffix, payload) = protocol::notice(
        &Notice::NotifyNext {
            thing_name: THING.into(),
            head: Some(head),
        },
        Some(&document()),
        now(),
    );
    assert_eq!(suffix, "notify-next");
    let secs = at("12:00").as_secs();
    assert_eq!(
        payload,
        json!({"timestamp": at("12:10").as_secs(), "execution": {
            "jobId": "job-a", "thingName": THING, "status": "QUEUED",
            "queuedAt": secs, "lastUpdatedAt": secs,
            "versionNumber": 1, "executionNumber": 1,
            "jobDocument": {"action": "updateFirmware", "params": {"version": "2.1.5"}}
        }})
    );
    assert!(payload["execution"]["jobDocument"].is_object());
}

#[test]
fn notify_next_payload_in_progress_head_has_optional_fields() {
    let timeout = fleetjobs_core::config::TimeoutConfig {
        in_progress_timeout_in_minutes: Some(20),
    };
    let head = Execution::queued("job-a", THING, at("12:00"))
        .start_next(
            Some(&details(&[("step", "1")])),
            None,
            Some(&timeout),
            at("12:05"),
        )
        .unwrap()
        .unwrap();
    let (_, payload) = protocol::notice(
        &Notice::NotifyNext {
            thing_name: THING.into(),
            head: Some(head),
        },
        Some(&document()),
        now(),
    );
    let execution = &payload["execution"];
    assert_eq!(execution["status"], json!("IN_PROGRESS"));
    assert_eq!(execution["statusDetails"], json!({"step": "1"}));
    assert_eq!(execution["startedAt"], json!(at("12:05").as_secs()));
    assert_eq!(execution["versionNumber"], json!(2));
    // 12:25 deadline, now 12:10:00.750: 899 whole seconds left.
    assert_eq!(execution["approximateSecondsBeforeTimedOut"], json!(899));
}

#[test]
fn notify_next_payload_empty_is_timestamp_alone() {
    let (suffix, payload) = protocol::notice(
        &Notice::NotifyNext {
            thing_name: THING.into(),
            head: None,
        },
        Some(&document()),
        now(),
    );
    assert_eq!(suffix, "notify-next");
    assert_eq!(payload, json!({"timestamp": at("12:10").as_secs()}));
}

#[test]
fn notify_http_document_form_is_a_string() {
    let head = Execution::queued("job-a", THING, at("12:00"));
    let object = protocol::execution(
        &head,
        Some(&document()),
        protocol::DocumentForm::Object,
        now(),
    );
    let string = protocol::execution(
        &head,
        Some(&document()),
        protocol::DocumentForm::String,
        now(),
    );
    assert!(object["jobDocument"].is_object());
    let text = string["jobDocument"].as_str().expect("a string over HTTP");
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        object["jobDocument"]
    );
    let without = protocol::execution(&head, None, protocol::DocumentForm::Object, now());
    assert!(without.get("jobDocument").is_none());
}

mod topics {
    use fleetjobs_core::protocol::{DeviceOperation, DeviceTopic, DeviceTopics};

    /// A device's ACL lets through its own requests only: every topic it may
    /// publish is read by the service as a request (or an unknown operation)
    /// of that thing.
    #[test]
    fn a_device_may_publish_and_subscribe_only_under_its_own_jobs() {
        let topics = DeviceTopics::of(PREFIX, "dev-1");
        for own in [
            "get",
            "start-next",
            "j1/get",
            "$next/get",
            "j1/update",
            "$next/update",
        ] {
            assert!(
                topics.allows_publish(&format!("{PREFIX}/dev-1/jobs/{own}")),
                "{own}"
            );
        }
        for foreign in [
            "$aws/things/dev-2/jobs/get",
            "$aws/things/dev-1/jobs/j1/update/accepted",
            "$aws/things/dev-1/jobs/+",
            "$aws/things/dev-1/shadow/get",
            "$aws/things/dev-1/jobs",
            // The level of the service's own notices: no operation there.
            "$aws/things/dev-1/jobs/reboot",
            "$aws/things/dev-1/jobs/notify-next",
        ] {
            assert!(!topics.allows_publish(foreign), "{foreign}");
        }
        for own in ["#", "+/accepted", "get/+", "notify-next", "j1/update/#"] {
            assert!(
                topics.allows_subscribe(&format!("{PREFIX}/dev-1/jobs/{own}")),
                "{own}"
            );
        }
        for foreign in [
            "#",
            "$aws/things/+/jobs/#",
            "$aws/things/dev-2/jobs/#",
            "$aws/things/dev-1/#",
            "$aws/things/dev-1/jobs",
        ] {
            assert!(!topics.allows_subscribe(foreign), "{foreign}");
        }
    }

    /// Found by the device_topic fuzz target: a wildcard in the prefix or
    /// the name once made the ACL match every topic.
    #[test]
    fn wildcards_in_names_are_literal_in_a_devices_topics() {
        assert!(!DeviceTopics::of("#", "").allows_publish("!"));
        let plus = DeviceTopics::of(PREFIX, "+");
        assert!(!plus.allows_publish("$aws/things/victim/jobs/get"));
        assert!(!plus.allows_subscribe("$aws/things/victim/jobs/#"));
        assert!(plus.allows_publish("$aws/things/+/jobs/get"));
    }

    #[test]
    fn a_devices_topics_are_its_own_requests() {
        let topics = DeviceTopics::of(PREFIX, "dev-1");
        assert_eq!(topics.subscribe, ["$aws/things/dev-1/jobs/#"]);
        for allowed in &topics.publish {
            for level in ["get", "start-next", "job-7", "$next"] {
                let concrete = allowed.replacen('+', level, 1);
                match DeviceTopic::parse(PREFIX, &concrete) {
                    DeviceTopic::Request { thing_name, .. }
                    | DeviceTopic::Invalid { thing_name } => {
                        assert_eq!(thing_name, "dev-1", "{concrete}")
                    }
                    DeviceTopic::NotARequest => panic!("{concrete}"),
                }
            }
        }
    }

    const PREFIX: &str = "$aws/things";

    fn request(topic: &str) -> (String, DeviceOperation) {
        match DeviceTopic::parse(PREFIX, topic) {
            DeviceTopic::Request {
                thing_name,
                operation,
            } => (thing_name, operation),
            other => panic!("{topic}: {other:?}"),
        }
    }

    #[test]
    fn the_four_operations() {
        let t = |s: &str| format!("{PREFIX}/dev-1/jobs/{s}");
        assert_eq!(request(&t("get")).1, DeviceOperation::GetPending);
        assert_eq!(request(&t("start-next")).1, DeviceOperation::StartNext);
        assert_eq!(
            request(&t("$next/get")),
            (
                "dev-1".into(),
                DeviceOperation::Describe {
                    job_id: "$next".into()
                }
            )
        );
        assert_eq!(
            request(&t("job_1/update")).1,
            DeviceOperation::Update {
                job_id: "job_1".into()
            }
        );
    }

    #[test]
    fn replies_notices_and_other_prefixes_are_not_requests() {
        for topic in [
            "$aws/things/d/jobs/get/accepted",
            "$aws/things/d/jobs/j1/update/rejected",
            "$aws/things/d/jobs/notify",
            "$aws/things/d/jobs/notify-next",
            "$emqx/things/d/jobs/get",
            "$aws/things/d/shadow/get",
        ] {
            assert_eq!(
                DeviceTopic::parse(PREFIX, topic),
                DeviceTopic::NotARequest,
                "{topic}"
            );
        }
    }

    #[test]
    fn unknown_operations_are_invalid_topics() {
        for topic in [
            "$aws/things/d/jobs/list",
            "$aws/things/d/jobs/j1/delete",
            "$aws/things/d/jobs/$next/update",
            "$aws/things/d/jobs/bad.id/get",
            "$aws/things/d/jobs/a/b/c",
        ] {
            assert_eq!(
                DeviceTopic::parse(PREFIX, topic),
                DeviceTopic::Invalid {
                    thing_name: "d".into()
                },
                "{topic}"
            );
        }
    }
}
