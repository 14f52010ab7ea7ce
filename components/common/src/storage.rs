//! The store on Spin's SQLite or PostgreSQL (the `database_url` variable)
//! and the clock it is given.

use fleetjobs_api::ApiError;
use fleetjobs_core::Timestamp;
use fleetjobs_store::backend::spin::SpinSql;
use fleetjobs_store::{Store, StoreOptions};

use crate::variables::{commands_prefix, topic_prefix, variable};

/// Now, as the host's wall clock says (the test clock moves it).
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(since_epoch.as_millis() as i64)
}

/// The store on the database `database_url` names, migrated: empty (the
/// default), the embedded SQLite database labelled `default`; a
/// `postgres://` URL, that PostgreSQL (through Spin's `pg4` interface, so
/// `allowed_outbound_hosts` must allow its `postgres://host:port`). A
/// database that does not answer is a 503.
pub fn store() -> Result<Store<SpinSql>, ApiError> {
    let store = Store::new(
        open_database()?,
        StoreOptions {
            topic_prefix: topic_prefix(),
            commands_prefix: commands_prefix(),
        },
    );
    store.migrate(now())?;
    Ok(store)
}

fn open_database() -> Result<SpinSql, ApiError> {
    let url = variable("database_url", "");
    let opened = if url.is_empty() {
        SpinSql::open("default")
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        SpinSql::open_postgres(&url)
    } else {
        // The URL may hold a password: not repeated here.
        return Err(ApiError::from(fleetjobs_store::Error::Corrupt(
            "the variable database_url is neither empty (SQLite) nor a postgres:// URL".into(),
        )));
    };
    opened.map_err(|e| {
        // The driver's text can name hosts and accounts: the log has it,
        // the caller only learns that the database did not answer.
        eprintln!("opening the database: {}", e.message);
        ApiError::from(fleetjobs_store::Error::Unavailable(
            "the database does not answer".into(),
        ))
    })
}
