//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 description generated from the
//! route table the gateway serves (`fleetjobs_api::routes::ROUTES`), so it
//! lists exactly the routes served.

use serde_json::{json, Map, Value};

use fleetjobs_core::config::{
    AbortAction, AbortFailureType, EndBehavior, RetryFailureType, MAX_PER_MINUTE, MAX_RETRIES,
};
use fleetjobs_core::device_command::{CommandStatus, MAX_ACTION_CHARS, MAX_TTL_SECONDS};
use fleetjobs_core::model::JobType;
use fleetjobs_core::validate::{
    MAX_ATTRIBUTES, MAX_ATTRIBUTE_KEY_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_STATUS_DETAILS,
    MAX_STATUS_DETAIL_VALUE, MAX_TARGETS, MAX_TEXT_CHARS, MAX_TIMEOUT_MINUTES,
};

use fleetjobs_api::request::{MAX_LIMIT, MAX_WAIT_SECONDS};
use fleetjobs_api::routes::{Operation, Route, API_PREFIX, ROUTES};

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// The wire values of an enum of the core.
fn one_of<T: Copy + std::fmt::Display>(all: &[T]) -> Value {
    json!({"enum": all.iter().map(T::to_string).collect::<Vec<_>>()})
}

fn integer(minimum: i64, maximum: i64) -> Value {
    json!({"type": "integer", "minimum": minimum, "maximum": maximum})
}

