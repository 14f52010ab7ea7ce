//! The Spin application manifest (`spin.toml`, `spin_manifest_version = 2`).
//!
//! Parsing is strict, as Spin's is: every table denies unknown keys, so a typo
//! fails at load instead of being silently ignored. Errors name the offending
//! key as a path (`component.api.variables.x`, `trigger.http[2].component`;
//! array indices are 0-based) and, when the TOML parser knows it, the line.
//!
//! Only what the fleetjobs host can run is accepted: local `source` files, the
//! `http`, `cron` and `mqtt` triggers, and the `http` executor.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::config_file::{from_toml, ConfigError};
use crate::routing::RoutePattern;
use crate::variables::{self, Template};

/// A loaded and validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The directory holding `spin.toml`; relative paths in it resolve here.
    pub base_dir: PathBuf,
    pub application: Application,
    /// Application variables, by name.
    pub variables: BTreeMap<String, Variable>,
    pub triggers: Triggers,
    /// Components, by id.
    pub components: BTreeMap<String, Component>,
}

/// `[application]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub trigger: ApplicationTriggers,
}

/// `[application.trigger.*]`: application-wide trigger settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationTriggers {
    pub http: Option<HttpAppConfig>,
    pub mqtt: Option<MqttAppConfig>,
}

/// `[application.trigger.http]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAppConfig {
    /// Prefix of every route (default `/`).
    #[serde(default = "default_base")]
    pub base: String,
}

fn default_base() -> String {
    "/".into()
}

/// `[application.trigger.mqtt]`: the broker the MQTT trigger subscribes on.
/// As in the `trigger-mqtt` plugin, all four keys are required strings;
/// `address`, `username` and `password` are templates.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttAppConfig {
    pub address: String,
    pub username: String,
    pub password: String,
    pub keep_alive_interval: String,
}

impl MqttAppConfig {
    /// `keep_alive_interval` in seconds (validated at load).
    pub fn keep_alive_secs(&self) -> u64 {
        self.keep_alive_interval.trim().parse().unwrap_or(0)
    }
}

/// An entry of `[variables]`: exactly one of `default` and `required = true`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

/// `[[trigger.<type>]]` arrays.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
    #[serde(default)]
    pub cron: Vec<CronTrigger>,
    #[serde(default)]
    pub mqtt: Vec<MqttTrigger>,
}

/// `[[trigger.http]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    pub id: Option<String>,
    pub route: HttpRoute,
    pub component: String,
    pub executor: Option<HttpExecutor>,
}

/// An HTTP trigger's `route`: a path pattern, or `{ private = true }` for a
/// component reachable only through service chaining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpRoute {
    Path(String),
    Private,
}

/// `executor = { type = "…" }`. Parsed so the error can say that `wagi`
/// exists but is not supported here.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum HttpExecutor {
    // A struct variant, so that unknown keys next to `type` are rejected.
    Http {},
    Wagi {
        argv: Option<String>,
        entrypoint: Option<String>,
    },
}

/// `[[trigger.cron]]`: 6-field cron, seconds first, UTC.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronTrigger {
    pub id: Option<String>,
    pub component: String,
    pub cron_expression: String,
}

impl CronTrigger {
    /// The parsed schedule (validated at load).
    pub fn schedule(&self) -> Result<croner::Cron, String> {
        parse_cron_expression(&self.cron_expression)
    }
}

/// Parses a cron expression as the `trigger-cron` plugin does (croner with
/// seconds required, no year field, DOM *and* DOW, and `n/step` accepted as
/// croner 2 did; the plugin's own example is `"1/2 * * * * *"`).
pub fn parse_cron_expression(expression: &str) -> Result<croner::Cron, String> {
    use croner::parser::{CronParser, Seconds, Year};
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Disallowed)
        .dom_and_dow(true)
        .sloppy_ranges(true)
        .build()
        .parse(expression)
        .map_err(|e| e.to_string())
}

/// `[[trigger.mqtt]]`. `qos` is a string, as in the plugin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTrigger {
    pub id: Option<String>,
    pub component: String,
    /// A template over application variables.
    pub topic: String,
    pub qos: String,
}

impl MqttTrigger {
    /// The QoS level, 0 to 2 (validated at load).
    pub fn qos_level(&self) -> u8 {
        parse_qos(&self.qos).unwrap_or(0)
    }
}

