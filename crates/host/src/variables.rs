//! Spin variables (`fermyon:spin/variables`), as `crates/factor-variables` and
//! `crates/expressions` resolve them.
//!
//! Application variables (`[variables]`) take their value from the environment
//! provider (`SPIN_VARIABLE_<UPPERCASE_NAME>`) or else their `default`; a
//! `required` variable with neither is a load error. Component variables
//! (`[component.<id>.variables]`) are templates over application variables and
//! are what a guest's `get(name)` returns. Everything is resolved once, at load,
//! so a bad configuration fails at start rather than on some later request.

use std::collections::BTreeMap;
use std::fmt;

use crate::manifest::Manifest;

/// Prefix of the environment variables the (always present) env provider reads.
pub const ENV_PREFIX: &str = "SPIN_VARIABLE_";

/// The environment variable that overrides application variable `name`.
pub fn env_var_name(name: &str) -> String {
    format!("{ENV_PREFIX}{}", name.to_ascii_uppercase())
}

/// Checks a variable name against Spin's rules: lowercase ASCII letters, digits
/// and `_`; starts with a letter, ends with a letter or digit, no `__`.
/// The error says which rule is broken.
pub fn validate_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("a variable name must not be empty".into());
    };
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!(
            "{name:?}: variable names may only contain lowercase ASCII letters, digits and '_' (found {bad:?})"
        ));
    }
    if !first.is_ascii_lowercase() {
        return Err(format!(
            "{name:?}: a variable name must start with a letter"
        ));
    }
    if name.ends_with('_') {
        return Err(format!(
            "{name:?}: a variable name must end with a letter or digit"
        ));
    }
    if name.contains("__") {
        return Err(format!("{name:?}: a variable name must not contain '__'"));
    }
    Ok(())
}

/// A parsed template: literal text with `{{ name }}` references to application
/// variables (Spin's `expressions::Template`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

/// Why a template could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed '{{{{' in template {0:?}")]
    Unclosed(String),
    #[error("invalid variable reference: {0}")]
    InvalidName(String),
    #[error("references undefined application variable {0:?}")]
    Undefined(String),
}

impl Template {
    /// Parses `text`; every `{{ … }}` must hold a valid variable name.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after_open) = rest.strip_prefix("{{") {
                let (expr, after_close) = after_open
                    .split_once("}}")
                    .ok_or_else(|| TemplateError::Unclosed(text.to_string()))?;
                let name = expr.trim();
                validate_name(name).map_err(TemplateError::InvalidName)?;
                parts.push(Part::Variable(name.to_string()));
                rest = after_close;
            } else {
                let end = rest.find("{{").unwrap_or(rest.len());
                parts.push(Part::Literal(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        Ok(Self { parts })
    }

    /// The application variables the template references, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Variable(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Substitutes every reference using `lookup`.
    pub fn render<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(name) => out
                    .push_str(lookup(name).ok_or_else(|| TemplateError::Undefined(name.clone()))?),
            }
        }
        Ok(out)
    }
}

/// A failure to resolve the application's variables at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariablesError {
    /// Required application variables with no value from any provider.
    #[error("{}", missing_message(.0))]
    MissingRequired(Vec<String>),
    /// A template (named by its manifest key) that does not render.
    #[error("{key}: {error}")]
    Template { key: String, error: TemplateError },
}

fn missing_message(names: &[String]) -> String {
    let list: Vec<String> = names
        .iter()
        .map(|name| format!("variables.{name} (set {})", env_var_name(name)))
        .collect();
    format!("required application variable not set: {}", list.join(", "))
}

/// The error a guest's `variables.get` sees (WIT `variables.error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetError {
    #[error("invalid variable name: {0}")]
    InvalidName(String),
    #[error("no variable for {0:?}")]
    Undefined(String),
}

/// Every variable of the application, resolved.
#[derive(Clone)]
pub struct Variables {
    application: BTreeMap<String, String>,
    components: BTreeMap<String, BTreeMap<String, String>>,
}

// Values may be secrets (`secret = true`, tokens): never print them.
impl fmt::Debug for Variables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Variables")
            .field("application", &self.application.keys().collect::<Vec<_>>())
            .field(
                "components",
                &self
                    .components
                    .iter()
                    .map(|(id, vars)| (id, vars.keys().collect::<Vec<_>>()))
                    .collect::<BTreeMap<_, _>>(),
            )
            .finish()
    }
}

