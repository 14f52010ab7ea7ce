//! MQTT topics: what the service makes of any topic under any prefix, and
//! what a device's ACL allows. A request (or a command response) is always
//! the topic's own thing's.
#![no_main]

use fleetjobs_core::device_command::{CommandTopic, CommandTopics};
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

    if let CommandTopic::Response {
        thing_name,
        execution_id,
    } = CommandTopic::parse(prefix, topic)
    {
        assert_eq!(
            topic,
            format!("{prefix}/{thing_name}/executions/{execution_id}/response")
        );
        assert!(!thing_name.contains('/') && !execution_id.contains('/'));
    }
    let commands = CommandTopics::of(prefix, thing);
    if commands.allows_publish(topic) {
        assert!(topic.starts_with(&format!("{prefix}/{thing}/executions/")));
        assert!(topic.ends_with("/response"));
    }
    if commands.allows_subscribe(topic) {
        assert!(topic.starts_with(&format!("{prefix}/{thing}/executions/")));
    }
});
