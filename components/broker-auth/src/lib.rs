//! The broker's questions, for brokers that ask rather than keep accounts
//! (EMQX's HTTP authenticator and HTTP authorizer, with
//! `broker_accounts = "none"`):
//! - `POST /broker/v1/authenticate` `{"username", "password", "clientid"?}`
//!   → `{"result": "allow" | "deny", "is_superuser": bool}`: a device by its
//!   thing name and device token, fleetjobs itself by `mqtt_username` and
//!   `mqtt_password` (a superuser, so EMQX does not ask about its topics);
//! - `POST /broker/v1/authorize` `{"username", "clientid"?, "topic",
//!   "action": "publish" | "subscribe"}` → `{"result": "allow" | "deny"}`:
//!   a device only on its own topics.
//!
//! Both need `Authorization: Bearer <broker_auth_secret>`; EMQX reads any
//! other answer (4xx) as "ignore", which ends in a refusal.

use fleetjobs_api::request::json_body;
use fleetjobs_api::ApiError;
use fleetjobs_component::variables::{mqtt_password, mqtt_username};
use fleetjobs_component::{
    commands_prefix, device_token_hash, method_name, no_route, require_bearer, respond,
    same_secret, store, topic_prefix,
};
use fleetjobs_core::device_command::CommandTopics;
use fleetjobs_core::protocol::DeviceTopics;
use serde::Deserialize;
use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

/// EMQX's authentication request (its body template, as the README sets it).
#[derive(Deserialize)]
struct Authenticate {
    username: String,
    password: String,
    #[serde(default)]
    #[allow(dead_code)] // accepted: EMQX's default template sends it
    clientid: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Action {
    Publish,
    Subscribe,
}

/// EMQX's authorization request.
#[derive(Deserialize)]
struct Authorize {
    username: String,
    topic: String,
    action: Action,
    #[serde(default)]
    #[allow(dead_code)] // accepted: EMQX's default template sends it
    clientid: Option<String>,
}

/// Whether `username` is fleetjobs' own account.
fn is_service(username: &str) -> bool {
    let service = mqtt_username();
    !service.is_empty() && username == service
}

fn result(allowed: bool) -> &'static str {
    if allowed {
        "allow"
    } else {
        "deny"
    }
}

fn authenticate(body: Authenticate) -> Result<Value, ApiError> {
    if is_service(&body.username) {
        let password = mqtt_password();
        let allowed = same_secret(body.password.as_bytes(), password.as_bytes());
        return Ok(json!({"result": result(allowed), "is_superuser": allowed}));
    }
    let stored = store()?.thing_token_hash(&body.username)?;
    let allowed = stored.is_some_and(|hash| {
        same_secret(
            hash.as_bytes(),
            device_token_hash(&body.password).as_bytes(),
        )
    });
    Ok(json!({"result": result(allowed), "is_superuser": false}))
}

fn authorize(body: Authorize) -> Result<Value, ApiError> {
    if is_service(&body.username) {
        return Ok(json!({"result": "allow"}));
    }
    let registered = store()?.thing_token_hash(&body.username)?.is_some();
    let jobs = DeviceTopics::of(&topic_prefix(), &body.username);
    let commands = CommandTopics::of(&commands_prefix(), &body.username);
    let allowed = registered
        && match body.action {
            Action::Publish => {
                jobs.allows_publish(&body.topic) || commands.allows_publish(&body.topic)
            }
            Action::Subscribe => {
                jobs.allows_subscribe(&body.topic) || commands.allows_subscribe(&body.topic)
            }
        };
    Ok(json!({"result": result(allowed)}))
}

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    require_bearer(request, "broker_auth_secret")?;
    let answer = match (method_name(request.method()), request.path()) {
        ("POST", "/broker/v1/authenticate") => authenticate(json_body(request.body())?)?,
        ("POST", "/broker/v1/authorize") => authorize(json_body(request.body())?)?,
        _ => return Err(no_route(request)),
    };
    Ok((200, answer))
}

#[http_component]
fn handle(request: Request) -> Response {
    respond(operate(&request))
}
