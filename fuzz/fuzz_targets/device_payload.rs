//! Device request payloads (MQTT and HTTP bodies): parsed or refused with
//! InvalidJson / InvalidRequest, never a panic; the clientToken is found even
//! in broken JSON and echoed only if it is a string.
#![no_main]

use fleetjobs_api::device::{
    client_token, DescribeRequest, DeviceRequest, GetPendingRequest, StartNextRequest,
    UpdateRequest,
};
use libfuzzer_sys::fuzz_target;

fn refused_cleanly<R: DeviceRequest>(payload: &[u8]) {
    if let Err(error) = R::parse(payload) {
        assert!(
            matches!(error.code, "InvalidJson" | "InvalidRequest"),
            "{error:?}"
        );
        assert_eq!(error.status, 400);
    }
}

fuzz_target!(|payload: &[u8]| {
    let _ = client_token(payload);
    refused_cleanly::<GetPendingRequest>(payload);
    refused_cleanly::<StartNextRequest>(payload);
    refused_cleanly::<DescribeRequest>(payload);
    refused_cleanly::<UpdateRequest>(payload);
});
