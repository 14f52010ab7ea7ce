//! The sweeper end to end: the real host with its test clock moves simulated
//! time and runs the sweeper's cron on demand; devices report over HTTP and
//! MQTT.

mod common;

use std::time::Duration;

use common::fleet::*;
use common::*;
use fleetjobs_simulator::{Device, NoticeKind};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

fn minutes_from(now_ms: i64, minutes: i64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(now_ms + minutes * 60_000).unwrap();
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn device_http(host: &Host, token: &str, method: &str, path: &str, body: Value) -> Value {
    let (status, text) =
        authorized_request(host.port, method, path, &body.to_string(), Some(token));
    assert_eq!(status, 200, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn report(host: &Host, token: &str, thing: &str, job_id: &str, status: &str) {
    device_http(
        host,
        token,
        "POST",
        &format!("/device/v1/things/{thing}/jobs/{job_id}"),
        json!({"status": status}),
    );
}

#[test]
fn sweeper_paces_constant_and_exponential_rollouts_per_simulated_minute() {
    let host = fleetjobs_on_test_clock();
    create_fleet(&host, "fleet", 1000);
    let group_job = |job_id: &str, rollout: Value| {
        json!({
            "jobId": job_id,
            "targets": {"thingGroupNames": ["fleet"]},
            "document": {"v": 1},
            "jobExecutionsRolloutConfig": rollout,
        })
    };
    create_job(
        &host,
        &group_job("constant", json!({"maximumPerMinute": 100})),
    );
    create_job(
        &host,
        &group_job(
            "exponential",
            json!({"exponentialRate": {
                "baseRatePerMinute": 50, "incrementFactor": 2,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 100}
            }}),
        ),
    );
    let mut constant = vec![executions(&host, "constant")];
    let mut exponential = vec![executions(&host, "exponential")];
    for _ in 0..3 {
        advance_minutes(&host, 1);
        sweep(&host);
        sweep(&host);
        constant.push(executions(&host, "constant"));
        exponential.push(executions(&host, "exponential"));
    }
    assert_eq!(constant, [100, 200, 300, 400], "100 more per minute");
    // The rate doubles each time another 100 things were notified (reference
    // §2.7): 50 in minutes 1 and 2, 100 in minute 3, 200 in minute 4.
    let per_minute: Vec<u64> = exponential.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!((exponential[0], per_minute), (50, vec![50, 100, 200]));
}

#[test]
fn sweeper_aborts_at_20_percent_failed_after_10_executed() {
    let host = fleetjobs_on_test_clock();
    let things: Vec<String> = (0..20).map(|i| format!("abort-{i:02}")).collect();
    let tokens: Vec<String> = things.iter().map(|t| create_thing(&host, t)).collect();
    let mut body = job_body(
        "risky",
        &things.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    body["abortConfig"] = json!({"criteriaList": [{
        "failureType": "FAILED", "action": "CANCEL",
        "thresholdPercentage": 20, "minNumberOfExecutedThings": 10
    }]});
    create_job(&host, &body);
    for i in 0..8 {
        report(&host, &tokens[i], &things[i], "risky", "SUCCEEDED");
    }
    report(&host, &tokens[8], &things[8], "risky", "FAILED");
    report(&host, &tokens[19], &things[19], "risky", "IN_PROGRESS");
    sweep(&host);
    assert_eq!(
        describe_job(&host, "risky")["status"],
        "IN_PROGRESS",
        "9 executed"
    );
    report(&host, &tokens[9], &things[9], "risky", "FAILED");
    sweep(&host);
    let job = describe_job(&host, "risky");
    assert_eq!(job["status"], "CANCELED");
    assert_eq!(job["reasonCode"], "ABORT_CRITERIA_MET");
    let comment = job["comment"].as_str().unwrap();
    assert!(
        comment.contains("20.00%") && comment.contains("FAILED"),
        "{comment}"
    );
    assert_eq!(job["forceCanceled"], false);
    for thing in &things[10..19] {
        assert_eq!(execution(&host, "risky", thing)["status"], "CANCELED");
    }
    assert_eq!(
        execution(&host, "risky", &things[19])["status"],
        "IN_PROGRESS"
    );
    assert_eq!(execution(&host, "risky", &things[0])["status"], "SUCCEEDED");
}

#[test]
fn sweeper_times_out_at_the_step_timer_examples_minutes_with_a_notify() {
    let host = fleetjobs_on_test_clock();
    let url = host.printed("MQTT").unwrap();
    let things = ["step-a", "step-b", "step-c"];
    for thing in things {
        create_thing(&host, thing);
    }
    let devices: Vec<Device> = things
        .iter()
        .map(|t| {
            Device::connect(&url, "$emqx/things", t, Some(&host.device_token(t)), WAIT).unwrap()
        })
        .collect();
    let mut body = job_body("timed", &things);
    body["timeoutConfig"] = json!({"inProgressTimeoutInMinutes": 20});
    create_job(&host, &body);
    // Reference §2.5: the job timer starts at 12:00 (start-next); a 7-minute
    // step at 12:05 ends at 12:12, a 5-minute step at 12:10 at 12:15, and a
    // 9-minute step at 12:13 is capped at 12:20.
    for device in &devices {
        assert!(device.start_next(json!({})).unwrap().accepted);
    }
    let step = |device: &Device, minutes: i64| {
        let reply = device
            .update(
                "timed",
                json!({"status": "IN_PROGRESS", "stepTimeoutInMinutes": minutes}),
            )
            .unwrap();
        assert!(reply.accepted, "{}", reply.body);
    };
    let status = |thing: &str| execution(&host, "timed", thing)["status"].clone();
    let mut minute = 0;
    let mut at = |target: u64| {
        advance_minutes(&host, target - minute);
        minute = target;
        sweep(&host);
    };
    at(5);
    step(&devices[0], 7);
    at(10);
    step(&devices[1], 5);
    at(11);
    assert_eq!(status("step-a"), "IN_PROGRESS");
    at(12);
    assert_eq!(status("step-a"), "TIMED_OUT");
    at(13);
    step(&devices[2], 9);
    at(14);
    assert_eq!(status("step-b"), "IN_PROGRESS");
    at(15);
    assert_eq!(status("step-b"), "TIMED_OUT");
    at(19);
    assert_eq!(status("step-c"), "IN_PROGRESS");
    at(20);
    assert_eq!(status("step-c"), "TIMED_OUT");
    for device in &devices {
        let emptied = device.notice_where(WAIT, |n| {
            n.kind == NoticeKind::NotifyNext && n.body.get("execution").is_none()
        });
        assert!(
            emptied.is_ok(),
            "{}: no notify-next after TIMED_OUT",
            device.thing()
        );
    }
}

#[test]
fn failed_executions_are_retried_until_the_retries_run_out() {
    let host = fleetjobs_on_test_clock();
    let url = host.printed("MQTT").unwrap();
    let token = create_thing(&host, "flaky");
    let device = Device::connect(&url, "$emqx/things", "flaky", Some(&token), WAIT).unwrap();
    let mut body = job_body("retry", &["flaky"]);
    body["jobExecutionsRetryConfig"] =
        json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]});
    create_job(&host, &body);
    let failed = device.update("retry", json!({"status": "FAILED"})).unwrap();
    assert!(failed.accepted, "{}", failed.body);
    let next = device
        .notice_where(WAIT, |n| {
            n.kind == NoticeKind::NotifyNext && n.body["execution"]["executionNumber"] == 2
        })
        .unwrap();
    assert_eq!(next.body["execution"]["jobId"], "retry");
    assert_eq!(next.body["execution"]["status"], "QUEUED");
    let retry = execution(&host, "retry", "flaky");
    assert_eq!(
        (retry["executionNumber"].as_i64(), retry["status"].as_str()),
        (Some(2), Some("QUEUED"))
    );

    assert!(
        device
            .update("retry", json!({"status": "FAILED"}))
            .unwrap()
            .accepted
    );
    sweep(&host);
    let last = execution(&host, "retry", "flaky");
    assert_eq!(
        (last["executionNumber"].as_i64(), last["status"].as_str()),
        (Some(2), Some("FAILED"))
    );
    let job = describe_job(&host, "retry");
    assert_eq!(job["status"], "COMPLETED", "nothing left to retry");
}

