//! Times as Gantry stores and shows them: seconds since the epoch, written
//! `YYYY-MM-DDTHH:MM:SSZ` (UTC) in every table and answer, so they sort as text. Writing and
//! reading them is also the charts' in the browser; the clock is the server's only (the
//! wasm has none).

#[cfg(feature = "ssr")]
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch.
#[cfg(feature = "ssr")]
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Milliseconds since the epoch: MLflow's clock, which its runs, metrics and registry keep.
#[cfg(feature = "ssr")]
pub fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Now, as stored in accounts, tokens, history and the audit log.
/// (SQLite's own clock would do, but every table wants the same format.)
#[cfg(feature = "ssr")]
pub fn now_rfc3339() -> String {
    format_unix(unix_now())
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn format_unix(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), valid for every date after 1970.
    let z = days as i64 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Kubernetes' signed seconds (a creation time, a start) as stored; before 1970 is 1970.
pub fn format_secs(secs: i64) -> String {
    format_unix(secs.max(0) as u64)
}

/// `YYYY-MM-DDTHH:MM[:SS][Z]` (UTC, as Gantry writes times and as a page's date-time field
/// gives them) as seconds since the epoch; `None` for anything else or before 1970.
pub fn parse_utc(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, clock) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let clock: Vec<Option<i64>> = clock.split(':').map(|p| p.parse().ok()).collect();
    let (hour, minute, second) = match clock.as_slice() {
        [h, m] => ((*h)?, (*m)?, 0),
        [h, m, s] => ((*h)?, (*m)?, (*s)?),
        _ => return None,
    };
    let valid = year >= 1970
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid || [hour, minute, second].iter().any(|v| *v < 0) {
        return None;
    }
    // Days-from-civil (Howard Hinnant's algorithm), the inverse of `format_unix`'s.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    // A day that month does not have (31 November) does not come back as itself.
    (text.get(..10) == Some(&format_secs(secs)[..10])).then_some(secs)
}

/// A duration as a person reads it: `42 s`, `3 min 5 s`, `2 h 10 min`.
pub fn duration_text(secs: Option<i64>) -> String {
    match secs {
        None => "–".into(),
        Some(s) if s < 60 => format!("{s} s"),
        Some(s) if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        Some(s) => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_utc() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(1795978800), "2026-11-29T19:00:00Z");
        assert_eq!(format_secs(-5), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn utc_times_parse_back() {
        for secs in [0, 951_782_400, 1_795_978_800, 1_795_978_859] {
            assert_eq!(parse_utc(&format_unix(secs)), Some(secs as i64));
        }
        assert_eq!(parse_utc("2026-11-29T19:00"), Some(1_795_978_800));
        for bad in [
            "",
            "2026-11-29",
            "2026-11-31T00:00",
            "2026-13-01T00:00",
            "1969-12-31T23:59",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }
}
