//! The thing registry: `POST/GET /api/v1/things`,
//! `GET/PATCH/DELETE /api/v1/things/{thingName}`,
//! `GET /api/v1/things/{thingName}/thing-groups` (the groups it belongs to), and
//! `POST /api/v1/things/{thingName}/token` (rotate the device token): the
//! routes of `fleetjobs_api::routes::ROUTES` whose component is `things`.
//! A device token is shown once, at creation or rotation; only its hash is
//! kept. The broker learns of each change inside the same transaction
//! (`broker_accounts`): if it cannot, nothing changes.

use std::collections::BTreeMap;

use fleetjobs_api::request::{json_body, page_params, query_param};
use fleetjobs_api::routes::Operation;
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{
    api_route, broker_accounts, device_token_hash, no_route, now, respond_and_publish, store,
};
use fleetjobs_core::model::Thing;
use fleetjobs_core::validate;
use fleetjobs_store::Error::Unavailable;
use serde::Deserialize;
use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateThing {
    thing_name: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateThing {
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    expected_version: Option<i64>,
}

fn view(thing: &Thing) -> Value {
    json!({
        "thingName": thing.thing_name,
        "attributes": thing.attributes,
        "version": thing.version,
        "createdAt": thing.created_at.to_rfc3339(),
    })
}

/// A new random device token and the hash that is stored.
fn new_token() -> (String, String) {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let hash = device_token_hash(&token);
    (token, hash)
}

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let (route, params) = api_route(request)?;
    let store = store()?;
    match route.operation {
        Operation::CreateThing => {
            let body: CreateThing = json_body(request.body())?;
            validate::thing_name(&body.thing_name)?;
            validate::attributes(&body.attributes)?;
            let (token, hash) = new_token();
            let thing = store.transaction(|s| {
                let thing = s.insert_thing(&body.thing_name, &body.attributes, &hash, now())?;
                broker_accounts::register(&thing.thing_name, &token).map_err(Unavailable)?;
                Ok(thing)
            })?;
            let mut reply = view(&thing);
            reply["deviceToken"] = json!(token);
            Ok((201, reply))
        }
        Operation::ListThings => {
            let (limit, next_token) = page_params(request.query())?;
            let prefix = query_param(request.query(), "namePrefix")?;
            let page = store.list_things(prefix.as_deref(), limit, next_token.as_deref())?;
            Ok((200, views::page("things", page, view)))
        }
        Operation::DescribeThing => Ok((200, view(&store.existing_thing(params.thing_name()?)?))),
        Operation::UpdateThing => {
            let name = params.thing_name()?;
            let body: UpdateThing = json_body(request.body())?;
            validate::attributes(&body.attributes)?;
            let thing = store.transaction(|s| {
                s.update_thing_attributes(name, &body.attributes, body.expected_version)
            })?;
            Ok((200, view(&thing)))
        }
        Operation::DeleteThing => {
            let name = params.thing_name()?;
            store.transaction(|s| {
                s.delete_thing(name, now())?;
                broker_accounts::remove(name).map_err(Unavailable)
            })?;
            Ok((204, Value::Null))
        }
        Operation::ListThingGroupsForThing => {
            let name = params.thing_name()?;
            store.existing_thing(name)?;
            let (limit, next_token) = page_params(request.query())?;
            let page = store.thing_memberships(name, limit, next_token.as_deref())?;
            Ok((200, views::page("thingGroupNames", page, |g| json!(g))))
        }
        Operation::RotateDeviceToken => {
            let name = params.thing_name()?;
            let (token, hash) = new_token();
            store.transaction(|s| {
                s.set_thing_token_hash(name, &hash)?;
                broker_accounts::register(name, &token).map_err(Unavailable)
            })?;
            Ok((200, json!({"thingName": name, "deviceToken": token})))
        }
        _ => Err(no_route(request)),
    }
}

#[http_component]
fn handle(request: Request) -> Response {
    respond_and_publish(operate(&request))
}
