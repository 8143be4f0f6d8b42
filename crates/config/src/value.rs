//! Value syntax of the parameter kinds.
//!
//! Each function takes an already expanded, trimmed value and returns the
//! typed value or a reason in words (the caller adds file, line and
//! parameter). They are public so that programs can accept the same syntax
//! elsewhere, for example on the command line.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::cidr::Cidr;

/// The unit of a time value, and the unit a parameter assumes when the value
/// has none (`maximal_queue_lifetime = 5` means five days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `s`
    Seconds,
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
    /// `w`
    Weeks,
}

impl TimeUnit {
    /// The suffix letter that names this unit.
    pub fn suffix(self) -> char {
        match self {
            TimeUnit::Seconds => 's',
            TimeUnit::Minutes => 'm',
            TimeUnit::Hours => 'h',
            TimeUnit::Days => 'd',
            TimeUnit::Weeks => 'w',
        }
    }

    /// The number of seconds in one of this unit.
    pub fn seconds(self) -> u64 {
        match self {
            TimeUnit::Seconds => 1,
            TimeUnit::Minutes => 60,
            TimeUnit::Hours => 60 * 60,
            TimeUnit::Days => 24 * 60 * 60,
            TimeUnit::Weeks => 7 * 24 * 60 * 60,
        }
    }

    /// The unit a suffix letter names (either case), if any.
    pub fn from_suffix(c: char) -> Option<TimeUnit> {
        match c.to_ascii_lowercase() {
            's' => Some(TimeUnit::Seconds),
            'm' => Some(TimeUnit::Minutes),
            'h' => Some(TimeUnit::Hours),
            'd' => Some(TimeUnit::Days),
            'w' => Some(TimeUnit::Weeks),
            _ => None,
        }
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.suffix())
    }
}

/// Any text, unchanged.
pub fn parse_string(text: &str) -> Result<String, String> {
    Ok(text.to_owned())
}

/// An absolute path; empty is an error.
pub fn parse_path(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("empty value; an absolute path is required".to_owned());
    }
    let path = PathBuf::from(text);
    if !path.is_absolute() {
        return Err(format!("{text:?} is not an absolute path"));
    }
    // `$config_directory/../run` is written for convenience; programs get the plain
    // path, since code that guards against `..` (the mail store) must not see one.
    let mut clean = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    Ok(clean)
}

/// An absolute path, or empty for "not set".
pub fn parse_optional_path(text: &str) -> Result<Option<PathBuf>, String> {
    if text.is_empty() {
        Ok(None)
    } else {
        parse_path(text).map(Some)
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn paths_are_made_plain() {
        let cases = [
            ("/etc/postern/../run/spool", "/etc/run/spool"),
            ("/a/./b/", "/a/b"),
            ("/..", "/"),
            ("/var/spool/postern", "/var/spool/postern"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_path(input).unwrap(), PathBuf::from(want), "{input}");
        }
        assert!(parse_path("run/spool").is_err());
    }
}

/// `yes`/`no`, also `true`/`false` and `1`/`0`, in any case.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => Err(format!("invalid boolean {text:?} (expected yes or no)")),
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_int<T: FromStr + fmt::Display>(text: &str, max: T) -> Result<T, String> {
    if !is_digits(text) {
        return Err(format!("invalid number {text:?}"));
    }
    text.parse()
        .map_err(|_| format!("number {text} is too large (at most {max})"))
}

/// A decimal integer that fits in 32 bits.
pub fn parse_u32(text: &str) -> Result<u32, String> {
    parse_int(text, u32::MAX)
}

/// A decimal integer that fits in 64 bits.
pub fn parse_u64(text: &str) -> Result<u64, String> {
    parse_int(text, u64::MAX)
}

/// A size in bytes: a decimal integer, optionally followed by `k`, `m` or
/// `g` (times 1024, 1024², 1024³; either case).
///
/// Postfix takes plain bytes only; the suffixes are a convenience and are
/// exact (no rounding, overflow is an error).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, multiplier): (&str, u64) = if let Some(d) = text.strip_suffix(['k', 'K']) {
        (d, 1 << 10)
    } else if let Some(d) = text.strip_suffix(['m', 'M']) {
        (d, 1 << 20)
    } else if let Some(d) = text.strip_suffix(['g', 'G']) {
        (d, 1 << 30)
    } else {
        (text, 1)
    };
    if !is_digits(digits) {
        return Err(format!("invalid size {text:?}"));
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// A time: a decimal integer, optionally followed by a unit letter `s`, `m`,
/// `h`, `d` or `w`; without a letter the parameter's `default_unit` applies.
pub fn parse_duration(text: &str, default_unit: TimeUnit) -> Result<Duration, String> {
    let invalid = || {
        format!("invalid time {text:?} (expected a number with an optional unit s, m, h, d or w)")
    };
    let (digits, unit) = match text.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let unit = TimeUnit::from_suffix(c).ok_or_else(invalid)?;
            (text.strip_suffix(c).unwrap_or_default(), unit)
        }
        _ => (text, default_unit),
    };
    if !is_digits(digits) {
        return Err(invalid());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit.seconds()))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("time {text:?} is too large"))
}

