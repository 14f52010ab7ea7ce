//! A [`Fleet`] of agents against a real mosquitto, with a fake jobs service
//! (a plain rumqttc client) handing out the executions.

mod common;

use std::time::{Duration, Instant};

use common::{job_service, notify_next, Broker, Jobs, PREFIX, WAIT};
use fleetjobs_simulator::{Behaviour, Error, Fleet, FleetConfig, Outcome};

fn things(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}-{i}")).collect()
}

fn config(broker: &Broker, things: Vec<String>, mix: Vec<(Behaviour, f64)>) -> FleetConfig {
    let mut config = FleetConfig::new(&broker.url(), PREFIX, things);
    config.mix = mix;
    config.step_delay = Duration::from_millis(10);
    config.connect_timeout = WAIT;
    config.call_timeout = WAIT;
    config
}

fn outcome(status: &str, execution_number: i64, runs: u32) -> Outcome {
    Outcome {
        status: status.to_owned(),
        execution_number,
        runs,
    }
}

#[test]
fn a_mixed_fleet_ends_each_job_as_its_behaviour_says() {
    use Behaviour::*;
    let broker = Broker::start(false);
    let jobs = Jobs::shared();
    let names = things("mix", 20);
    for thing in &names {
        jobs.lock().unwrap().queue(thing, "job-1");
    }
    let _service = job_service(&broker.url(), jobs.clone());

    let mix = vec![(Fail, 0.2), (Reject, 0.1), (Hang, 0.1), (Slow, 0.1)];
    let fleet = Fleet::start(config(&broker, names.clone(), mix)).unwrap();
    let expected = |i: usize| match i {
        1..=4 => Fail,
        5..=6 => Reject,
        7..=8 => Hang,
        9..=10 => Slow,
        _ => Succeed,
    };
    for (i, thing) in names.iter().enumerate() {
        assert_eq!(fleet.behaviour_of(thing), Some(expected(i + 1)), "{thing}");
    }
    assert_eq!(fleet.behaviour_of("nobody"), None);
    assert_eq!(fleet.things_with(Hang), ["mix-7", "mix-8"]);

    let summary = fleet
        .wait_until(WAIT, |s| s.finished() == 18 && s.hanging == 2)
        .unwrap();
    assert_eq!(
        (summary.succeeded, summary.failed, summary.rejected),
        (12, 4, 2)
    );
    assert_eq!(
        (summary.started, summary.in_progress, summary.dropped),
        (20, 0, 0)
    );
    assert_eq!((summary.errors, &summary.last_error), (0, &None));
    assert_eq!((summary.devices, summary.online), (20, 20));
    assert_eq!(summary.devices_with(Succeed), 10);
    assert_eq!(summary.devices_with(Offline), 0);

    let outcomes = fleet.outcomes();
    assert_eq!(outcomes.len(), 20);
    for thing in &names {
        let status = match fleet.behaviour_of(thing).unwrap() {
            Fail => "FAILED",
            Reject => "REJECTED",
            Hang => "IN_PROGRESS",
            _ => "SUCCEEDED",
        };
        let key = (thing.clone(), "job-1".to_owned());
        assert_eq!(outcomes[&key], outcome(status, 1, 1), "{thing}");
    }

    // What the service saw: progress, then the final status; a rejecting
    // device reports nothing before REJECTED; a hanging one reports nothing.
    {
        let jobs = jobs.lock().unwrap();
        assert_eq!(
            jobs.updates_of("mix-1"),
            ["job-1 IN_PROGRESS", "job-1 IN_PROGRESS", "job-1 FAILED"]
        );
        assert_eq!(jobs.updates_of("mix-5"), ["job-1 REJECTED"]);
        assert!(jobs.updates_of("mix-7").is_empty());
        assert_eq!(jobs.pending["mix-7"][0].status, "IN_PROGRESS");
        assert_eq!(
            jobs.updates_of("mix-20"),
            ["job-1 IN_PROGRESS", "job-1 IN_PROGRESS", "job-1 SUCCEEDED"]
        );
        let details: Vec<_> = jobs
            .updates
            .iter()
            .filter(|u| u.thing == "mix-9")
            .map(|u| u.details.clone())
            .collect();
        assert_eq!(
            details,
            [
                serde_json::json!({ "step": "1/2", "progress": "50%" }),
                serde_json::json!({ "step": "2/2", "progress": "100%" }),
                serde_json::json!({ "result": "simulated slow" }),
            ]
        );
    }

    // A second job, announced by notify-next: every device but the hanging
    // ones runs it; those do not even ask for it.
    for thing in &names {
        jobs.lock().unwrap().queue(thing, "job-2");
    }
    notify_next(&broker.url(), &names, "job-2");
    let summary = fleet
        .wait_until(WAIT, |s| s.finished() == 36 && s.in_progress == 0)
        .unwrap();
    assert_eq!(
        (summary.succeeded, summary.failed, summary.rejected),
        (24, 8, 4)
    );
    assert_eq!((summary.started, summary.hanging), (38, 2));
    let jobs_now = jobs.lock().unwrap();
    for thing in fleet.things_with(Hang) {
        assert_eq!(jobs_now.start_next_count(&thing), 1, "{thing}");
    }
    drop(jobs_now);
    assert_eq!(
        fleet.outcomes()[&("mix-7".to_owned(), "job-1".to_owned())].status,
        "IN_PROGRESS"
    );

    // Stopping ends hanging and idle agents at once.
    let stopping = Instant::now();
    fleet.stop();
    assert!(stopping.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_failed_job_comes_back_and_fails_again() {
    let broker = Broker::start(false);
    let jobs = Jobs::shared();
    jobs.lock().unwrap().max_attempts = 3;
    let names = things("retry", 3);
    for thing in &names {
        jobs.lock().unwrap().queue(thing, "job-r");
    }
    let _service = job_service(&broker.url(), jobs.clone());

    let mix = vec![(Behaviour::Fail, 0.67)];
    let fleet = Fleet::start(config(&broker, names, mix)).unwrap();
    let summary = fleet
        .wait_until(WAIT, |s| s.failed == 6 && s.succeeded == 1)
        .unwrap();
    assert_eq!((summary.started, summary.in_progress), (7, 0));
    let outcomes = fleet.outcomes();
    let key = |thing: &str| (thing.to_owned(), "job-r".to_owned());
    assert_eq!(outcomes[&key("retry-1")], outcome("FAILED", 3, 3));
    assert_eq!(outcomes[&key("retry-2")], outcome("FAILED", 3, 3));
    assert_eq!(outcomes[&key("retry-3")], outcome("SUCCEEDED", 1, 1));
    fleet.stop();
}

#[test]
fn an_update_rejected_for_a_canceled_job_drops_it_and_takes_the_next() {
    let broker = Broker::start(false);
    let jobs = Jobs::shared();
    {
        let mut jobs = jobs.lock().unwrap();
        jobs.queue("cancel-1", "doomed");
        jobs.queue("cancel-1", "next");
        jobs.cancel_once_started.insert("doomed".to_owned());
    }
    let _service = job_service(&broker.url(), jobs.clone());

    let fleet = Fleet::start(config(&broker, things("cancel", 1), Vec::new())).unwrap();
    let summary = fleet
        .wait_until(WAIT, |s| s.dropped == 1 && s.succeeded == 1)
        .unwrap();
    assert_eq!((summary.started, summary.in_progress), (2, 0));
    // A canceled job is an expected end, not an error.
    assert_eq!(summary.errors, 0, "{summary}");
    let outcomes = fleet.outcomes();
    let key = |job: &str| ("cancel-1".to_owned(), job.to_owned());
    assert_eq!(outcomes[&key("doomed")], outcome("IN_PROGRESS", 1, 1));
    assert_eq!(outcomes[&key("next")], outcome("SUCCEEDED", 1, 1));
    assert_eq!(
        jobs.lock().unwrap().updates_of("cancel-1"),
        ["next IN_PROGRESS", "next IN_PROGRESS", "next SUCCEEDED"]
    );
    fleet.stop();
}

#[test]
fn offline_devices_get_their_job_after_reconnecting() {
    let broker = Broker::start(false);
    let jobs = Jobs::shared();
    let _service = job_service(&broker.url(), jobs.clone());
    let names = things("off", 4);
    let mut config = config(&broker, names.clone(), vec![(Behaviour::Offline, 0.5)]);
    config.offline_for = Duration::from_secs(3);

    let started = Instant::now();
    let fleet = Fleet::start(config).unwrap();
    let offline = fleet.things_with(Behaviour::Offline);
    assert_eq!(offline, ["off-1", "off-2"]);
    assert_eq!(fleet.summary().online, 2);

    // The job is queued after the offline devices left: they hear of it only
    // through their sessions (the notice the broker keeps) or by asking on reconnecting.
    for thing in &names {
        jobs.lock().unwrap().queue(thing, "job-late");
    }
    notify_next(&broker.url(), &names, "job-late");
    fleet.wait_until(WAIT, |s| s.succeeded == 2).unwrap();
    let outcomes = fleet.outcomes();
    assert!(
        offline
            .iter()
            .all(|thing| !outcomes.contains_key(&(thing.clone(), "job-late".to_owned()))),
        "{outcomes:?}"
    );

    let summary = fleet
        .wait_until(WAIT, |s| s.succeeded == 4 && s.online == 4)
        .unwrap();
    assert_eq!((summary.started, summary.errors), (4, 0), "{summary}");
    let outcomes = fleet.outcomes();
    let jobs = jobs.lock().unwrap();
    for thing in &offline {
        let key = (thing.clone(), "job-late".to_owned());
        assert_eq!(outcomes[&key], outcome("SUCCEEDED", 1, 1));
        let first_ask = jobs.start_nexts[thing][0];
        assert!(
            first_ask >= started + Duration::from_secs(3),
            "{thing} asked {:?} after the start",
            first_ask - started
        );
    }
    drop(jobs);
    fleet.stop();
}

#[test]
fn an_agent_records_timeouts_and_tries_again() {
    let broker = Broker::start(false);
    let mut config = config(&broker, things("lonely", 1), Vec::new());
    config.call_timeout = Duration::from_millis(200);
    // No service yet: start-next times out, three times, and is counted as an error.
    let fleet = Fleet::start(config).unwrap();
    let summary = fleet.wait_until(WAIT, |s| s.errors >= 1).unwrap();
    let error = summary.last_error.unwrap();
    assert!(error.contains("start-next/accepted"), "{error}");

    // Once the service answers, the agent's next try gets the job.
    let jobs = Jobs::shared();
    jobs.lock().unwrap().queue("lonely-1", "job-x");
    let _service = job_service(&broker.url(), jobs);
    fleet.wait_until(WAIT, |s| s.succeeded == 1).unwrap();
    fleet.stop();
}

#[test]
fn start_fails_cleanly() {
    // Something that accepts TCP but never answers MQTT.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("mqtt://{}", silent.local_addr().unwrap());
    let mut config = FleetConfig::new(&url, PREFIX, things("nobody", 3));
    config.connect_timeout = Duration::from_millis(300);
    let err = Fleet::start(config).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");

    let broker = Broker::start(false);
    let twice = vec!["same".to_owned(), "other".to_owned(), "same".to_owned()];
    let err = Fleet::start(FleetConfig::new(&broker.url(), PREFIX, twice)).unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");

    let fleet = Fleet::start(FleetConfig::new(&broker.url(), PREFIX, Vec::new())).unwrap();
    assert_eq!(fleet.summary().devices, 0);
    let err = fleet
        .wait_until(Duration::from_millis(50), |s| s.started > 0)
        .unwrap_err();
    assert!(err.to_string().contains("last summary: devices 0"), "{err}");
}