#[test]
fn sweeper_starts_scheduled_jobs_and_follows_maintenance_windows() {
    let host = fleetjobs_on_test_clock();
    create_fleet(&host, "sched", 4);
    let now = now_ms(&host);
    let scheduled = |job_id: &str, scheduling: Value| {
        json!({
            "jobId": job_id,
            "targets": {"thingGroupNames": ["sched"]},
            "document": {"v": 1},
            "schedulingConfig": scheduling,
        })
    };
    create_job(
        &host,
        &scheduled("later", json!({"startTime": minutes_from(now, 40)})),
    );
    // A daily 30-minute window opening 35 minutes from now.
    let opens = chrono::DateTime::from_timestamp_millis(now + 35 * 60_000).unwrap();
    let window = format!("{} {} * * *", opens.format("%M"), opens.format("%H"));
    create_job(
        &host,
        &scheduled(
            "windowed",
            json!({"maintenanceWindows": [{"startTime": window, "durationInMinutes": 30}]}),
        ),
    );
    let status = |job_id: &str| describe_job(&host, job_id)["status"].clone();
    sweep(&host);
    assert_eq!(
        (status("later"), status("windowed")),
        ("SCHEDULED".into(), "SCHEDULED".into())
    );
    assert_eq!(
        executions(&host, "later") + executions(&host, "windowed"),
        0
    );

    advance_minutes(&host, 35);
    sweep(&host);
    assert_eq!(status("windowed"), "IN_PROGRESS", "the window opened");
    assert_eq!(executions(&host, "windowed"), 4);
    assert_eq!(status("later"), "SCHEDULED");
    advance_minutes(&host, 5);
    sweep(&host);
    assert_eq!(status("later"), "IN_PROGRESS", "startTime reached");
    assert_eq!(executions(&host, "later"), 4);
    advance_minutes(&host, 26);
    sweep(&host);
    assert_eq!(status("windowed"), "SCHEDULED", "the window closed");
}

