//! Rust bindings for the Spin interfaces the host implements (`wit/`), and the
//! trigger worlds it calls (`../../wit/`).

wasmtime::component::bindgen!({
    path: "wit",
    world: "fleetjobs:host/spin-host",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": crate::key_value::KeyValueHandle,
        "fermyon:spin/sqlite.connection": crate::sqlite::SqliteHandle,
        "spin:sqlite/sqlite.connection": crate::sqlite::SqliteHandle,
        "fermyon:spin/mqtt.connection": crate::mqtt::MqttHandle,
        "fermyon:spin/redis.connection": crate::redis::RedisHandle,
        "spin:postgres/postgres@3.0.0.connection": crate::postgres::PgHandle,
        "spin:postgres/postgres@4.0.0.connection": crate::postgres::PgHandle,
    },
});

/// `fermyon:spin-cron@2.0.0`, world `spin-cron`.
pub mod cron {
    wasmtime::component::bindgen!({
        path: "../../wit/cron.wit",
        world: "spin-cron",
        exports: { default: async },
    });
}

/// `spin:mqtt-trigger`, world `spin-mqtt`.
pub mod mqtt_trigger {
    wasmtime::component::bindgen!({
        path: "../../wit/mqtt.wit",
        world: "spin-mqtt",
        exports: { default: async },
    });
}
