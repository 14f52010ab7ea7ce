//! The store on Spin's SQLite and the clock it is given.

use fleetjobs_api::ApiError;
use fleetjobs_core::Timestamp;
use fleetjobs_store::backend::spin::SpinSql;
use fleetjobs_store::{Store, StoreOptions};

use crate::variables::{commands_prefix, topic_prefix};

/// Now, as the host's wall clock says (the test clock moves it).
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(since_epoch.as_millis() as i64)
}

/// The store on the `default` database, migrated.
pub fn store() -> Result<Store<SpinSql>, ApiError> {
    let sql =
        SpinSql::open("default").map_err(|e| ApiError::from(fleetjobs_store::Error::from(e)))?;
    let store = Store::new(
        sql,
        StoreOptions {
            topic_prefix: topic_prefix(),
            commands_prefix: commands_prefix(),
        },
    );
    store.migrate(now())?;
    Ok(store)
}