impl Variables {
    /// Resolves all variables of `manifest`. `env` looks up an environment
    /// variable (injected so tests need not touch the process environment).
    pub fn resolve(
        manifest: &Manifest,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, VariablesError> {
        let mut application = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, variable) in &manifest.variables {
            // Providers come first, the default is the fallback (as in Spin).
            match env(&env_var_name(name)).or_else(|| variable.default.clone()) {
                Some(value) => {
                    application.insert(name.clone(), value);
                }
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(VariablesError::MissingRequired(missing));
        }

        let mut components = BTreeMap::new();
        for (id, component) in &manifest.components {
            let mut resolved = BTreeMap::new();
            for (name, text) in &component.variables {
                let key = format!("component.{id}.variables.{name}");
                let value = render_with(&application, text)
                    .map_err(|error| VariablesError::Template { key, error })?;
                resolved.insert(name.clone(), value);
            }
            components.insert(id.clone(), resolved);
        }
        Ok(Self {
            application,
            components,
        })
    }

    /// [`Variables::resolve`] with the process environment.
    pub fn from_process_env(manifest: &Manifest) -> Result<Self, VariablesError> {
        Self::resolve(manifest, |key| std::env::var(key).ok())
    }

    /// What component `component_id`'s `variables.get(name)` returns.
    pub fn get(&self, component_id: &str, name: &str) -> Result<&str, GetError> {
        validate_name(name).map_err(GetError::InvalidName)?;
        self.components
            .get(component_id)
            .and_then(|vars| vars.get(name))
            .map(String::as_str)
            .ok_or_else(|| GetError::Undefined(name.to_string()))
    }

    /// The resolved value of application variable `name`.
    pub fn application(&self, name: &str) -> Option<&str> {
        self.application.get(name).map(String::as_str)
    }

    /// Renders a template over application variables: used for
    /// `[application.trigger.mqtt]`, MQTT topics and `allowed_outbound_hosts`.
    pub fn render(&self, template: &str) -> Result<String, TemplateError> {
        render_with(&self.application, template)
    }
}

fn render_with(values: &BTreeMap<String, String>, text: &str) -> Result<String, TemplateError> {
    Template::parse(text)?.render(|name| values.get(name).map(String::as_str))
}

/// `fermyon:spin/variables@2.0.0` for the calling component.
impl crate::bindings::fermyon::spin::variables::Host for crate::app::HostState {
    async fn get(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<String, crate::bindings::fermyon::spin::variables::Error>> {
        use crate::bindings::fermyon::spin::variables::Error;
        Ok(match self.app.variables.get(&self.component.id, &name) {
            Ok(value) => Ok(value.to_owned()),
            Err(GetError::InvalidName(message)) => Err(Error::InvalidName(message)),
            Err(GetError::Undefined(message)) => Err(Error::Undefined(message)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text, Path::new("/app")).unwrap()
    }

    const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "vars"

[variables]
api_host = { default = "example.com" }
db_password = { required = true, secret = true }
batch_size = { default = "100" }

[component.api]
source = "api.wasm"
[component.api.variables]
api_url = "https://{{ api_host }}/v1"
password = "{{db_password}}"
literal = "plain"

[component.other]
source = "other.wasm"
"#;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn defaults_apply_and_env_overrides() {
        let vars = Variables::resolve(
            &manifest(APP),
            env_of(&[
                ("SPIN_VARIABLE_DB_PASSWORD", "s3cret"),
                ("SPIN_VARIABLE_BATCH_SIZE", "7"),
            ]),
        )
        .unwrap();
        assert_eq!(vars.application("api_host"), Some("example.com"));
        assert_eq!(vars.application("batch_size"), Some("7"));
        assert_eq!(vars.get("api", "api_url"), Ok("https://example.com/v1"));
        assert_eq!(vars.get("api", "password"), Ok("s3cret"));
        assert_eq!(vars.get("api", "literal"), Ok("plain"));
    }

    #[test]
    fn env_override_may_be_empty() {
        let vars = Variables::resolve(
            &manifest(APP),
            env_of(&[
                ("SPIN_VARIABLE_DB_PASSWORD", ""),
                ("SPIN_VARIABLE_API_HOST", ""),
            ]),
        )
        .unwrap();
        assert_eq!(vars.get("api", "api_url"), Ok("https:///v1"));
        assert_eq!(vars.get("api", "password"), Ok(""));
    }

    #[test]
    fn missing_required_variable_is_named() {
        let err = Variables::resolve(&manifest(APP), env_of(&[])).unwrap_err();
        assert_eq!(
            err,
            VariablesError::MissingRequired(vec!["db_password".into()])
        );
        let message = err.to_string();
        assert!(message.contains("variables.db_password"), "{message}");
        assert!(message.contains("SPIN_VARIABLE_DB_PASSWORD"), "{message}");
    }

    #[test]
    fn get_distinguishes_undefined_and_invalid_names() {
        let vars = Variables::resolve(
            &manifest(APP),
            env_of(&[("SPIN_VARIABLE_DB_PASSWORD", "x")]),
        )
        .unwrap();
        // Application variables are not visible to guests unless mapped.
        assert_eq!(
            vars.get("api", "api_host"),
            Err(GetError::Undefined("api_host".into()))
        );
        assert_eq!(
            vars.get("other", "api_url"),
            Err(GetError::Undefined("api_url".into()))
        );
        assert_eq!(
            vars.get("nope", "api_url"),
            Err(GetError::Undefined("api_url".into()))
        );
        for bad in ["", "API_URL", "1abc", "_abc", "abc_", "a__b", "a-b", "a.b"] {
            assert!(
                matches!(vars.get("api", bad), Err(GetError::InvalidName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn name_rules() {
        for good in ["a", "abc", "a1", "a_b", "a_1", "api_token", "x9_y8"] {
            assert_eq!(validate_name(good), Ok(()), "{good:?}");
        }
        for bad in ["", "A", "aB", "1a", "_a", "a_", "a__b", "a-b", "a b", "é"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn template_parsing_and_rendering() {
        let t = Template::parse("mqtt://{{ host }}:{{port}}?client_id={{ id }}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["host", "port", "id"]);
        let values = BTreeMap::from([
            ("host".to_string(), "broker".to_string()),
            ("port".to_string(), "1883".to_string()),
            ("id".to_string(), "c1".to_string()),
        ]);
        assert_eq!(
            t.render(|n| values.get(n).map(String::as_str)).unwrap(),
            "mqtt://broker:1883?client_id=c1"
        );

        assert_eq!(Template::parse("").unwrap().render(|_| None).unwrap(), "");
        assert_eq!(
            Template::parse("a }} b").unwrap().render(|_| None).unwrap(),
            "a }} b"
        );
        assert!(matches!(
            Template::parse("x {{ host"),
            Err(TemplateError::Unclosed(_))
        ));
        assert!(matches!(
            Template::parse("{{ Host }}"),
            Err(TemplateError::InvalidName(_))
        ));
        assert!(matches!(
            Template::parse("{{}}"),
            Err(TemplateError::InvalidName(_))
        ));
        assert_eq!(
            Template::parse("{{ nope }}").unwrap().render(|_| None),
            Err(TemplateError::Undefined("nope".into()))
        );
    }

    #[test]
    fn render_uses_application_variables() {
        let vars = Variables::resolve(
            &manifest(APP),
            env_of(&[("SPIN_VARIABLE_DB_PASSWORD", "pw")]),
        )
        .unwrap();
        assert_eq!(
            vars.render("https://{{ api_host }}").unwrap(),
            "https://example.com"
        );
        assert_eq!(
            vars.render("{{ missing }}"),
            Err(TemplateError::Undefined("missing".into()))
        );
    }

    #[test]
    fn debug_output_hides_values() {
        let vars = Variables::resolve(
            &manifest(APP),
            env_of(&[("SPIN_VARIABLE_DB_PASSWORD", "hunter2")]),
        )
        .unwrap();
        let debug = format!("{vars:?}");
        assert!(debug.contains("db_password"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn env_var_names_are_uppercased() {
        assert_eq!(env_var_name("api_token"), "SPIN_VARIABLE_API_TOKEN");
    }
}
