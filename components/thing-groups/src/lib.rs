//! Thing groups: `POST/GET /api/v1/thing-groups`,
//! `GET/DELETE /api/v1/thing-groups/{thingGroupName}`,
//! `PUT/DELETE /api/v1/thing-groups/{thingGroupName}/things/{thingName}` and
//! `GET /api/v1/thing-groups/{thingGroupName}/things` (the routes of
//! `fleetjobs_api::routes::ROUTES` whose component is `thing-groups`). Membership changes give
//! continuous jobs' new members an execution in the same transaction.

use fleetjobs_api::request::{json_body, page_params, query_param};
use fleetjobs_api::routes::Operation;
use fleetjobs_api::{views, ApiError};
use fleetjobs_component::{api_route, no_route, now, respond_and_publish, store};
use fleetjobs_core::model::ThingGroup;
use fleetjobs_core::validate;
use serde::Deserialize;
use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateGroup {
    thing_group_name: String,
    #[serde(default)]
    description: Option<String>,
}

fn view(group: &ThingGroup) -> Value {
    let mut out = json!({
        "thingGroupName": group.thing_group_name,
        "createdAt": group.created_at.to_rfc3339(),
    });
    if let Some(description) = &group.description {
        out["description"] = json!(description);
    }
    out
}

fn operate(request: &Request) -> Result<(u16, Value), ApiError> {
    let (route, params) = api_route(request)?;
    let store = store()?;
    match route.operation {
        Operation::CreateThingGroup => {
            let body: CreateGroup = json_body(request.body())?;
            validate::thing_group_name(&body.thing_group_name)?;
            if let Some(description) = &body.description {
                validate::free_text("description", description)?;
            }
            let group =
                store.insert_group(&body.thing_group_name, body.description.as_deref(), now())?;
            Ok((201, view(&group)))
        }
        Operation::ListThingGroups => {
            let (limit, next_token) = page_params(request.query())?;
            let prefix = query_param(request.query(), "namePrefix")?;
            let page = store.list_groups(prefix.as_deref(), limit, next_token.as_deref())?;
            Ok((200, views::page("thingGroups", page, view)))
        }
        Operation::DescribeThingGroup => Ok((
            200,
            view(&store.existing_group(params.thing_group_name()?)?),
        )),
        Operation::DeleteThingGroup => {
            let name = params.thing_group_name()?;
            store.existing_group(name)?;
            store.transaction(|s| s.delete_group_rows(name))?;
            Ok((204, Value::Null))
        }
        Operation::ListThingsInThingGroup => {
            let name = params.thing_group_name()?;
            store.existing_group(name)?;
            let (limit, next_token) = page_params(request.query())?;
            let page = store.group_members(name, limit, next_token.as_deref())?;
            Ok((200, views::page("thingNames", page, |t| json!(t))))
        }
        Operation::AddThingToThingGroup => {
            store.add_thing_to_group(params.thing_group_name()?, params.thing_name()?, now())?;
            Ok((204, Value::Null))
        }
        Operation::RemoveThingFromThingGroup => {
            store.remove_thing_from_group(
                params.thing_group_name()?,
                params.thing_name()?,
                now(),
            )?;
            Ok((204, Value::Null))
        }
        _ => Err(no_route(request)),
    }
}

#[http_component]
fn handle(request: Request) -> Response {
    respond_and_publish(operate(&request))
}
