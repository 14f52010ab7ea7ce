//! The runtime config file (Spin's `runtime-config.toml`): where each SQLite
//! database and key-value store label lives.
//!
//! ```toml
//! [sqlite_database.default]
//! type = "spin"
//! path = "data/app.db"      # relative to the current working directory
//! [key_value_store.default]
//! type = "spin"
//! path = "kv.db"            # relative to this file's directory
//! ```
//!
//! The two relative-path rules differ because Spin's do (spin-host.md §3c).
//! No `path` means in-memory. Label `default` always exists: under the state
//! directory (`sqlite_db.db`, `sqlite_key_value.db`), or in memory without one.
//! Only the `spin` (local SQLite) type is supported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config_file::{from_toml, ConfigError};
use crate::manifest::Manifest;

/// The label every application has.
pub const DEFAULT_LABEL: &str = "default";
/// File name of the default SQLite database in the state directory.
pub const DEFAULT_SQLITE_FILE: &str = "sqlite_db.db";
/// File name of the default key-value store in the state directory.
pub const DEFAULT_KEY_VALUE_FILE: &str = "sqlite_key_value.db";

/// Where a store's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    File(PathBuf),
    InMemory,
}

/// The configured SQLite databases and key-value stores, by label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub sqlite_databases: BTreeMap<String, StoreLocation>,
    pub key_value_stores: BTreeMap<String, StoreLocation>,
}

/// A runtime config that cannot be used.
pub type RuntimeConfigError = ConfigError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    sqlite_database: BTreeMap<String, toml::Table>,
    #[serde(default)]
    key_value_store: BTreeMap<String, toml::Table>,
}

/// The one store type we support, as Spin spells it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpinStore {
    #[allow(dead_code)] // checked before parsing into this struct
    r#type: String,
    path: Option<PathBuf>,
}

impl RuntimeConfig {
    /// Only the `default` labels: under `state_dir`, or in memory without one.
    pub fn defaults(state_dir: Option<&Path>) -> Self {
        let location = |file: &str| match state_dir {
            Some(dir) => StoreLocation::File(dir.join(file)),
            None => StoreLocation::InMemory,
        };
        Self {
            sqlite_databases: BTreeMap::from([(
                DEFAULT_LABEL.to_string(),
                location(DEFAULT_SQLITE_FILE),
            )]),
            key_value_stores: BTreeMap::from([(
                DEFAULT_LABEL.to_string(),
                location(DEFAULT_KEY_VALUE_FILE),
            )]),
        }
    }

