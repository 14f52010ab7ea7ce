//! The managed mosquitto's accounts: mosquitto's dynamic security plugin
//! (`mosquitto_dynamic_security.so`, shipped with Debian's mosquitto 2.0),
//! which keeps clients, roles and ACLs in `dynamic-security.json` and is
//! administered at run time over `$CONTROL/dynamic-security/v1`. It fits a
//! registry that changes while the broker runs: an application adds,
//! re-keys and deletes device accounts by publishing commands, a deleted
//! client is disconnected at once, and passwords are kept as PBKDF2-SHA512
//! hashes, never in plaintext.
//!
//! The host owns one account, the application's service account: generated
//! on first start (its password kept in the state directory, mode 0600) and
//! written into the file before the broker starts, with a role that may
//! publish and subscribe everywhere the application needs (`#`, the
//! `$`-prefixed roots of its MQTT triggers, and `$CONTROL/dynamic-security`).
//! Anonymous clients are refused; everything else is denied unless a role
//! allows it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;
use serde_json::{json, Value};

/// The service account's user name.
pub const SERVICE_USERNAME: &str = "fleetjobs-service";
const SERVICE_ROLE: &str = "fleetjobs-service";
/// The control topic of the dynamic security plugin.
pub const CONTROL_TOPIC: &str = "$CONTROL/dynamic-security/v1";
/// mosquitto's own default for the hashes it writes.
const ITERATIONS: u32 = 101;

/// The broker login fleetjobs itself uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub username: String,
    pub password: String,
}

/// The service account's password, generated on first start and kept in
/// `file` (mode 0600).
pub fn service_account(file: &Path) -> std::io::Result<ServiceAccount> {
    let password = match std::fs::read_to_string(file) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => {
            let password = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            write_private(file, password.as_bytes())?;
            password
        }
    };
    Ok(ServiceAccount {
        username: SERVICE_USERNAME.into(),
        password,
    })
}

/// Writes `contents` readable by the owner only.
pub fn write_private(file: &Path, contents: &[u8]) -> std::io::Result<()> {
    let partial = file.with_extension("partial");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    out.write_all(contents)?;
    out.sync_all()?;
    std::fs::rename(partial, file)
}

/// `{password, salt, iterations}` as the plugin stores a password.
fn hashed(password: &str) -> Value {
    let salt: [u8; 12] = uuid::Uuid::new_v4().as_bytes()[..12]
        .try_into()
        .expect("16 bytes");
    let mut key = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password.as_bytes(), &salt, ITERATIONS, &mut key);
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({
        "password": b64.encode(key),
        "salt": b64.encode(salt),
        "iterations": ITERATIONS,
    })
}

/// The service role's ACLs: every right on `#`, the plugin's control topic
/// and each `$`-prefixed root (`#` does not match `$` topics).
fn service_role(roots: &[String]) -> Value {
    let mut patterns = vec!["#".to_owned(), "$CONTROL/dynamic-security/#".to_owned()];
    patterns.extend(roots.iter().map(|root| format!("{root}/#")));
    let acls: Vec<Value> = patterns
        .iter()
        .flat_map(|topic| {
            [
                "publishClientSend",
                "publishClientReceive",
                "subscribePattern",
                "unsubscribePattern",
            ]
            .map(|acltype| json!({"acltype": acltype, "topic": topic, "allow": true}))
        })
        .collect();
    json!({"rolename": SERVICE_ROLE, "acls": acls})
}

/// The `$`-prefixed first levels of `topics` (MQTT filters), deduplicated.
pub fn dollar_roots<'a>(topics: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut roots: Vec<String> = topics
        .into_iter()
        .filter_map(|topic| topic.split('/').next())
        .filter(|root| root.starts_with('$') && !root.contains(['+', '#']))
        .map(str::to_owned)
        .collect();
    roots.sort();
    roots.dedup();
    roots
}

/// Brings `file` up to date before the broker starts: the service account
/// with `account`'s password and its role for `roots`, and deny by default.
/// Every other client and role (the devices) is kept.
pub fn prepare(file: &Path, account: &ServiceAccount, roots: &[String]) -> std::io::Result<()> {
    let mut config: Value = match std::fs::read(file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::other(format!("{} is not valid JSON: {e}", file.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e),
    };
    let mut client = json!({
        "username": account.username,
        "textName": "fleetjobs service account",
        "roles": [{"rolename": SERVICE_ROLE}],
    });
    if let (Some(client), Value::Object(hash)) = (client.as_object_mut(), hashed(&account.password))
    {
        client.extend(hash);
    }
    replace_entry(&mut config, "clients", "username", client);
    replace_entry(&mut config, "roles", "rolename", service_role(roots));
    config["defaultACLAccess"] = json!({
        "publishClientSend": false,
        "publishClientReceive": true,
        "subscribe": false,
        "unsubscribe": true,
    });
    let text = serde_json::to_vec_pretty(&config).map_err(std::io::Error::other)?;
    write_private(file, &text)
}

/// Puts `entry` into the array `config[list]`, replacing the one with the
/// same `key`.
fn replace_entry(config: &mut Value, list: &str, key: &str, entry: Value) {
    if !config[list].is_array() {
        config[list] = json!([]);
    }
    let entries = config[list].as_array_mut().expect("made an array above");
    entries.retain(|existing| existing[key] != entry[key]);
    entries.push(entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_account_is_generated_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("service_password");
        let first = service_account(&file).unwrap();
        assert_eq!(first, service_account(&file).unwrap());
        assert!(first.password.len() >= 32);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn prepare_keeps_devices_and_stores_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dynamic-security.json");
        let account = ServiceAccount {
            username: SERVICE_USERNAME.into(),
            password: "s3cret-password".into(),
        };
        std::fs::write(
            &file,
            r#"{"clients": [{"username": "t1", "roles": [{"rolename": "thing/t1"}]}],
                "roles": [{"rolename": "thing/t1", "acls": []}]}"#,
        )
        .unwrap();
        prepare(
            &file,
            &account,
            &dollar_roots(["$emqx/things/+/jobs/+", "a/b"]),
        )
        .unwrap();
        prepare(&file, &account, &dollar_roots(["$emqx/things/+/jobs/+"])).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("s3cret-password"));
        let config: Value = serde_json::from_str(&text).unwrap();
        let clients = config["clients"].as_array().unwrap();
        assert_eq!(clients.len(), 2, "{config}");
        assert!(text.contains("\"$emqx/#\""));
        assert_eq!(config["defaultACLAccess"]["subscribe"], false);
    }
}