#[test]
fn sweeper_applies_each_end_behaviour() {
    let host = fleetjobs_on_test_clock();
    let things = ["end-a", "end-b", "end-c"];
    let tokens: Vec<String> = things.iter().map(|t| create_thing(&host, t)).collect();
    let now = now_ms(&host);
    for (job_id, behavior) in [
        ("stop", "STOP_ROLLOUT"),
        ("cancel", "CANCEL"),
        ("force", "FORCE_CANCEL"),
    ] {
        let mut body = job_body(job_id, &things);
        body["jobExecutionsRolloutConfig"] = json!({"maximumPerMinute": 2});
        body["schedulingConfig"] =
            json!({"endTime": minutes_from(now, 31), "endBehavior": behavior});
        create_job(&host, &body);
        assert_eq!(executions(&host, job_id), 2, "{job_id}: the first minute");
    }
    // end-a starts its head (the "stop" job); end-b starts "cancel" and "force".
    device_http(
        &host,
        &tokens[0],
        "PUT",
        "/device/v1/things/end-a/jobs/$next",
        json!({}),
    );
    report(&host, &tokens[1], "end-b", "cancel", "IN_PROGRESS");
    report(&host, &tokens[1], "end-b", "force", "IN_PROGRESS");

    advance_minutes(&host, 31);
    sweep(&host);
    let stop = describe_job(&host, "stop");
    assert_eq!(stop["status"], "IN_PROGRESS");
    advance_minutes(&host, 2);
    sweep(&host);
    assert_eq!(
        executions(&host, "stop"),
        2,
        "STOP_ROLLOUT creates no more executions"
    );

    for (job_id, in_progress) in [("cancel", "IN_PROGRESS"), ("force", "CANCELED")] {
        let job = describe_job(&host, job_id);
        assert_eq!(
            (job["status"].as_str(), job["reasonCode"].as_str()),
            (Some("CANCELED"), Some("END_TIME_REACHED"))
        );
        assert_eq!(
            execution(&host, job_id, "end-a")["status"],
            "CANCELED",
            "{job_id}: QUEUED"
        );
        assert_eq!(
            execution(&host, job_id, "end-b")["status"],
            in_progress,
            "{job_id}"
        );
    }
}

