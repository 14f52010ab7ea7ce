//! MQTT topics: what the service makes of any topic under any prefix, and
//! what a device's ACL allows. A request is always the topic's own thing's.
#![no_main]

use fleetjobs_core::protocol::{DeviceTopic, DeviceTopics};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &str)| {
    let (prefix, topic, thing) = input;
    match DeviceTopic::parse(prefix, topic) {
        DeviceTopic::Request { thing_name, .. } | DeviceTopic::Invalid { thing_name } => {
            assert!(topic.starts_with(&format!("{prefix}/{thing_name}/jobs/")));
        }
        DeviceTopic::NotARequest => {}
    }
    let topics = DeviceTopics::of(prefix, thing);
    if topics.allows_publish(topic) {
        assert!(topic.starts_with(&format!("{prefix}/{thing}/jobs/")));
    }
    let _ = topics.allows_subscribe(topic);
});
