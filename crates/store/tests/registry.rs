//! Listing the registry: things and thing groups by name, paged, and
//! narrowed to a name prefix (the console's search).

#[macro_use]
mod common;

use common::*;

fn thing_names(store: &TestStore, prefix: Option<&str>, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let page = store.list_things(prefix, limit, token.as_deref()).unwrap();
        pages.push(page.items.iter().map(|t| t.thing_name.clone()).collect());
        match page.next_token {
            Some(next) => token = Some(next),
            None => return pages,
        }
    }
}

both_backends!(things_are_listed_by_name_and_narrowed_to_a_prefix_across_pages);
fn things_are_listed_by_name_and_narrowed_to_a_prefix_across_pages() {
    let store = memory_store();
    things(
        &store,
        &[
            "sensor-1",
            "sensor-10",
            "sensor-2",
            "sensor",
            "sensoq",
            "valve-1",
            "sensos",
        ],
    );
    assert_eq!(
        thing_names(&store, None, 3),
        [
            vec!["sensoq", "sensor", "sensor-1"],
            vec!["sensor-10", "sensor-2", "sensos"],
            vec!["valve-1"],
        ]
    );
    assert_eq!(
        thing_names(&store, Some("sensor-"), 2),
        [vec!["sensor-1", "sensor-10"], vec!["sensor-2"]]
    );
    assert_eq!(
        thing_names(&store, Some("sensor"), 10),
        [vec!["sensor", "sensor-1", "sensor-10", "sensor-2"]]
    );
    assert_eq!(
        thing_names(&store, Some("pump"), 10),
        [Vec::<String>::new()]
    );
    assert_eq!(
        thing_names(&store, Some(""), 10)[0].len(),
        7,
        "an empty prefix is none"
    );
}

both_backends!(thing_groups_are_narrowed_to_a_prefix_with_dots_spaces_and_parentheses);
fn thing_groups_are_narrowed_to_a_prefix_with_dots_spaces_and_parentheses() {
    let store = memory_store();
    for name in [
        "com.example.thermostat (default)",
        "com.example.thermostat (beta)",
        "com.example.valve",
        "lab",
    ] {
        store.insert_group(name, None, noon()).unwrap();
    }
    let names = |prefix: Option<&str>, limit: usize, token: Option<&str>| {
        let page = store.list_groups(prefix, limit, token).unwrap();
        (
            page.items
                .iter()
                .map(|g| g.thing_group_name.clone())
                .collect::<Vec<_>>(),
            page.next_token,
        )
    };
    let (first, token) = names(Some("com.example.thermostat ("), 1, None);
    assert_eq!(first, ["com.example.thermostat (beta)"]);
    let (second, token) = names(Some("com.example.thermostat ("), 1, token.as_deref());
    assert_eq!(second, ["com.example.thermostat (default)"]);
    if let Some(token) = token {
        assert!(names(Some("com.example.thermostat ("), 1, Some(&token))
            .0
            .is_empty());
    }
    assert_eq!(names(None, 10, None).0.len(), 4);
}

both_backends!(a_things_groups_are_listed_by_name_a_page_at_a_time);
fn a_things_groups_are_listed_by_name_a_page_at_a_time() {
    let store = memory_store();
    group(&store, "lab (beta)", &["t1", "t2"]);
    store.insert_group("com.example.b", None, noon()).unwrap();
    store.insert_group("com.example.a", None, noon()).unwrap();
    for g in ["com.example.b", "com.example.a"] {
        store.add_thing_to_group(g, "t1", noon()).unwrap();
    }
    let first = store.thing_memberships("t1", 2, None).unwrap();
    assert_eq!(first.items, ["com.example.a", "com.example.b"]);
    let rest = store
        .thing_memberships("t1", 2, first.next_token.as_deref())
        .unwrap();
    assert_eq!(rest.items, ["lab (beta)"]);
    assert_eq!(rest.next_token, None);
    assert_eq!(
        store.thing_memberships("t2", 10, None).unwrap().items,
        ["lab (beta)"]
    );
    assert!(store
        .thing_memberships("nobody", 10, None)
        .unwrap()
        .items
        .is_empty());
}
