//! Paths and query strings as both gateways decode them: a value or a 400
//! that names what to fix, never a panic (a hand-written decoder once sliced
//! inside a multi-byte character here).
#![no_main]

use fleetjobs_api::request::{
    execution_query, page_params, path_segment, path_segments, query_param,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str)| {
    let (path, query) = input;
    for result in [
        path_segment(path).map(drop),
        path_segments(path, "/api/v1/").map(drop),
        query_param(query, "nextToken").map(drop),
        page_params(query).map(drop),
        execution_query(query).map(drop),
    ] {
        if let Err(error) = result {
            assert_eq!(error.status, 400, "{error:?}");
        }
    }
    if let Ok(segment) = path_segment(path) {
        assert!(!path.contains('%') || segment.len() <= path.len());
    }
});
