//! The seeds' scenarios end to end: the real host running spin.toml, a real
//! mosquitto, and a fleet of simulated device agents (`fleetjobs-simulator`)
//! that run what they are handed. Time-driven steps run on the test clock.

mod common;

use std::time::Duration;

use common::fleet::*;
use common::*;
use fleetjobs_simulator::{Behaviour, Fleet, FleetConfig};
use serde_json::{json, Value};

const PREFIX: &str = "$emqx/things";

fn fleet(host: &Host, things: &[String], mix: Vec<(Behaviour, f64)>) -> Fleet {
    let url = host.printed("MQTT").expect("the host prints its broker");
    let mut config = FleetConfig::new(&url, PREFIX, things.to_vec());
    config.tokens = host.device_tokens(things);
    config.mix = mix;
    config.step_delay = Duration::from_millis(20);
    config.offline_for = Duration::from_secs(3);
    Fleet::start(config).expect("the fleet connects")
}

fn counter(job: &Value, name: &str) -> u64 {
    job["jobProcessDetails"][name].as_u64().unwrap()
}

/// Waits until the control plane shows `thing`'s execution of `job_id` in `status`.
fn wait_for_status(host: &Host, job_id: &str, thing: &str, status: &str) -> Value {
    eventually(&format!("{thing}'s {job_id} to be {status}"), || {
        let execution = execution(host, job_id, thing);
        (execution["status"] == status).then_some(execution)
    })
}

/// The seed's firmware update, with its abort configuration.
fn firmware_update(job_id: &str, group: &str) -> Value {
    json!({
        "jobId": job_id,
        "targets": {"thingGroupNames": [group]},
        "document": {"action": "updateFirmware", "params": {"version": "2.1.5",
            "url": "https://firmware.example.com/thermostat-v2.1.5.bin"}},
        "description": "Thermostat firmware 2.1.5",
    })
}

#[test]
fn acceptance_firmware_update_to_100_devices_with_10_percent_failing_is_aborted() {
    let host = fleetjobs_on_test_clock();
    let things = create_fleet(&host, "thermostats", 100);
    let devices = fleet(&host, &things, vec![(Behaviour::Fail, 0.1)]);
    let mut body = firmware_update("fw-2_1_5", "thermostats");
    body["jobExecutionsRolloutConfig"] = json!({"maximumPerMinute": 50});
    body["abortConfig"] = json!({"criteriaList": [{
        "failureType": "FAILED", "action": "CANCEL",
        "thresholdPercentage": 5, "minNumberOfExecutedThings": 20
    }]});
    create_job(&host, &body);

    // The first minute's 50 devices (the 10 failing ones among them) finish.
    let job = eventually("the first 50 executions to finish", || {
        let job = describe_job(&host, "fw-2_1_5");
        let done = counter(&job, "numberOfSucceededThings") + counter(&job, "numberOfFailedThings");
        (done == 50).then_some(job)
    });
    assert_eq!(counter(&job, "numberOfFailedThings"), 10);
    sweep(&host);
    let job = describe_job(&host, "fw-2_1_5");
    assert_eq!(job["status"], "CANCELED");
    assert_eq!(job["reasonCode"], "ABORT_CRITERIA_MET");
    advance_minutes(&host, 5);
    sweep(&host);
    assert_eq!(
        executions(&host, "fw-2_1_5"),
        50,
        "the abort stopped the rollout"
    );
    for thing in &things[..10] {
        assert_eq!(devices.behaviour_of(thing), Some(Behaviour::Fail));
        assert_eq!(execution(&host, "fw-2_1_5", thing)["status"], "FAILED");
    }
    devices.stop();
}

#[test]
fn acceptance_a_continuous_job_picks_up_devices_that_join_the_group() {
    let host = fleetjobs_on_test_clock();
    let things = create_fleet(&host, "lab", 3);
    let late: Vec<String> = ["late-1", "late-2"].map(String::from).to_vec();
    for thing in &late {
        create_thing(&host, thing);
    }
    let everyone: Vec<String> = things.iter().chain(&late).cloned().collect();
    let devices = fleet(&host, &everyone, vec![]);
    let mut body = firmware_update("lab-config", "lab");
    body["targetSelection"] = json!("CONTINUOUS");
    create_job(&host, &body);
    for thing in &things {
        wait_for_status(&host, "lab-config", thing, "SUCCEEDED");
    }
    for thing in &late {
        let (status, _) = api(
            &host,
            "GET",
            &format!("/api/v1/jobs/lab-config/executions/{thing}"),
            &Value::Null,
        );
        assert_eq!(status, 404, "{thing} is not a member yet");
        api_ok(
            &host,
            "PUT",
            &format!("/api/v1/thing-groups/lab/things/{thing}"),
            Value::Null,
            204,
        );
    }
    for thing in &late {
        wait_for_status(&host, "lab-config", thing, "SUCCEEDED");
    }
    sweep(&host);
    assert_eq!(
        describe_job(&host, "lab-config")["status"],
        "IN_PROGRESS",
        "continuous jobs stay open"
    );
    devices.stop();
}