fn parse_qos(qos: &str) -> Option<u8> {
    match qos.trim() {
        "0" => Some(0),
        "1" => Some(1),
        "2" => Some(2),
        _ => None,
    }
}

/// `[component.<id>]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// The Wasm file; resolved against the manifest directory after parsing.
    #[serde(deserialize_with = "local_source")]
    pub source: PathBuf,
    pub description: Option<String>,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    /// Templates over application variables.
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub files: Vec<FileMount>,
    /// Component variable name → template over application variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    pub build: Option<BuildConfig>,
}

/// An entry of `files`: a glob, or a directory/file mapped to a guest path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMount {
    Pattern(String),
    Placement { source: String, destination: String },
}

/// `[component.<id>.build]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    /// Commands run in order (a single string is one command).
    #[serde(deserialize_with = "one_or_many")]
    pub command: Vec<String>,
    /// Where to run them; resolved against the manifest directory.
    pub workdir: Option<PathBuf>,
    #[serde(default)]
    pub watch: Vec<String>,
}

/// A manifest that cannot be loaded.
pub type ManifestError = ConfigError;

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        key: key.into(),
        message: message.into(),
        line: None,
    }
}

/// Raw shape of the document, before semantic checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[allow(dead_code)] // checked before this struct is parsed
    spin_manifest_version: toml::Value,
    application: Application,
    #[serde(default)]
    variables: BTreeMap<String, Variable>,
    #[serde(default)]
    trigger: Triggers,
    #[serde(default)]
    component: BTreeMap<String, Component>,
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base_dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self::parse(&text, &base_dir)
    }

    /// Parses and validates manifest `text`; relative paths resolve against
    /// `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Self, ManifestError> {
        check_version(text)?;
        let raw: RawManifest = from_toml(text)?;
        let mut manifest = Manifest {
            base_dir: base_dir.to_path_buf(),
            application: raw.application,
            variables: raw.variables,
            triggers: raw.trigger,
            components: raw.component,
        };
        manifest.validate()?;
        for component in manifest.components.values_mut() {
            component.source = base_dir.join(&component.source);
            if let Some(build) = &mut component.build {
                build.workdir = build.workdir.as_ref().map(|dir| base_dir.join(dir));
            }
        }
        Ok(manifest)
    }

    /// The HTTP route base (`[application.trigger.http] base`, default `/`).
    pub fn http_base(&self) -> &str {
        self.application
            .trigger
            .http
            .as_ref()
            .map_or("/", |http| http.base.as_str())
    }

    fn validate(&self) -> Result<(), ManifestError> {
        for (name, variable) in &self.variables {
            let key = format!("variables.{name}");
            variables::validate_name(name).map_err(|e| invalid(&key, e))?;
            match (&variable.default, variable.required) {
                (Some(_), false) | (None, true) => {}
                (Some(_), true) => {
                    return Err(invalid(key, "set either default or required, not both"))
                }
                (None, false) => return Err(invalid(key, "set either default or required")),
            }
        }

        if let Some(mqtt) = &self.application.trigger.mqtt {
            let key = "application.trigger.mqtt";
            self.check_template(&format!("{key}.address"), &mqtt.address)?;
            self.check_template(&format!("{key}.username"), &mqtt.username)?;
            self.check_template(&format!("{key}.password"), &mqtt.password)?;
            if mqtt.keep_alive_interval.trim().parse::<u64>().is_err() {
                return Err(invalid(
                    format!("{key}.keep_alive_interval"),
                    format!(
                        "must be a whole number of seconds, got {:?}",
                        mqtt.keep_alive_interval
                    ),
                ));
            }
        }

        for (id, component) in &self.components {
            let key = format!("component.{id}");
            validate_component_id(id).map_err(|e| invalid(&key, e))?;
            for (name, template) in &component.variables {
                let var_key = format!("{key}.variables.{name}");
                variables::validate_name(name).map_err(|e| invalid(&var_key, e))?;
                self.check_template(&var_key, template)?;
            }
            for (i, host) in component.allowed_outbound_hosts.iter().enumerate() {
                self.check_template(&format!("{key}.allowed_outbound_hosts[{i}]"), host)?;
            }
            if let Some(build) = &component.build {
                if build.command.is_empty() {
                    return Err(invalid(format!("{key}.build.command"), "no command given"));
                }
            }
        }

        self.validate_triggers()
    }

    fn validate_triggers(&self) -> Result<(), ManifestError> {
        let base = self.http_base();
        for (i, trigger) in self.triggers.http.iter().enumerate() {
            let key = format!("trigger.http[{i}]");
            self.check_component(&key, &trigger.component)?;
            if let HttpRoute::Path(route) = &trigger.route {
                let pattern = RoutePattern::parse(base, route)
                    .map_err(|e| invalid(format!("{key}.route"), e.to_string()))?;
                if pattern.is_reserved() {
                    return Err(invalid(
                        format!("{key}.route"),
                        format!(
                            "{route:?} is under {}, which Spin reserves",
                            crate::routing::WELL_KNOWN_PREFIX
                        ),
                    ));
                }
            }
            if let Some(HttpExecutor::Wagi { .. }) = trigger.executor {
                return Err(invalid(
                    format!("{key}.executor"),
                    "the wagi executor is not supported by the fleetjobs host (use type = \"http\")",
                ));
            }
        }

        for (i, trigger) in self.triggers.cron.iter().enumerate() {
            let key = format!("trigger.cron[{i}]");
            self.check_component(&key, &trigger.component)?;
            self.check_no_chaining("cron", &trigger.component)?;
            trigger.schedule().map_err(|e| {
                invalid(
                    format!("{key}.cron_expression"),
                    format!(
                        "{:?} is not a 6-field cron expression (sec min hour day-of-month month day-of-week): {e}",
                        trigger.cron_expression
                    ),
                )
            })?;
        }

        for (i, trigger) in self.triggers.mqtt.iter().enumerate() {
            let key = format!("trigger.mqtt[{i}]");
            self.check_component(&key, &trigger.component)?;
            self.check_no_chaining("mqtt", &trigger.component)?;
            self.check_template(&format!("{key}.topic"), &trigger.topic)?;
            if parse_qos(&trigger.qos).is_none() {
                return Err(invalid(
                    format!("{key}.qos"),
                    format!("must be \"0\", \"1\" or \"2\", got {:?}", trigger.qos),
                ));
            }
        }
        if !self.triggers.mqtt.is_empty() && self.application.trigger.mqtt.is_none() {
            return Err(invalid(
                "application.trigger.mqtt",
                "missing: [[trigger.mqtt]] needs the broker address, username, password and keep_alive_interval",
            ));
        }
        Ok(())
    }

    fn check_component(&self, trigger_key: &str, component: &str) -> Result<(), ManifestError> {
        if self.components.contains_key(component) {
            Ok(())
        } else {
            Err(invalid(
                format!("{trigger_key}.component"),
                format!("no component {component:?} (expected a [component.{component}] table)"),
            ))
        }
    }

    /// Spin refuses to start an application whose component on a trigger
    /// other than HTTP lists a `*.spin.internal` host: such a host needs
    /// local service chaining, which only the HTTP trigger supports.
    fn check_no_chaining(&self, trigger: &str, component: &str) -> Result<(), ManifestError> {
        let hosts = &self.components[component].allowed_outbound_hosts;
        match hosts
            .iter()
            .position(|entry| crate::outbound::is_chaining_entry(entry))
        {
            None => Ok(()),
            Some(i) => Err(invalid(
                format!("component.{component}.allowed_outbound_hosts[{i}]"),
                format!(
                    "component {component:?} runs on the {trigger} trigger but lists {:?}: \
                     service chaining (*.spin.internal) needs the feature local_service_chaining, \
                     which only the HTTP trigger supports (Spin refuses to start such an \
                     application); call the code directly or move the component to an HTTP route",
                    hosts[i]
                ),
            )),
        }
    }

    /// A template must parse and reference only declared application variables.
    fn check_template(&self, key: &str, text: &str) -> Result<(), ManifestError> {
        let template = Template::parse(text).map_err(|e| invalid(key, e.to_string()))?;
        for name in template.variables() {
            if !self.variables.contains_key(name) {
                return Err(invalid(
                    key,
                    format!("references undefined application variable {name:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// Spin's kebab-case id rule (`spin-serde` `KebabId`): words of ASCII letters
/// and digits joined by single `-`; a word is all lowercase or all uppercase;
/// the first word starts with a letter.
fn validate_component_id(id: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("component id {id:?} must be kebab-case: {why}"));
    if id.is_empty() {
        return fail("it is empty");
    }
    if id.contains('_') {
        return fail("words must be separated with '-', not '_'");
    }
    for (i, word) in id.split('-').enumerate() {
        let Some(first) = word.chars().next() else {
            return fail("'-'-separated words must not be empty");
        };
        if !(first.is_ascii_alphabetic() || (i > 0 && first.is_ascii_digit())) {
            return fail("each word must start with an ASCII letter");
        }
        if !word.chars().all(|c| c.is_ascii_alphanumeric()) {
            return fail("only ASCII letters, digits and '-' are allowed");
        }
        let has_upper = word.chars().any(|c| c.is_ascii_uppercase());
        let has_lower = word.chars().any(|c| c.is_ascii_lowercase());
        if has_upper && has_lower {
            return fail("a word must be all lowercase or all uppercase");
        }
    }
    Ok(())
}

/// Checks `spin_manifest_version` first, so a v1 manifest gets one clear
/// error instead of a cascade of unknown keys.
fn check_version(text: &str) -> Result<(), ManifestError> {
    #[derive(Deserialize)]
    struct Probe {
        spin_manifest_version: Option<toml::Value>,
    }
    let probe: Probe = from_toml(text)?;
    match probe.spin_manifest_version {
        Some(toml::Value::Integer(2)) => Ok(()),
        Some(other) => Err(invalid(
            "spin_manifest_version",
            format!("unsupported manifest version {other}; expected 2"),
        )),
        None => Err(invalid(
            "spin_manifest_version",
            "missing; add `spin_manifest_version = 2`",
        )),
    }
}

// --- string-or-table fields -------------------------------------------------
// Spin uses untagged enums for these; hand-written visitors give errors that
// say what was expected instead of "did not match any variant".

impl<'de> Deserialize<'de> for HttpRoute {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Private {
            private: bool,
        }

        struct RouteVisitor;
        impl<'de> Visitor<'de> for RouteVisitor {
            type Value = HttpRoute;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a route string or { private = true }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HttpRoute, E> {
                Ok(HttpRoute::Path(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<HttpRoute, A::Error> {
                let private = Private::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if private.private {
                    Ok(HttpRoute::Private)
                } else {
                    Err(de::Error::custom(
                        "route must be a string pattern or { private = true }, not { private = false }",
                    ))
                }
            }
        }
        deserializer.deserialize_any(RouteVisitor)
    }
}

impl<'de> Deserialize<'de> for FileMount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Placement {
            source: String,
            destination: String,
        }

        struct FileVisitor;
        impl<'de> Visitor<'de> for FileVisitor {
            type Value = FileMount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a glob pattern or { source = \"…\", destination = \"…\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileMount, E> {
                Ok(FileMount::Pattern(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FileMount, A::Error> {
                let p = Placement::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(FileMount::Placement {
                    source: p.source,
                    destination: p.destination,
                })
            }
        }
        deserializer.deserialize_any(FileVisitor)
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct CommandVisitor;
    impl<'de> Visitor<'de> for CommandVisitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a command string or a list of command strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<String>, A::Error> {
            Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))
        }
    }
    deserializer.deserialize_any(CommandVisitor)
}

fn local_source<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
    struct SourceVisitor;
    impl Visitor<'_> for SourceVisitor {
        type Value = PathBuf;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a local file path (url and registry sources are not supported)")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<PathBuf, E> {
            Ok(PathBuf::from(v))
        }
    }
    deserializer.deserialize_any(SourceVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §4's multi-component example, plus the cron and MQTT triggers.
    const FULL: &str = r#"
spin_manifest_version = 2

[application]
name = "myapp"
version = "0.1.0"
authors = ["Jane <jane@example.com>"]
description = ""

[application.trigger.http]
base = "/"

[application.trigger.mqtt]
address = "{{ mqtt_url }}"
username = ""
password = "{{ db_password }}"
keep_alive_interval = "30"

[variables]
api_host = { default = "example.com" }
db_password = { required = true, secret = true }
mqtt_url = { default = "mqtt://localhost:1883?client_id=fleetjobs" }

[[trigger.http]]
route = "/api/items/..."
component = "items"
[[trigger.http]]
route = "/users/:id"
component = "users"
executor = { type = "http" }
[[trigger.http]]
route = { private = true }
component = "internal"

[[trigger.cron]]
component = "sweeper"
cron_expression = "1/2 * * * * *"

[[trigger.mqtt]]
id = "device-requests"
component = "device-mqtt"
topic = "things/+/jobs/#"
qos = "1"

[component.items]
source = "target/wasm32-wasip2/release/items.wasm"
description = "Items API"
key_value_stores = ["default"]
sqlite_databases = ["default"]
allowed_outbound_hosts = ["mqtt://broker:1883", "https://{{ api_host }}"]
environment = { RUST_LOG = "info" }
files = ["static/**/*", { source = "assets", destination = "/" }]
[component.items.variables]
api_url = "https://{{ api_host }}/v1"
[component.items.build]
command = "cargo build --target wasm32-wasip2 --release"
workdir = "components/items"
watch = ["src/**/*.rs", "Cargo.toml"]

[component.users]
source = "users.wasm"
[component.users.build]
command = ["cargo build", "echo done"]

[component.internal]
source = "internal.wasm"

[component.sweeper]
source = "sweeper.wasm"

[component.device-mqtt]
source = "device_mqtt.wasm"
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("/app"))
    }

    /// Parses `text`, expecting an error about `key` whose message contains `needle`.
    fn expect_error(text: &str, key: &str, needle: &str) -> ManifestError {
        let err = parse(text).expect_err("manifest should be rejected");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{key}: ")),
            "expected key {key:?} in {message:?}"
        );
        assert!(
            message.contains(needle),
            "expected {needle:?} in {message:?}"
        );
        err
    }

    const HEAD: &str = "spin_manifest_version = 2\n[application]\nname = \"t\"\n";

    fn with_head(rest: &str) -> String {
        format!("{HEAD}{rest}")
    }

    #[test]
    fn full_manifest_parses() {
        let m = parse(FULL).unwrap();
        assert_eq!(m.application.name, "myapp");
        assert_eq!(m.application.version.as_deref(), Some("0.1.0"));
        assert_eq!(m.application.authors, ["Jane <jane@example.com>"]);
        assert_eq!(m.http_base(), "/");
        let mqtt = m.application.trigger.mqtt.as_ref().unwrap();
        assert_eq!(mqtt.address, "{{ mqtt_url }}");
        assert_eq!(mqtt.keep_alive_secs(), 30);

        assert_eq!(m.variables.len(), 3);
        assert!(m.variables["db_password"].required && m.variables["db_password"].secret);
        assert_eq!(
            m.variables["api_host"].default.as_deref(),
            Some("example.com")
        );

        assert_eq!(m.triggers.http.len(), 3);
        assert_eq!(
            m.triggers.http[0].route,
            HttpRoute::Path("/api/items/...".into())
        );
        assert_eq!(m.triggers.http[1].executor, Some(HttpExecutor::Http {}));
        assert_eq!(m.triggers.http[2].route, HttpRoute::Private);
        assert_eq!(m.triggers.cron[0].component, "sweeper");
        assert!(m.triggers.cron[0].schedule().is_ok());
        assert_eq!(m.triggers.mqtt[0].id.as_deref(), Some("device-requests"));
        assert_eq!(m.triggers.mqtt[0].qos_level(), 1);

        assert_eq!(m.components.len(), 5);
        let items = &m.components["items"];
        assert_eq!(
            items.source,
            Path::new("/app/target/wasm32-wasip2/release/items.wasm")
        );
        assert_eq!(items.description.as_deref(), Some("Items API"));
        assert_eq!(items.key_value_stores, ["default"]);
        assert_eq!(items.sqlite_databases, ["default"]);
        assert_eq!(items.allowed_outbound_hosts.len(), 2);
        assert_eq!(items.environment["RUST_LOG"], "info");
        assert_eq!(
            items.files,
            [
                FileMount::Pattern("static/**/*".into()),
                FileMount::Placement {
                    source: "assets".into(),
                    destination: "/".into()
                }
            ]
        );
        assert_eq!(items.variables["api_url"], "https://{{ api_host }}/v1");
        let build = items.build.as_ref().unwrap();
        assert_eq!(
            build.command,
            ["cargo build --target wasm32-wasip2 --release"]
        );
        assert_eq!(
            build.workdir.as_deref(),
            Some(Path::new("/app/components/items"))
        );
        assert_eq!(build.watch, ["src/**/*.rs", "Cargo.toml"]);
        assert_eq!(
            m.components["users"].build.as_ref().unwrap().command,
            ["cargo build", "echo done"]
        );
        assert!(m.components.contains_key("device-mqtt"));
    }

    #[test]
    fn project_spin_toml_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
        let manifest = Manifest::load(&path).unwrap();
        assert_eq!(manifest.application.name, "fleetjobs");
        assert_eq!(manifest.base_dir, path.parent().unwrap());
    }

    #[test]
    fn load_reports_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Manifest::load(dir.path().join("spin.toml")).unwrap_err();
        assert!(matches!(err, ManifestError::Read { .. }), "{err}");
        assert!(err.to_string().contains("spin.toml"), "{err}");
    }

    #[test]
    fn load_resolves_sources_against_the_manifest_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spin.toml");
        std::fs::write(&path, with_head("[component.a]\nsource = \"x/a.wasm\"\n")).unwrap();
        let m = Manifest::load(&path).unwrap();
        assert_eq!(m.components["a"].source, dir.path().join("x/a.wasm"));
    }

    #[test]
    fn version_is_checked_first() {
        expect_error(
            "[application]\nname = \"x\"\n",
            "spin_manifest_version",
            "missing",
        );
        expect_error(
            "spin_manifest_version = \"1\"\nname = \"x\"\n[[component]]\nid = \"a\"\n",
            "spin_manifest_version",
            "unsupported manifest version \"1\"",
        );
        expect_error(
            "spin_manifest_version = 3\n",
            "spin_manifest_version",
            "expected 2",
        );
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse("spin_manifest_version = 2\n[application\n").unwrap_err();
        assert!(
            matches!(err, ManifestError::Syntax { line: Some(2), .. }),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let cases = [
            ("[application.trigger.cron]\n", "application.trigger.cron"),
            ("[variables]\nx = { default = \"1\", typo = true }\n", "variables.x.typo"),
            ("[[trigger.redis]]\ncomponent = \"a\"\n", "trigger.redis"),
            (
                "[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\nmethod = \"GET\"\n",
                "trigger.http[0].method",
            ),
            (
                "[component.a]\nsource = \"a.wasm\"\nai_models = []\n",
                "component.a.ai_models",
            ),
            (
                "[component.a]\nsource = \"a.wasm\"\n[component.a.build]\ncommand = \"x\"\ncwd = \".\"\n",
                "component.a.build.cwd",
            ),
            (
                "[component.a]\nsource = \"a.wasm\"\nfiles = [{ source = \"a\", destination = \"/\", mode = 1 }]\n",
                "component.a.files[0].mode",
            ),
            (
                "[[trigger.http]]\nroute = { private = true, public = false }\ncomponent = \"a\"\n",
                "trigger.http[0].route.public",
            ),
        ];
        for (rest, key) in cases {
            let err = parse(&with_head(rest)).expect_err(rest);
            let ManifestError::Invalid {
                key: got,
                message,
                line,
            } = &err
            else {
                panic!("{rest}: {err:?}");
            };
            assert_eq!(got, key, "{rest}: {err}");
            assert!(message.contains("unknown"), "{rest}: {err}");
            assert!(line.is_some(), "{rest}: {err}");
        }

        // A top-level key.
        let err = parse("spin_manifest_version = 2\nbogus = 1\n[application]\nname = \"t\"\n")
            .unwrap_err();
        assert_eq!(err.key(), Some("bogus"), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn type_errors_are_named_with_their_path() {
        expect_error(
            &with_head(
                "[component.a]\nsource = { url = \"https://x/a.wasm\", digest = \"sha256:0\" }\n",
            ),
            "component.a.source",
            "local file path",
        );
        expect_error(
            &with_head("[[trigger.mqtt]]\ncomponent = \"a\"\ntopic = \"t\"\nqos = 1\n"),
            "trigger.mqtt[0].qos",
            "expected a string",
        );
        expect_error(
            &with_head("[variables]\nx = { default = 5 }\n"),
            "variables.x.default",
            "expected a string",
        );
        expect_error(
            &with_head("[[trigger.http]]\nroute = 7\ncomponent = \"a\"\n"),
            "trigger.http[0].route",
            "a route string or { private = true }",
        );
        expect_error(
            &with_head("[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\nexecutor = { type = \"cgi\" }\n"),
            "trigger.http[0].executor.type",
            "unknown variant `cgi`",
        );
        expect_error(
            &with_head(
                "[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\nexecutor = { type = \"http\", argv = \"x\" }\n",
            ),
            "trigger.http[0].executor",
            "unknown field `argv`",
        );
        expect_error(
            &with_head("[component.a]\nsource = \"a.wasm\"\n[component.a.build]\ncommand = 1\n"),
            "component.a.build.command",
            "command string",
        );
        expect_error(
            &with_head("[[trigger.cron]]\ncomponent = \"a\"\n"),
            "trigger.cron[0]",
            "cron_expression",
        );
        expect_error(
            "spin_manifest_version = 2\n[application]\nversion = \"1\"\n",
            "application",
            "missing field `name`",
        );
    }

    #[test]
    fn triggers_must_reference_components() {
        let text = with_head(
            "[[trigger.http]]\nroute = \"/a\"\ncomponent = \"a\"\n\
             [[trigger.http]]\nroute = \"/b\"\ncomponent = \"a\"\n\
             [[trigger.http]]\nroute = \"/c\"\ncomponent = \"foo\"\n\
             [component.a]\nsource = \"a.wasm\"\n",
        );
        let err = expect_error(&text, "trigger.http[2].component", "no component \"foo\"");
        assert_eq!(err.key(), Some("trigger.http[2].component"));

        expect_error(
            &with_head("[[trigger.cron]]\ncomponent = \"x\"\ncron_expression = \"0 * * * * *\"\n"),
            "trigger.cron[0].component",
            "no component \"x\"",
        );
        expect_error(
            &with_head(
                "[application.trigger.mqtt]\naddress = \"mqtt://h\"\nusername = \"\"\npassword = \"\"\nkeep_alive_interval = \"30\"\n\
                 [[trigger.mqtt]]\ncomponent = \"x\"\ntopic = \"t\"\nqos = \"0\"\n",
            ),
            "trigger.mqtt[0].component",
            "no component \"x\"",
        );
    }

    #[test]
    fn variable_declarations_are_checked() {
        expect_error(
            &with_head("[variables]\na_b = {}\n"),
            "variables.a_b",
            "set either default or required",
        );
        expect_error(
            &with_head("[variables]\na_b = { required = false }\n"),
            "variables.a_b",
            "set either default or required",
        );
        expect_error(
            &with_head("[variables]\na_b = { default = \"x\", required = true }\n"),
            "variables.a_b",
            "not both",
        );
        expect_error(
            &with_head("[variables]\nApiToken = { default = \"x\" }\n"),
            "variables.ApiToken",
            "lowercase",
        );
        expect_error(
            &with_head("[variables]\na__b = { default = \"x\" }\n"),
            "variables.a__b",
            "'__'",
        );
    }

    #[test]
    fn templates_must_reference_declared_variables() {
        let component = "[component.api]\nsource = \"api.wasm\"\n";
        expect_error(
            &with_head(&format!(
                "[variables]\nz = {{ default = \"1\" }}\n{component}[component.api.variables]\nx = \"{{{{ y }}}}\"\n"
            )),
            "component.api.variables.x",
            "references undefined application variable \"y\"",
        );
        expect_error(
            &with_head(&format!(
                "{component}[component.api.variables]\nx = \"{{{{ y\"\n"
            )),
            "component.api.variables.x",
            "unclosed",
        );
        expect_error(
            &with_head(&format!(
                "{component}[component.api.variables]\nBad = \"1\"\n"
            )),
            "component.api.variables.Bad",
            "lowercase",
        );
        expect_error(
            &with_head(&format!(
                "{component}allowed_outbound_hosts = [\"mqtt://a\", \"https://{{{{ host }}}}\"]\n"
            )),
            "component.api.allowed_outbound_hosts[1]",
            "\"host\"",
        );
        expect_error(
            &with_head(
                "[application.trigger.mqtt]\naddress = \"{{ broker }}\"\nusername = \"\"\npassword = \"\"\nkeep_alive_interval = \"30\"\n",
            ),
            "application.trigger.mqtt.address",
            "\"broker\"",
        );
        expect_error(
            &with_head(&format!(
                "[application.trigger.mqtt]\naddress = \"mqtt://h\"\nusername = \"\"\npassword = \"\"\nkeep_alive_interval = \"30\"\n\
                 [[trigger.mqtt]]\ncomponent = \"api\"\ntopic = \"{{{{ prefix }}}}/#\"\nqos = \"0\"\n{component}"
            )),
            "trigger.mqtt[0].topic",
            "\"prefix\"",
        );
    }

    #[test]
    fn component_ids_must_be_kebab_case() {
        for bad in ["my_comp", "My-comp", "-a", "a-", "a--b", "1a", "a.b"] {
            let text = with_head(&format!("[component.\"{bad}\"]\nsource = \"a.wasm\"\n"));
            expect_error(&text, &format!("component.{bad}"), "kebab-case");
        }
        for good in ["a", "my-comp", "api-v1", "comp-2", "HTTP-api"] {
            let text = with_head(&format!("[component.{good}]\nsource = \"a.wasm\"\n"));
            parse(&text).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn trigger_settings_are_checked() {
        let component = "[component.a]\nsource = \"a.wasm\"\n";
        expect_error(
            &with_head(&format!("[[trigger.cron]]\ncomponent = \"a\"\ncron_expression = \"*/5 * * * *\"\n{component}")),
            "trigger.cron[0].cron_expression",
            "6-field",
        );
        expect_error(
            &with_head(&format!("[[trigger.cron]]\ncomponent = \"a\"\ncron_expression = \"0 0 0 1 1 * 2030\"\n{component}")),
            "trigger.cron[0].cron_expression",
            "6-field",
        );
        let mqtt_app = "[application.trigger.mqtt]\naddress = \"mqtt://h\"\nusername = \"\"\npassword = \"\"\nkeep_alive_interval = \"30\"\n";
        expect_error(
            &with_head(&format!("{mqtt_app}[[trigger.mqtt]]\ncomponent = \"a\"\ntopic = \"t\"\nqos = \"3\"\n{component}")),
            "trigger.mqtt[0].qos",
            "\"3\"",
        );
        expect_error(
            &with_head(&format!(
                "[[trigger.mqtt]]\ncomponent = \"a\"\ntopic = \"t\"\nqos = \"0\"\n{component}"
            )),
            "application.trigger.mqtt",
            "missing",
        );
        expect_error(
            &with_head(&format!(
                "{}{component}",
                mqtt_app.replace("\"30\"", "\"soon\"")
            )),
            "application.trigger.mqtt.keep_alive_interval",
            "\"soon\"",
        );
        expect_error(
            &with_head(&format!(
                "[[trigger.http]]\nroute = {{ private = false }}\ncomponent = \"a\"\n{component}"
            )),
            "trigger.http[0].route",
            "private = false",
        );
        expect_error(
            &with_head(&format!(
                "[[trigger.http]]\nroute = \"/a/.../b\"\ncomponent = \"a\"\n{component}"
            )),
            "trigger.http[0].route",
            "wildcard",
        );
        expect_error(
            &with_head(&format!(
                "[[trigger.http]]\nroute = \"/.well-known/spin/x\"\ncomponent = \"a\"\n{component}"
            )),
            "trigger.http[0].route",
            "reserve",
        );
        expect_error(
            &with_head(&format!("[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\nexecutor = {{ type = \"wagi\" }}\n{component}")),
            "trigger.http[0].executor",
            "wagi",
        );
        expect_error(
            &with_head(&format!("{component}[component.a.build]\ncommand = []\n")),
            "component.a.build.command",
            "no command",
        );
    }

    #[test]
    fn cron_parser_matches_the_plugin() {
        for good in [
            "0 */5 * * * *",
            "1/2 * * * * *",
            "0 0 12 * * MON-FRI",
            "@hourly",
            "0 0 0 ? * *",
        ] {
            assert!(parse_cron_expression(good).is_ok(), "{good}");
        }
        for bad in ["*/5 * * * *", "0 0 0 1 1 * 2030", "", "61 * * * * *"] {
            assert!(parse_cron_expression(bad).is_err(), "{bad}");
        }
    }
}
