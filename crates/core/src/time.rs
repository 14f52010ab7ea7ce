//! Time as plain data. The core never reads a clock: every function that needs
//! "now" takes it as an argument, so the sweeper, the test clock and the
//! property tests all drive time from outside.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

pub const MINUTE_MS: i64 = 60_000;
pub const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

impl Timestamp {
    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs * 1000)
    }

    /// Whole epoch seconds: what the device protocol sends.
    pub fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus_minutes(self, minutes: i64) -> Self {
        Timestamp(self.0.saturating_add(minutes.saturating_mul(MINUTE_MS)))
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        Timestamp(dt.timestamp_millis())
    }

    /// RFC 3339 with millisecond precision, as the control-plane API shows it.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Accepts RFC 3339 (`2026-11-26T12:00:00Z`) and AWS's scheduling format
    /// `YYYY-MM-DDTHH:MM` (also with a space instead of `T`), read as UTC.
    pub fn parse(text: &str) -> Option<Self> {
        if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            return Some(Timestamp::from_datetime(dt.with_timezone(&Utc)));
        }
        ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|naive| Timestamp::from_datetime(naive.and_utc()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_formats_as_utc() {
        let rfc = Timestamp::parse("2026-11-26T12:00:00Z").unwrap();
        assert_eq!(Timestamp::parse("2026-11-26T12:00"), Some(rfc));
        assert_eq!(Timestamp::parse("2026-11-26 12:00"), Some(rfc));
        assert_eq!(rfc.to_rfc3339(), "2026-11-26T12:00:00.000Z");
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn seconds_round_down() {
        assert_eq!(Timestamp(1_999).as_secs(), 1);
        assert_eq!(Timestamp(-1).as_secs(), -1);
    }
}