#[test]
fn acceptance_cancel_and_force_cancel_while_devices_are_mid_update_then_force_delete() {
    let host = fleetjobs_on_test_clock();
    let hanging: Vec<String> = (0..4).map(|i| format!("busy-{i}")).collect();
    for thing in hanging.iter().chain(["asleep".to_string()].iter()) {
        create_thing(&host, thing);
    }
    let devices = fleet(&host, &hanging, vec![(Behaviour::Hang, 1.0)]);
    let job = |job_id: &str, things: &[&str]| create_job(&host, &job_body(job_id, things));
    job("soft", &["busy-0", "busy-1", "asleep"]);
    job("hard", &["busy-2", "busy-3", "asleep"]);
    for (job_id, thing) in [
        ("soft", "busy-0"),
        ("soft", "busy-1"),
        ("hard", "busy-2"),
        ("hard", "busy-3"),
    ] {
        // A hanging device started the job and went quiet: mid-update.
        wait_for_status(&host, job_id, thing, "IN_PROGRESS");
    }

    api_ok(
        &host,
        "POST",
        "/api/v1/jobs/soft/cancel",
        json!({"comment": "wrong build"}),
        200,
    );
    assert_eq!(execution(&host, "soft", "asleep")["status"], "CANCELED");
    for thing in ["busy-0", "busy-1"] {
        assert_eq!(
            execution(&host, "soft", thing)["status"],
            "IN_PROGRESS",
            "not forced"
        );
    }
    api_ok(
        &host,
        "POST",
        "/api/v1/jobs/hard/cancel",
        json!({"force": true}),
        200,
    );
    for thing in ["busy-2", "busy-3", "asleep"] {
        assert_eq!(execution(&host, "hard", thing)["status"], "CANCELED");
    }
    let hard = describe_job(&host, "hard");
    assert_eq!(
        (hard["status"].as_str(), hard["forceCanceled"].as_bool()),
        (Some("CANCELED"), Some(true))
    );

    api_ok(
        &host,
        "DELETE",
        "/api/v1/jobs/soft?force=true",
        Value::Null,
        204,
    );
    sweep(&host);
    let (status, _) = api(&host, "GET", "/api/v1/jobs/soft", &Value::Null);
    assert_eq!(status, 404, "deleted with its executions");
    let (_, listed) = api(
        &host,
        "GET",
        "/api/v1/things/busy-0/executions",
        &Value::Null,
    );
    assert_eq!(listed["executionSummaries"], json!([]), "{listed}");
    devices.stop();
}

#[test]
fn acceptance_offline_devices_get_their_job_when_they_reconnect() {
    let host = fleetjobs_on_test_clock();
    let things = create_fleet(&host, "roaming", 5);
    let devices = fleet(&host, &things, vec![(Behaviour::Offline, 1.0)]);
    // The fleet is offline now; the job is created while it is away.
    create_job(&host, &firmware_update("while-away", "roaming"));
    assert_eq!(
        execution(&host, "while-away", &things[0])["status"],
        "QUEUED"
    );
    for thing in &things {
        wait_for_status(&host, "while-away", thing, "SUCCEEDED");
    }
    sweep(&host);
    assert_eq!(describe_job(&host, "while-away")["status"], "COMPLETED");
    devices.stop();
}

#[test]
fn acceptance_hanging_devices_time_out_and_the_job_retries_them() {
    let host = fleetjobs_on_test_clock();
    let things = create_fleet(&host, "stuck", 3);
    let devices = fleet(&host, &things, vec![(Behaviour::Hang, 1.0)]);
    let mut body = firmware_update("hangs", "stuck");
    body["timeoutConfig"] = json!({"inProgressTimeoutInMinutes": 2});
    body["jobExecutionsRetryConfig"] =
        json!({"criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 1}]});
    create_job(&host, &body);
    for thing in &things {
        wait_for_status(&host, "hangs", thing, "IN_PROGRESS");
    }
    advance_minutes(&host, 1);
    sweep(&host);
    assert_eq!(
        execution(&host, "hangs", &things[0])["status"],
        "IN_PROGRESS"
    );
    advance_minutes(&host, 1);
    sweep(&host);
    for thing in &things {
        let first = api_ok(
            &host,
            "GET",
            &format!("/api/v1/jobs/hangs/executions/{thing}?executionNumber=1"),
            Value::Null,
            200,
        );
        assert_eq!(first["status"], "TIMED_OUT");
        let retry = execution(&host, "hangs", thing);
        assert_eq!(
            (retry["executionNumber"].as_i64(), retry["status"].as_str()),
            (Some(2), Some("QUEUED"))
        );
    }
    let job = describe_job(&host, "hangs");
    assert_eq!(counter(&job, "numberOfTimedOutThings"), 3);
    assert_eq!(counter(&job, "numberOfQueuedThings"), 3);
    devices.stop();
}
