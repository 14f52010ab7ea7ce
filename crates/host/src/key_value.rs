//! `fermyon:spin/key-value@2.0.0`: stores backed by SQLite, one table shared
//! by all labels of a file, as Spin's `spin` key-value type does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use wasmtime::component::Resource;

use crate::app::HostState;
use crate::bindings::fermyon::spin::key_value::{Error, Host, HostStore};
use crate::runtime_config::{RuntimeConfig, StoreLocation};

/// The configured stores, by label.
#[derive(Default)]
pub struct KeyValueStores {
    stores: HashMap<String, Arc<Mutex<Connection>>>,
}

/// What a guest's `store` resource points at.
pub struct KeyValueHandle {
    label: String,
    conn: Arc<Mutex<Connection>>,
}

impl KeyValueStores {
    pub fn open(config: &RuntimeConfig) -> rusqlite::Result<Self> {
        let mut stores = HashMap::new();
        for (label, location) in &config.key_value_stores {
            let conn = match location {
                StoreLocation::File(path) => {
                    if let Some(dir) = path.parent() {
                        let _ = std::fs::create_dir_all(dir);
                    }
                    Connection::open(path)?
                }
                StoreLocation::InMemory => Connection::open_in_memory()?,
            };
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.execute(
                "CREATE TABLE IF NOT EXISTS spin_key_value (
                    store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                    PRIMARY KEY (store, key))",
                [],
            )?;
            stores.insert(label.clone(), Arc::new(Mutex::new(conn)));
        }
        Ok(KeyValueStores { stores })
    }
}

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

impl HostState {
    fn kv(
        &self,
        store: &Resource<KeyValueHandle>,
    ) -> wasmtime::Result<(String, Arc<Mutex<Connection>>)> {
        let handle = self.table.get(store)?;
        Ok((handle.label.clone(), handle.conn.clone()))
    }
}

/// Runs `work` on the store's connection.
fn with_conn<T>(
    (label, conn): (String, Arc<Mutex<Connection>>),
    work: impl FnOnce(&str, &Connection) -> rusqlite::Result<T>,
) -> Result<T, Error> {
    let conn = conn.lock().map_err(other)?;
    work(&label, &conn).map_err(other)
}

impl Host for HostState {}

impl HostStore for HostState {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<KeyValueHandle>, Error>> {
        if !self.component.key_value_stores.contains(&label) {
            return Ok(Err(Error::AccessDenied));
        }
        let Some(conn) = self.app.key_value.stores.get(&label).cloned() else {
            return Ok(Err(Error::NoSuchStore));
        };
        Ok(Ok(self.table.push(KeyValueHandle { label, conn })?))
    }

    async fn get(
        &mut self,
        store: Resource<KeyValueHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        Ok(with_conn(self.kv(&store)?, |label, c| {
            c.query_row(
                "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                params![label, key],
                |row| row.get(0),
            )
            .optional()
        }))
    }

    async fn set(
        &mut self,
        store: Resource<KeyValueHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        Ok(with_conn(self.kv(&store)?, |label, c| {
            c.execute(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                params![label, key, value],
            )
            .map(drop)
        }))
    }

    async fn delete(
        &mut self,
        store: Resource<KeyValueHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        Ok(with_conn(self.kv(&store)?, |label, c| {
            c.execute(
                "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                params![label, key],
            )
            .map(drop)
        }))
    }

    async fn exists(
        &mut self,
        store: Resource<KeyValueHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        Ok(with_conn(self.kv(&store)?, |label, c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2)",
                params![label, key],
                |row| row.get(0),
            )
        }))
    }

    async fn get_keys(
        &mut self,
        store: Resource<KeyValueHandle>,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        Ok(with_conn(self.kv(&store)?, |label, c| {
            let mut statement =
                c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
            let keys = statement.query_map(params![label], |row| row.get(0))?;
            keys.collect()
        }))
    }

    async fn drop(&mut self, store: Resource<KeyValueHandle>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}