/// A list: items separated by commas and/or white space; empty items are
/// dropped.
pub fn parse_list(text: &str) -> Result<Vec<String>, String> {
    Ok(text
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect())
}

/// A list of networks, as [`Cidr`] accepts them (`mynetworks`).
pub fn parse_cidr_list(text: &str) -> Result<Vec<Cidr>, String> {
    parse_list(text)?
        .iter()
        .map(|item| item.parse::<Cidr>().map_err(|e| e.to_string()))
        .collect()
}

/// A list of address families for `inet_protocols`: `all`, `ipv4`, `ipv6`
/// (any case; returned in lower case). An empty list is an error.
pub fn parse_protocols(text: &str) -> Result<Vec<String>, String> {
    let items = parse_list(text)?;
    if items.is_empty() {
        return Err("empty protocol list (expected all, ipv4 or ipv6)".to_owned());
    }
    items
        .into_iter()
        .map(|item| {
            let lower = item.to_ascii_lowercase();
            match lower.as_str() {
                "all" | "ipv4" | "ipv6" => Ok(lower),
                _ => Err(format!(
                    "invalid protocol {item:?} (expected all, ipv4 or ipv6)"
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bool_values() {
        let cases: &[(&str, &str, Option<bool>)] = &[
            ("yes", "yes", Some(true)),
            ("no", "no", Some(false)),
            ("upper_yes", "YES", Some(true)),
            ("true", "true", Some(true)),
            ("false_mixed_case", "False", Some(false)),
            ("one", "1", Some(true)),
            ("zero", "0", Some(false)),
            ("empty", "", None),
            ("two", "2", None),
            ("y_abbreviation", "y", None),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_bool(input).ok(), *want, "case {name}");
        }
        assert_eq!(
            parse_bool("maybe").unwrap_err(),
            "invalid boolean \"maybe\" (expected yes or no)"
        );
    }

    #[test]
    fn integer_values() {
        assert_eq!(parse_u32("0"), Ok(0));
        assert_eq!(parse_u32("4294967295"), Ok(u32::MAX));
        assert_eq!(
            parse_u32("4294967296").unwrap_err(),
            "number 4294967296 is too large (at most 4294967295)"
        );
        assert_eq!(parse_u64("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_u64("18446744073709551616").is_err());
        for bad in ["", "-1", "+1", "1.5", " 1", "1k", "0x10"] {
            assert!(parse_u32(bad).is_err(), "case {bad:?}");
        }
    }

    #[test]
    fn size_values() {
        let cases: &[(&str, &str, Option<u64>)] = &[
            ("plain", "10240000", Some(10_240_000)),
            ("zero", "0", Some(0)),
            ("kilo", "10k", Some(10 * 1024)),
            ("kilo_upper", "10K", Some(10 * 1024)),
            ("mega", "10m", Some(10 * 1024 * 1024)),
            ("giga", "2G", Some(2 * 1024 * 1024 * 1024)),
            ("max", "18446744073709551615", Some(u64::MAX)),
            ("max_plus_one", "18446744073709551616", None),
            ("suffix_overflow", "17179869184g", None),
            (
                "suffix_just_fits",
                "17179869183g",
                Some(17_179_869_183 << 30),
            ),
            ("bad_suffix", "10x", None),
            ("suffix_only", "k", None),
            ("two_suffixes", "1kk", None),
            ("kb", "1kb", None),
            ("negative", "-1", None),
            ("empty", "", None),
            ("fraction", "1.5m", None),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_size(input).ok(), *want, "case {name}");
        }
        assert_eq!(parse_size("10x").unwrap_err(), "invalid size \"10x\"");
    }

    #[test]
    fn duration_values() {
        use TimeUnit::*;
        let cases: &[(&str, &str, TimeUnit, Option<u64>)] = &[
            ("seconds_suffix", "60s", Seconds, Some(60)),
            ("minutes", "5m", Seconds, Some(300)),
            ("hours", "2h", Seconds, Some(7200)),
            ("days", "5d", Seconds, Some(5 * 86400)),
            ("weeks", "1w", Seconds, Some(7 * 86400)),
            ("upper_case_unit", "2H", Seconds, Some(7200)),
            ("default_unit_seconds", "300", Seconds, Some(300)),
            ("default_unit_days", "5", Days, Some(5 * 86400)),
            ("explicit_unit_beats_default", "5s", Days, Some(5)),
            ("zero", "0", Days, Some(0)),
            ("unknown_unit", "5y", Seconds, None),
            ("unit_only", "s", Seconds, None),
            ("empty", "", Seconds, None),
            ("compound", "1h30m", Seconds, None),
            ("negative", "-5s", Seconds, None),
            ("overflow", "18446744073709551615w", Seconds, None),
            (
                "max_seconds",
                "18446744073709551615",
                Seconds,
                Some(u64::MAX),
            ),
        ];
        for (name, input, unit, want) in cases {
            assert_eq!(
                parse_duration(input, *unit).ok(),
                want.map(Duration::from_secs),
                "case {name}"
            );
        }
    }

    #[test]
    fn list_values() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("commas", "a,b,c", &["a", "b", "c"]),
            ("spaces", "a b  c", &["a", "b", "c"]),
            ("mixed", "a, b ,c\t d", &["a", "b", "c", "d"]),
            ("empty_items_dropped", ",,a,,", &["a"]),
            ("empty", "", &[]),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_list(input).unwrap(), *want, "case {name}");
        }
    }

    #[test]
    fn path_values() {
        assert_eq!(parse_path("/var/spool"), Ok(PathBuf::from("/var/spool")));
        assert_eq!(
            parse_path("var/spool").unwrap_err(),
            "\"var/spool\" is not an absolute path"
        );
        assert!(parse_path("").is_err());
        assert_eq!(parse_optional_path(""), Ok(None));
        assert_eq!(
            parse_optional_path("/usr/lib/postern"),
            Ok(Some(PathBuf::from("/usr/lib/postern")))
        );
        assert!(parse_optional_path("relative").is_err());
    }

    #[test]
    fn protocol_values() {
        assert_eq!(parse_protocols("all").unwrap(), ["all"]);
        assert_eq!(parse_protocols("IPv4, ipv6").unwrap(), ["ipv4", "ipv6"]);
        assert!(parse_protocols("").is_err());
        assert!(parse_protocols("ipv5").is_err());
    }

    #[test]
    fn cidr_list_values() {
        let list = parse_cidr_list("127.0.0.0/8 [::1]/128, 192.0.2.1").unwrap();
        assert_eq!(list.len(), 3);
        assert!(parse_cidr_list("127.0.0.1/8").is_err());
        assert_eq!(parse_cidr_list("").unwrap(), []);
    }
}