/// An optional field: null is the same as absent.
fn or_null(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

/// Optional free text as `validate::free_text` takes it: no control characters.
fn text(max: usize) -> Value {
    or_null(
        json!({"type": "string", "maxLength": max, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}),
    )
}

fn configs() -> [(&'static str, Value); 5] {
    let rate_criteria = json!({"oneOf": [
        object(json!({"numberOfNotifiedThings": integer(1, 1_000_000)}), &["numberOfNotifiedThings"]),
        object(json!({"numberOfSucceededThings": integer(1, 1_000_000)}), &["numberOfSucceededThings"]),
    ]});
    let per_minute = integer(1, MAX_PER_MINUTE as i64);
    [
        (
            "jobExecutionsRolloutConfig",
            object(
                json!({
                    "maximumPerMinute": per_minute,
                    "exponentialRate": object(json!({
                        "baseRatePerMinute": per_minute,
                        "incrementFactor": {"type": "number", "minimum": 1.1, "maximum": 5, "multipleOf": 0.1},
                        "rateIncreaseCriteria": rate_criteria,
                    }), &["baseRatePerMinute", "incrementFactor", "rateIncreaseCriteria"]),
                }),
                &[],
            ),
        ),
        (
            "abortConfig",
            object(
                json!({
                    "criteriaList": {"type": "array", "minItems": 1, "items": object(json!({
                        "failureType": one_of(AbortFailureType::ALL),
                        "action": one_of(AbortAction::ALL),
                        "thresholdPercentage": {"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.01},
                        "minNumberOfExecutedThings": integer(1, u32::MAX as i64),
                    }), &["failureType", "action", "thresholdPercentage", "minNumberOfExecutedThings"])},
                }),
                &["criteriaList"],
            ),
        ),
        (
            "timeoutConfig",
            object(
                json!({
                    "inProgressTimeoutInMinutes": integer(1, MAX_TIMEOUT_MINUTES),
                }),
                &[],
            ),
        ),
        (
            "jobExecutionsRetryConfig",
            object(
                json!({
                    "criteriaList": {"type": "array", "minItems": 1, "maxItems": 2, "items": object(json!({
                        "failureType": one_of(RetryFailureType::ALL),
                        "numberOfRetries": integer(0, MAX_RETRIES as i64),
                    }), &["failureType", "numberOfRetries"])},
                }),
                &["criteriaList"],
            ),
        ),
        (
            "schedulingConfig",
            object(
                json!({
                    "startTime": {"type": "string", "description": "YYYY-MM-DDTHH:MM (UTC) or RFC 3339, at least 30 minutes ahead"},
                    "endTime": {"type": "string", "description": "YYYY-MM-DDTHH:MM (UTC) or RFC 3339"},
                    "endBehavior": one_of(EndBehavior::ALL),
                    "maintenanceWindows": {"type": "array", "items": object(json!({
                        "startTime": {"type": "string", "description": "a cron expression"},
                        "durationInMinutes": integer(1, 1430),
                    }), &["startTime", "durationInMinutes"])},
                }),
                &[],
            ),
        ),
    ]
}

fn schemas() -> Value {
    let plain = json!({"type": "string"});
    let thing_name = json!({"type": "string", "pattern": "^[a-zA-Z0-9:_-]{1,128}$"});
    let group_name = json!({"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^/\\u0000-\\u001f\\u007f-\\u009f]*$"});
    let targets = json!({
        "type": "object",
        "properties": {
            "thingNames": {"type": "array", "items": thing_name, "minItems": 1, "maxItems": MAX_TARGETS},
            "thingGroupNames": {"type": "array", "items": group_name, "minItems": 1, "maxItems": MAX_TARGETS},
        },
        "minProperties": 1,
        "additionalProperties": false,
    });
    let job_type = or_null(one_of(JobType::ALL));
    let attributes = json!({
        "type": "object",
        "maxProperties": MAX_ATTRIBUTES,
        "propertyNames": {"minLength": 1, "maxLength": MAX_ATTRIBUTE_KEY_CHARS},
        "additionalProperties": {"type": "string", "maxLength": MAX_ATTRIBUTE_VALUE_CHARS},
    });
    let version = json!({"type": ["integer", "null"], "minimum": 1});
    let status_details = json!({"type": "object", "additionalProperties": {"type": "string", "maxLength": MAX_STATUS_DETAIL_VALUE}, "maxProperties": MAX_STATUS_DETAILS});
    let [rollout, abort, timeout, retry, scheduling] = configs();
    let mut create_job = json!({
        "jobId": or_null(json!({"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"})),
        "name": text(128),
        "description": text(MAX_TEXT_CHARS),
        "jobType": job_type,
        "targetSelection": job_type,
        "targets": targets,
        "document": {"type": "object", "description": "The job document, at most 32 KiB as JSON"},
        "tags": {"type": "array", "items": object(json!({"Key": plain, "Value": plain}), &["Key"])},
    });
    let mut update_job = json!({"description": text(MAX_TEXT_CHARS)});
    for (name, schema) in [&rollout, &abort, &timeout, &retry, &scheduling] {
        create_job[*name] = or_null(schema.clone());
    }
    for (name, schema) in [rollout, abort, timeout, retry] {
        update_job[name] = or_null(schema);
    }
    let mut create_job = object(create_job, &["targets", "document"]);
    // `targetSelection` is AWS's name for `jobType`: one or the other.
    create_job["not"] = json!({"required": ["jobType", "targetSelection"]});
    json!({
        "Error": object(json!({"error": object(json!({"code": plain, "message": plain}), &["code", "message"])}), &["error"]),
        "Object": {"type": "object"},
        "CreateJob": create_job,
        "UpdateJob": object(update_job, &[]),
        "CancelJob": object(json!({
            "reasonCode": or_null(json!({"type": "string", "pattern": "^[A-Z0-9_]{1,128}$"})),
            "comment": text(MAX_TEXT_CHARS),
            "force": {"type": "boolean"}
        }), &[]),
        "AssociateTargets": object(json!({"targets": targets}), &["targets"]),
        "CancelJobExecution": object(json!({
            "force": {"type": "boolean"},
            "expectedVersion": version,
            "statusDetails": or_null(status_details)
        }), &[]),
        "CreateThing": object(json!({
            "thingName": thing_name,
            "attributes": attributes
        }), &["thingName"]),
        "UpdateThing": object(json!({
            "attributes": attributes,
            "expectedVersion": version
        }), &["attributes"]),
        "CreateThingGroup": object(json!({
            "thingGroupName": group_name,
            "description": text(MAX_TEXT_CHARS)
        }), &["thingGroupName"]),
        "SendCommand": object(json!({
            "thingName": thing_name,
            "action": {"type": "string", "pattern": format!("^[a-zA-Z0-9:._-]{{1,{MAX_ACTION_CHARS}}}$")},
            "params": or_null(json!({"type": "object", "description": "at most 32 KiB as JSON"})),
            "ttl": or_null(integer(1, MAX_TTL_SECONDS))
        }), &["thingName", "action"])
    })
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn parameters(route: &Route) -> Vec<Value> {
    let mut out: Vec<Value> = route
        .param_names()
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if route.operation.name().starts_with("List") {
        out.push(query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
            "page size",
        ));
        out.push(query(
            "nextToken",
            json!({"type": "string"}),
            "from the previous page",
        ));
    }
    match route.operation {
        Operation::ListJobs => {
            out.push(query("status", json!({"enum": ["SCHEDULED", "IN_PROGRESS", "CANCELED", "COMPLETED", "DELETION_IN_PROGRESS"]}), "job status"));
            out.push(query("jobType", json!({"enum": ["SNAPSHOT", "CONTINUOUS"]}), "job type"));
            out.push(query("thingGroupName", json!({"type": "string"}), "jobs targeting this group"));
        }
        Operation::ListJobExecutionsForJob | Operation::ListJobExecutionsForThing => out.push(query(
            "status",
            json!({"enum": ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"]}),
            "execution status",
        )),
        Operation::DescribeJobExecution => out.push(query("executionNumber", json!({"type": "integer", "minimum": 1}), "default: the latest")),
        Operation::DeleteJobExecution => {
            out.push(query("executionNumber", json!({"type": "integer", "minimum": 1}), "default: the latest"));
            out.push(query("force", json!({"type": "boolean"}), "also IN_PROGRESS executions"));
        }
        Operation::DeleteJob => out.push(query("force", json!({"type": "boolean"}), "also active jobs")),
        Operation::SendCommand => out.push(query("wait", integer(0, MAX_WAIT_SECONDS), "answer once the execution is terminal or after this many seconds (at most the ttl)")),
        Operation::ListCommands => {
            out.push(query("thingName", json!({"type": "string"}), "commands sent to this thing"));
            out.push(query("status", one_of(CommandStatus::ALL), "command status"));
        }
        Operation::ListThings | Operation::ListThingGroups => out.push(query("namePrefix", json!({"type": "string"}), "only names starting with this")),
        _ => {}
    }
    out
}

/// Every error status `route` can answer (a 405, for another method on
/// its path, comes with an `Allow` header and is not an operation's).
fn error_statuses(route: &Route) -> Vec<(u16, &'static str)> {
    let mut out = vec![
        (
            400,
            "invalid request: the message names the field, parameter or path segment",
        ),
        (401, "missing or wrong bearer token"),
    ];
    if route.path.contains('{')
        || matches!(
            route.operation,
            Operation::CreateJob | Operation::SendCommand
        )
    {
        out.push((404, "no such job, execution, thing, thing group or command"));
    }
    if route.method != "GET" {
        out.push((
            409,
            "conflict, invalid state transition or version conflict",
        ));
    }
    out.push((413, "request body too large"));
    if route.component == "things" && matches!(route.method, "POST" | "DELETE") {
        out.push((
            503,
            "the MQTT broker did not confirm the device account; nothing changed",
        ));
    }
    out
}

fn operation(route: &Route) -> Value {
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut responses = Map::new();
    let success = if route.status == 204 {
        json!({"description": "done"})
    } else {
        json!({"description": "done", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Object"}}}})
    };
    responses.insert(route.status.to_string(), success);
    for (status, description) in error_statuses(route) {
        responses.insert(status.to_string(), error(description));
    }
    let mut out = json!({
        "operationId": route.operation.name(),
        "parameters": parameters(route),
        "responses": responses,
    });
    if let Some(body) = route.body {
        out["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}
        });
    }
    out
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let item = paths
            .entry(format!("{API_PREFIX}{}", route.path))
            .or_insert_with(|| json!({}));
        item[route.method.to_ascii_lowercase()] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "fleetjobs control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Jobs for device fleets, with the AWS IoT Jobs device protocol."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        }
    })
}
