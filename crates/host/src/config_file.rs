//! Errors and strict TOML reading shared by `spin.toml` and the runtime
//! config: every error names the key it is about, and the line when known.

use std::path::PathBuf;

use serde::de::DeserializeOwned;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML at all.
    #[error("invalid TOML{}: {message}", at_line(*line))]
    Syntax {
        message: String,
        line: Option<usize>,
    },
    /// TOML, but not a valid file of its kind; `key` is the path of the
    /// culprit (`trigger.http[2].component`, `component.api.key_value_stores`).
    #[error("{}", invalid_message(key, message, *line))]
    Invalid {
        key: String,
        message: String,
        line: Option<usize>,
    },
}

impl ConfigError {
    /// The key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

fn invalid_message(key: &str, message: &str, line: Option<usize>) -> String {
    let at = at_line(line);
    if key.is_empty() {
        format!("{message}{at}")
    } else {
        format!("{key}: {message}{at}")
    }
}

/// Deserializes a TOML document, recording the key path of any error (toml's
/// own messages say what is wrong but not where in the tree).
pub(crate) fn from_toml<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let line_of = |error: &toml::de::Error| {
        error
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1)
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
        message: e.message().trim().to_string(),
        line: line_of(&e),
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| ConfigError::Invalid {
        key: key_path(e.path()),
        message: e.inner().message().trim().to_string(),
        line: line_of(e.inner()),
    })
}

fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}
