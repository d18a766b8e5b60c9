//! Durations as Vault writes and reads them: `24h`, `1h30m`, `90s`, `7d` or a
//! number of seconds. Vault answers with seconds; documents may use either.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Parses a Vault duration into seconds: a plain number of seconds, or a
/// sequence of `<number><unit>` with units `s`, `m`, `h`, `d`.
///
/// ```
/// use flotilla_vault::parse_duration;
///
/// assert_eq!(parse_duration("24h"), Ok(86_400));
/// assert_eq!(parse_duration("1h30m"), Ok(5_400));
/// assert_eq!(parse_duration("90"), Ok(90));
/// assert_eq!(parse_duration("2d"), Ok(172_800));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(secs);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut saw_unit = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "{text:?} is not a duration (use e.g. 90s, 15m, 24h, 7d)"
                ))
            }
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration: a unit without a number"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{text:?} is too long"))?;
        number.clear();
        saw_unit = true;
    }
    if !number.is_empty() || !saw_unit {
        return Err(format!(
            "{text:?} is not a duration: a number without a unit"
        ));
    }
    Ok(total)
}

/// A duration in whole seconds that reads from `24h` or `86400` and writes
/// as seconds, as Vault does.
///
/// ```
/// use flotilla_vault::Seconds;
///
/// let ttl: Seconds = serde_yaml_ng::from_str("24h").unwrap();
/// assert_eq!(ttl, Seconds(86_400));
/// assert_eq!(ttl.to_string(), "24h");
/// assert_eq!(Seconds(5_400).to_string(), "1h30m");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(pub u64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("h", 3_600), ("m", 60), ("s", 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(Seconds(n)),
            Raw::Text(t) => parse_duration(&t)
                .map(Seconds)
                .map_err(serde::de::Error::custom),
        }
    }
}
