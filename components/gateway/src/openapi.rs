//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 description generated from the
//! gateway's own route table, so it lists exactly the routes served.

use serde_json::{json, Map, Value};

use crate::{Route, ROUTES};

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn schemas() -> Value {
    let text = json!({"type": "string"});
    let targets = object(
        json!({
            "thingNames": {"type": "array", "items": {"type": "string", "pattern": "^[a-zA-Z0-9:_-]{1,128}$"}},
            "thingGroupNames": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 128}}
        }),
        &[],
    );
    let config = json!({"type": "object"});
    let status_details = json!({"type": "object", "additionalProperties": {"type": "string", "maxLength": 1024}, "maxProperties": 10});
    json!({
        "Error": object(json!({"error": object(json!({"code": text, "message": text}), &["code", "message"])}), &["error"]),
        "Object": {"type": "object"},
        "CreateJob": object(json!({
            "jobId": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"},
            "name": {"type": "string", "maxLength": 128},
            "description": {"type": "string", "maxLength": 2028},
            "jobType": {"enum": ["SNAPSHOT", "CONTINUOUS"]},
            "targetSelection": {"enum": ["SNAPSHOT", "CONTINUOUS"]},
            "targets": targets,
            "document": {"type": "object", "description": "The job document, at most 32 KiB as JSON"},
            "jobExecutionsRolloutConfig": config,
            "abortConfig": config,
            "timeoutConfig": config,
            "jobExecutionsRetryConfig": config,
            "schedulingConfig": config,
            "tags": {"type": "array", "items": object(json!({"Key": text, "Value": text}), &["Key"])}
        }), &["targets", "document"]),
        "UpdateJob": object(json!({
            "description": {"type": "string", "maxLength": 2028},
            "jobExecutionsRolloutConfig": config,
            "abortConfig": config,
            "timeoutConfig": config,
            "jobExecutionsRetryConfig": config
        }), &[]),
        "CancelJob": object(json!({
            "reasonCode": {"type": "string", "pattern": "^[A-Z0-9_]{1,128}$"},
            "comment": {"type": "string", "maxLength": 2028},
            "force": {"type": "boolean"}
        }), &[]),
        "AssociateTargets": object(json!({"targets": targets}), &["targets"]),
        "CancelJobExecution": object(json!({
            "force": {"type": "boolean"},
            "expectedVersion": {"type": "integer"},
            "statusDetails": status_details
        }), &[]),
        "CreateThing": object(json!({
            "thingName": {"type": "string", "pattern": "^[a-zA-Z0-9:_-]{1,128}$"},
            "attributes": {"type": "object", "additionalProperties": {"type": "string"}}
        }), &["thingName"]),
        "UpdateThing": object(json!({
            "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
            "expectedVersion": {"type": "integer"}
        }), &["attributes"]),
        "CreateThingGroup": object(json!({
            "thingGroupName": {"type": "string", "minLength": 1, "maxLength": 128},
            "description": {"type": "string", "maxLength": 2028}
        }), &["thingGroupName"])
    })
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn parameters(route: &Route) -> Vec<Value> {
    let mut out: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if route.operation.starts_with("List") {
        out.push(query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 250}),
            "page size",
        ));
        out.push(query(
            "nextToken",
            json!({"type": "string"}),
            "from the previous page",
        ));
    }
    match route.operation {
        "ListJobs" => {
            out.push(query("status", json!({"enum": ["SCHEDULED", "IN_PROGRESS", "CANCELED", "COMPLETED", "DELETION_IN_PROGRESS"]}), "job status"));
            out.push(query("jobType", json!({"enum": ["SNAPSHOT", "CONTINUOUS"]}), "job type"));
            out.push(query("thingGroupName", json!({"type": "string"}), "jobs targeting this group"));
        }
        "ListJobExecutionsForJob" | "ListJobExecutionsForThing" => out.push(query(
            "status",
            json!({"enum": ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"]}),
            "execution status",
        )),
        "DescribeJobExecution" => out.push(query("executionNumber", json!({"type": "integer", "minimum": 1}), "default: the latest")),
        "DeleteJobExecution" => {
            out.push(query("executionNumber", json!({"type": "integer", "minimum": 1}), "default: the latest"));
            out.push(query("force", json!({"type": "boolean"}), "also IN_PROGRESS executions"));
        }
        "DeleteJob" => out.push(query("force", json!({"type": "boolean"}), "also active jobs")),
        _ => {}
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
    responses.insert(
        "400".into(),
        error("invalid request: the message names the field"),
    );
    responses.insert("401".into(), error("missing or wrong bearer token"));
    responses.insert("404".into(), error("no such resource"));
    responses.insert(
        "409".into(),
        error("conflict, invalid state transition or version conflict"),
    );
    responses.insert("413".into(), error("request body too large"));
    let mut out = json!({
        "operationId": route.operation,
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
            .entry(format!("/api/v1/{}", route.path))
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