    /// Reads the runtime config file at `path` on top of the defaults.
    pub fn load(
        path: impl AsRef<Path>,
        state_dir: Option<&Path>,
    ) -> Result<Self, RuntimeConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RuntimeConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config_dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        Self::parse(&text, config_dir, state_dir)
    }

    /// Parses runtime config `text` (from a file in `config_dir`) on top of
    /// the defaults; a label given here replaces the default one.
    pub fn parse(
        text: &str,
        config_dir: &Path,
        state_dir: Option<&Path>,
    ) -> Result<Self, RuntimeConfigError> {
        let raw: RawConfig = from_toml(text)?;
        let mut config = Self::defaults(state_dir);
        for (label, table) in raw.sqlite_database {
            // Spin resolves SQLite paths against the working directory: keep
            // them relative so opening them does exactly that.
            let location = spin_store("sqlite_database", &label, table)?;
            config.sqlite_databases.insert(label, location);
        }
        for (label, table) in raw.key_value_store {
            let location = match spin_store("key_value_store", &label, table)? {
                StoreLocation::File(path) => StoreLocation::File(config_dir.join(path)),
                StoreLocation::InMemory => StoreLocation::InMemory,
            };
            config.key_value_stores.insert(label, location);
        }
        Ok(config)
    }

    /// Checks that every label a component lists in `sqlite_databases` and
    /// `key_value_stores` is configured (Spin refuses to start otherwise).
    pub fn check_labels(&self, manifest: &Manifest) -> Result<(), RuntimeConfigError> {
        for (id, component) in &manifest.components {
            let lists = [
                (
                    "sqlite_databases",
                    &component.sqlite_databases,
                    &self.sqlite_databases,
                    "sqlite_database",
                ),
                (
                    "key_value_stores",
                    &component.key_value_stores,
                    &self.key_value_stores,
                    "key_value_store",
                ),
            ];
            for (field, labels, configured, table) in lists {
                if let Some(label) = labels.iter().find(|l| !configured.contains_key(*l)) {
                    return Err(RuntimeConfigError::Invalid {
                        key: format!("component.{id}.{field}"),
                        message: format!(
                            "component {id:?} uses label {label:?}, which is not configured \
                             (add [{table}.{label}] to the runtime config)"
                        ),
                        line: None,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Parses one `[<table>.<label>]` entry, which must be of type `spin`.
fn spin_store(
    table: &str,
    label: &str,
    entry: toml::Table,
) -> Result<StoreLocation, RuntimeConfigError> {
    let key = format!("{table}.{label}");
    match entry.get("type") {
        Some(toml::Value::String(kind)) if kind == "spin" => {}
        Some(toml::Value::String(kind)) => {
            return Err(RuntimeConfigError::Invalid {
                key: format!("{key}.type"),
                message: format!(
                    "unsupported type {kind:?}; the fleetjobs host supports only \"spin\" (local SQLite)"
                ),
                line: None,
            })
        }
        Some(other) => {
            return Err(RuntimeConfigError::Invalid {
                key: format!("{key}.type"),
                message: format!("expected a string, got {}", other.type_str()),
                line: None,
            })
        }
        None => {
            return Err(RuntimeConfigError::Invalid {
                key,
                message: "missing field `type`".into(),
                line: None,
            })
        }
    }
    let store: SpinStore =
        serde_path_to_error::deserialize(toml::Value::Table(entry)).map_err(|e| {
            let path = e.path().to_string();
            RuntimeConfigError::Invalid {
                key: if path == "." || path.is_empty() {
                    key.clone()
                } else {
                    format!("{key}.{path}")
                },
                message: e.inner().message().trim().to_string(),
                line: None,
            }
        })?;
    Ok(match store.path {
        Some(path) => StoreLocation::File(path),
        None => StoreLocation::InMemory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuntimeConfig, RuntimeConfigError> {
        RuntimeConfig::parse(text, Path::new("/etc/app"), Some(Path::new("/state")))
    }

    fn expect_error(text: &str, key: &str, needle: &str) {
        let err = parse(text).expect_err(text);
        assert_eq!(err.key(), Some(key), "{err}");
        let message = err.to_string();
        assert!(message.starts_with(&format!("{key}: ")), "{message}");
        assert!(
            message.contains(needle),
            "expected {needle:?} in {message:?}"
        );
    }

    #[test]
    fn defaults_live_in_the_state_dir() {
        let config = RuntimeConfig::defaults(Some(Path::new(".fleetjobs")));
        assert_eq!(
            config.sqlite_databases["default"],
            StoreLocation::File(".fleetjobs/sqlite_db.db".into())
        );
        assert_eq!(
            config.key_value_stores["default"],
            StoreLocation::File(".fleetjobs/sqlite_key_value.db".into())
        );
        let memory = RuntimeConfig::defaults(None);
        assert_eq!(memory.sqlite_databases["default"], StoreLocation::InMemory);
        assert_eq!(memory.key_value_stores["default"], StoreLocation::InMemory);
        assert_eq!(
            parse("").unwrap(),
            RuntimeConfig::defaults(Some(Path::new("/state")))
        );
    }

    #[test]
    fn labels_and_relative_paths() {
        let config = parse(
            r#"
[sqlite_database.default]
type = "spin"
path = "data/app.db"
[sqlite_database.archive]
type = "spin"
path = "/var/archive.db"
[key_value_store.default]
type = "spin"
path = "kv.db"
[key_value_store.cache]
type = "spin"
"#,
        )
        .unwrap();
        // SQLite: relative to the working directory (left relative).
        assert_eq!(
            config.sqlite_databases["default"],
            StoreLocation::File("data/app.db".into())
        );
        assert_eq!(
            config.sqlite_databases["archive"],
            StoreLocation::File("/var/archive.db".into())
        );
        // Key-value: relative to the runtime config file's directory.
        assert_eq!(
            config.key_value_stores["default"],
            StoreLocation::File("/etc/app/kv.db".into())
        );
        assert_eq!(config.key_value_stores["cache"], StoreLocation::InMemory);
    }

    #[test]
    fn other_types_are_rejected_by_key() {
        expect_error(
            "[key_value_store.cache]\ntype = \"redis\"\nurl = \"redis://localhost\"\n",
            "key_value_store.cache.type",
            "\"redis\"",
        );
        expect_error(
            "[sqlite_database.remote]\ntype = \"libsql\"\nurl = \"https://x.turso.io\"\ntoken = \"t\"\n",
            "sqlite_database.remote.type",
            "\"libsql\"",
        );
        expect_error(
            "[sqlite_database.x]\npath = \"a.db\"\n",
            "sqlite_database.x",
            "missing field `type`",
        );
        expect_error(
            "[sqlite_database.x]\ntype = 1\n",
            "sqlite_database.x.type",
            "expected a string",
        );
    }

    #[test]
    fn unknown_fields_are_rejected_by_key() {
        expect_error(
            "[sqlite_database.default]\ntype = \"spin\"\npath = \"a.db\"\nmode = \"wal\"\n",
            "sqlite_database.default.mode",
            "unknown field `mode`",
        );
        expect_error(
            "[sqlite_database.default]\ntype = \"spin\"\npath = 5\n",
            "sqlite_database.default.path",
            "invalid type",
        );
        let err = parse("[[variables_provider]]\ntype = \"env\"\n").unwrap_err();
        assert!(err.to_string().contains("variables_provider"), "{err}");
        assert!(matches!(
            parse("[sqlite_database.default\n"),
            Err(RuntimeConfigError::Syntax { .. })
        ));
    }

    #[test]
    fn component_labels_must_be_configured() {
        let manifest = Manifest::parse(
            r#"
spin_manifest_version = 2
[application]
name = "t"
[component.api]
source = "api.wasm"
key_value_stores = ["default"]
sqlite_databases = ["default", "archive"]
[component.cache-user]
source = "c.wasm"
key_value_stores = ["default", "cache"]
"#,
            Path::new("."),
        )
        .unwrap();

        let err = RuntimeConfig::defaults(None)
            .check_labels(&manifest)
            .unwrap_err();
        assert_eq!(err.key(), Some("component.api.sqlite_databases"));
        let message = err.to_string();
        assert!(
            message.contains("\"api\"") && message.contains("\"archive\""),
            "{message}"
        );

        let config = parse("[sqlite_database.archive]\ntype = \"spin\"\n").unwrap();
        let err = config.check_labels(&manifest).unwrap_err();
        assert_eq!(err.key(), Some("component.cache-user.key_value_stores"));
        assert!(err.to_string().contains("\"cache\""), "{err}");

        let config = parse(
            "[sqlite_database.archive]\ntype = \"spin\"\n[key_value_store.cache]\ntype = \"spin\"\n",
        )
        .unwrap();
        config.check_labels(&manifest).unwrap();
    }

    #[test]
    fn load_reads_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime-config.toml");
        std::fs::write(
            &path,
            "[key_value_store.default]\ntype = \"spin\"\npath = \"kv.db\"\n",
        )
        .unwrap();
        let config = RuntimeConfig::load(&path, None).unwrap();
        assert_eq!(
            config.key_value_stores["default"],
            StoreLocation::File(dir.path().join("kv.db"))
        );
        assert_eq!(config.sqlite_databases["default"], StoreLocation::InMemory);
        assert!(matches!(
            RuntimeConfig::load(dir.path().join("missing.toml"), None),
            Err(RuntimeConfigError::Read { .. })
        ));
    }
}