#[test]
fn sweeper_deletes_a_job_of_10000_executions_in_batches() {
    let host = fleetjobs_on_test_clock();
    seed_fleet(&host, "big", 10_000);
    create_job(
        &host,
        &json!({"jobId": "huge", "targets": {"thingGroupNames": ["big"]}, "document": {"v": 1}}),
    );
    // The request releases the first 1,000; a pass of the sweeper the rest.
    sweep(&host);
    assert_eq!(executions(&host, "huge"), 10_000);
    api_ok(
        &host,
        "DELETE",
        "/api/v1/jobs/huge?force=true",
        Value::Null,
        204,
    );
    let job = describe_job(&host, "huge");
    assert_eq!(
        job["status"], "DELETION_IN_PROGRESS",
        "more than the request deletes"
    );
    assert!(
        executions(&host, "huge") < 10_000,
        "a first part went with the request"
    );
    // Each pass deletes a bounded number of batches of 1,000.
    let mut passes = 0;
    while api(&host, "GET", "/api/v1/jobs/huge", &Value::Null).0 != 404 {
        assert!(passes < 3, "the sweeper deletes the rest in a few passes");
        sweep(&host);
        passes += 1;
    }
    let (status, page) = api(
        &host,
        "GET",
        "/api/v1/things/big00042/executions",
        &Value::Null,
    );
    assert_eq!(status, 200);
    assert_eq!(page["executionSummaries"], json!([]), "{page}");
}

/// More active jobs than a sweeper pass looks at (1,000 long-lived
/// CONTINUOUS jobs) do not starve a new paced job or a timeout: the sweeper
/// takes what is due, not the oldest jobs.
#[test]
fn sweeper_serves_due_jobs_behind_a_thousand_idle_continuous_ones() {
    let host = fleetjobs_on_test_clock();
    create_thing(&host, "member");
    create_job(&host, &{
        let mut body = job_body("first", &["member"]);
        body["targetSelection"] = json!("CONTINUOUS");
        body
    });
    for i in 0..999 {
        let mut body = job_body(&format!("continuous-{i:03}"), &["member"]);
        body["targetSelection"] = json!("CONTINUOUS");
        create_job(&host, &body);
    }
    let paced_things = create_fleet(&host, "paced", 6);
    create_job(
        &host,
        &json!({
            "jobId": "paced",
            "targets": {"thingGroupNames": ["paced"]},
            "document": {"v": 1},
            "jobExecutionsRolloutConfig": {"maximumPerMinute": 2},
        }),
    );
    let timed_token = create_thing(&host, "slowpoke");
    let mut body = job_body("timed", &["slowpoke"]);
    body["timeoutConfig"] = json!({"inProgressTimeoutInMinutes": 1});
    create_job(&host, &body);
    device_http(
        &host,
        &timed_token,
        "PUT",
        "/device/v1/things/slowpoke/jobs/$next",
        json!({}),
    );
    // Every new job is due once: a few passes see them all.
    for _ in 0..12 {
        sweep(&host);
    }
    for minute in 1..=3u64 {
        advance_minutes(&host, 1);
        sweep(&host);
        assert_eq!(
            executions(&host, "paced"),
            2 * (minute + 1).min(3),
            "minute {minute}"
        );
        // Devices finish what they were given.
        for thing in &paced_things {
            let (status, _) = api(
                &host,
                "GET",
                &format!("/api/v1/jobs/paced/executions/{thing}"),
                &Value::Null,
            );
            if status == 200 && execution(&host, "paced", thing)["status"] == "QUEUED" {
                report(
                    &host,
                    &host.device_token(thing),
                    thing,
                    "paced",
                    "SUCCEEDED",
                );
            }
        }
        if minute == 1 {
            assert_eq!(execution(&host, "timed", "slowpoke")["status"], "TIMED_OUT");
            assert_eq!(describe_job(&host, "timed")["status"], "COMPLETED");
        }
    }
    sweep(&host);
    assert_eq!(describe_job(&host, "paced")["status"], "COMPLETED");
    assert_eq!(describe_job(&host, "first")["status"], "IN_PROGRESS");
}
