//! The time a chart covers, as the user picks it (a span ending now, a custom from–to, or a
//! job's own run), and the window and step Prometheus is asked for.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Most points one series may have: Prometheus refuses above 11,000, and a chart a few
/// hundred pixels wide shows no more.
pub const MAX_POINTS: u64 = 600;
/// The shortest step: the local cluster scrapes every 5 s, dcgm-exporter collects every 30 s
/// by default; finer steps only repeat samples.
pub const MIN_STEP_SECS: u64 = 15;
/// The shortest and the longest custom range. A month covers a Prometheus kept longer than
/// its default 15 days; beyond it, a chart of 600 points says little.
pub const MIN_CUSTOM_SECS: i64 = 5 * 60;
pub const MAX_CUSTOM_SECS: i64 = 31 * 24 * 3600;

/// A time range the charts show, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Span {
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "1h")]
    H1,
    #[serde(rename = "6h")]
    H6,
    #[serde(rename = "24h")]
    H24,
    #[serde(rename = "7d")]
    D7,
}

impl Span {
    pub const ALL: [Span; 5] = [Span::M15, Span::H1, Span::H6, Span::H24, Span::D7];

    /// How the picker and the URLs name it.
    pub fn name(self) -> &'static str {
        match self {
            Span::M15 => "15m",
            Span::H1 => "1h",
            Span::H6 => "6h",
            Span::H24 => "24h",
            Span::D7 => "7d",
        }
    }

    pub fn seconds(self) -> u64 {
        match self {
            Span::M15 => 15 * 60,
            Span::H1 => 3600,
            Span::H6 => 6 * 3600,
            Span::H24 => 24 * 3600,
            Span::D7 => 7 * 24 * 3600,
        }
    }
}

/// The step that gives at most [`MAX_POINTS`] points over `seconds`, a multiple of
/// [`MIN_STEP_SECS`].
pub fn step_for(seconds: u64) -> u64 {
    seconds.div_ceil(MAX_POINTS).div_ceil(MIN_STEP_SECS).max(1) * MIN_STEP_SECS
}

/// What the user picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Range {
    Last(Span),
    /// From–to, in seconds since the epoch.
    Between(i64, i64),
    /// A job's run, from its start to its end (or now); the server knows both.
    Run,
}

impl Range {
    /// The `range`, `from` and `to` parameters (empty ones are missing): `from` and `to`
    /// together for a custom range (seconds since the epoch or `YYYY-MM-DDTHH:MM[:SS]Z`,
    /// UTC), else `range` (`15m`, `1h`, `6h`, `24h`, `7d`, or `run` where `run_allowed`),
    /// else `default`.
    pub fn parse(
        range: &str,
        from: &str,
        to: &str,
        run_allowed: bool,
        default: Range,
    ) -> Result<Range, AppError> {
        if !from.is_empty() || !to.is_empty() {
            let time = |field: &str, text: &str| {
                if text.is_empty() {
                    return Err(AppError::invalid(
                        field,
                        "a custom range needs both from and to".to_string(),
                    ));
                }
                text.parse::<i64>()
                    .ok()
                    .filter(|t| *t >= 0)
                    .or_else(|| crate::time::parse_utc(text))
                    .ok_or_else(|| {
                        AppError::invalid(
                            field,
                            "expected seconds since 1970 or YYYY-MM-DDTHH:MM (UTC)".to_string(),
                        )
                    })
            };
            let (from, to) = (time("from", from)?, time("to", to)?);
            if to - from < MIN_CUSTOM_SECS {
                return Err(AppError::invalid(
                    "to",
                    "must be at least 5 minutes after from".to_string(),
                ));
            }
            if to - from > MAX_CUSTOM_SECS {
                return Err(AppError::invalid(
                    "from",
                    "a custom range is at most 31 days".to_string(),
                ));
            }
            return Ok(Range::Between(from, to));
        }
        match range {
            "" => Ok(default),
            "run" if run_allowed => Ok(Range::Run),
            text => Span::ALL
                .into_iter()
                .find(|s| s.name() == text)
                .map(Range::Last)
                .ok_or_else(|| {
                    let also = if run_allowed { ", 7d or run" } else { " or 7d" };
                    AppError::invalid("range", format!("expected one of 15m, 1h, 6h, 24h{also}"))
                }),
        }
    }

    /// How answers name it: a span's name, `custom` or `run`.
    pub fn name(self) -> &'static str {
        match self {
            Range::Last(span) => span.name(),
            Range::Between(..) => "custom",
            Range::Run => "run",
        }
    }
}

/// The window asked of Prometheus, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub step_secs: u64,
}

impl Window {
    /// `span` ending at `now`: on the last whole step, so that everyone within one step asks
    /// the same query.
    pub fn last(span: Span, now: i64) -> Window {
        let step = step_for(span.seconds());
        let end = now - now.rem_euclid(step as i64);
        Window {
            start: end - span.seconds() as i64,
            end,
            step_secs: step,
        }
    }

    /// From `from` to `to`, widened to whole steps (so that neighbouring picks share a query).
    pub fn between(from: i64, to: i64) -> Window {
        let step = step_for((to - from).max(1) as u64);
        let s = step as i64;
        let start = from - from.rem_euclid(s);
        let end = (to + s - 1) / s * s;
        Window {
            start,
            end: end.max(start + s),
            step_secs: step,
        }
    }

    /// How many points a series over this window has at most.
    pub fn points(self) -> u64 {
        (self.end - self.start) as u64 / self.step_secs + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(range: &str, from: &str, to: &str) -> Result<Range, AppError> {
        Range::parse(range, from, to, false, Range::Last(Span::H1))
    }

    #[test]
    fn steps_keep_every_range_at_600_points_or_so() {
        for span in Span::ALL {
            let window = Window::last(span, 1_795_000_007);
            assert!(window.points() <= MAX_POINTS + 1, "{span:?}");
            assert_eq!(window.step_secs % MIN_STEP_SECS, 0);
        }
        assert_eq!(Window::last(Span::M15, 0).step_secs, 15);
        assert_eq!(Window::last(Span::D7, 0).step_secs, 1020);
        assert_eq!(
            Window::last(Span::H1, 1_795_000_007),
            Window {
                start: 1_794_996_405,
                end: 1_795_000_005,
                step_secs: 15
            }
        );
        let custom = Window::between(1_795_000_007, 1_795_000_007 + 31 * 86_400);
        assert!(custom.points() <= MAX_POINTS + 2, "{custom:?}");
        assert!(custom.start <= 1_795_000_007 && custom.end >= 1_795_000_007 + 31 * 86_400);
    }

    #[test]
    fn ranges_parse_or_name_the_field_at_fault() {
        assert_eq!(parse("", "", "").unwrap(), Range::Last(Span::H1));
        assert_eq!(parse("6h", "", "").unwrap(), Range::Last(Span::H6));
        assert_eq!(
            parse("", "2026-11-29T19:00", "1795982400").unwrap(),
            Range::Between(1_795_978_800, 1_795_982_400)
        );
        let field = |r: Result<Range, AppError>| match r.unwrap_err() {
            AppError::InvalidInput { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(parse("1y", "", "")), "range");
        assert_eq!(field(parse("run", "", "")), "range");
        assert_eq!(field(parse("", "1795978800", "")), "to");
        assert_eq!(field(parse("", "yesterday", "1795978800")), "from");
        assert_eq!(field(parse("", "1795978800", "1795978860")), "to");
        assert_eq!(field(parse("", "0", "1795978800")), "from");
        assert_eq!(
            Range::parse("run", "", "", true, Range::Run).unwrap(),
            Range::Run
        );
    }
}
