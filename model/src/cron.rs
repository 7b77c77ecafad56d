//! Cron triggers: the 5-field expressions (and presets) that Airflow schedules accept.
//!
//! A small checker of our own rather than a scheduling crate: we only need to know that
//! Airflow will accept the expression, and to say which field is wrong when it will not.
//! Cron crates also accept 6- and 7-field (seconds, years) forms that Airflow refuses.

use chrono::{Datelike, NaiveDate};
use std::time::Duration;

/// Airflow's schedule presets that make sense for a recurring capture.
pub(crate) const PRESETS: &[&str] = &[
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    // 0 and 7 are both Sunday.
    Field {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

/// Checks a cron trigger; the error says which field is wrong and why.
pub fn check_cron(expr: &str) -> Result<(), String> {
    parse(expr).map(|_| ())
}

/// The longest wait between two runs of a cron trigger: how stale a store's data may
/// grow between two captures even when every batch succeeds. `@monthly` waits 31 days,
/// `0 9 * * mon-fri` 3 days (Friday to Monday), `*/5 * * * *` 5 minutes.
///
/// Worked out over eight years of calendar from a fixed date (two leap cycles, every
/// weekday on every day of the month), so it is exact for every trigger Airflow accepts;
/// a trigger that never fires (`0 0 30 2 *`) is an error.
pub fn longest_gap(expr: &str) -> Result<Duration, String> {
    let fields = parse(expr)?;
    let mut times: Vec<u32> = Vec::new();
    for hour in bits(fields[1]) {
        for minute in bits(fields[0]) {
            times.push(hour * 60 + minute);
        }
    }
    let (first, last) = (times[0], times[times.len() - 1]);
    let within_day = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);

    // Cron's rule: when both day fields are restricted a day matches either; otherwise both.
    let expr = expand_preset(expr.trim());
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let (dom_any, dow_any) = (parts[2].starts_with('*'), parts[4].starts_with('*'));
    let start = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a valid date");
    let mut days = Vec::new();
    for (index, day) in start.iter_days().take(8 * 366).enumerate() {
        let month = fields[3] & (1 << day.month()) != 0;
        let dom = fields[2] & (1 << day.day()) != 0;
        let weekday = day.weekday().num_days_from_sunday();
        let dow = fields[4] & (1 << weekday) != 0 || (weekday == 0 && fields[4] & (1 << 7) != 0);
        let day_matches = if !dom_any && !dow_any {
            dom || dow
        } else {
            dom && dow
        };
        if month && day_matches {
            days.push(index as u32);
        }
    }
    if days.len() < 2 {
        return Err(format!(
            "`{expr}` never fires (or fires less than once in four years)"
        ));
    }
    let across_days = days
        .windows(2)
        .map(|w| (w[1] - w[0]) * MINUTES_PER_DAY + first - last)
        .max()
        .unwrap_or(0);
    Ok(Duration::from_secs(
        u64::from(within_day.max(across_days)) * 60,
    ))
}

const MINUTES_PER_DAY: u32 = 24 * 60;

/// The 5-field form of a preset, or the expression itself.
fn expand_preset(expr: &str) -> &str {
    match expr {
        "@hourly" => "0 * * * *",
        "@daily" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@quarterly" => "0 0 1 1,4,7,10 *",
        "@yearly" => "0 0 1 1 *",
        other => other,
    }
}

/// The values each field allows, as bit sets (bit `v` for value `v`).
fn parse(expr: &str) -> Result<[u64; 5], String> {
    let expr = expr.trim();
    if expr.starts_with('@') && !PRESETS.contains(&expr) {
        return Err(format!(
            "unknown preset `{expr}`; expected one of {}",
            PRESETS.join(", ")
        ));
    }
    let parts: Vec<&str> = expand_preset(expr).split_whitespace().collect();
    if parts.len() != FIELDS.len() {
        return Err(format!(
            "`{expr}` has {} fields; a cron trigger has 5 (minute hour day-of-month month day-of-week)",
            parts.len()
        ));
    }
    let mut sets = [0u64; 5];
    for ((part, field), set) in parts.iter().zip(&FIELDS).zip(&mut sets) {
        *set = parse_field(part, field)
            .map_err(|why| format!("{} field `{part}`: {why}", field.name))?;
    }
    Ok(sets)
}

fn bits(set: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |b| set & (1 << b) != 0)
}

fn parse_field(text: &str, field: &Field) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        let step = match step {
            None => 1,
            Some(step) => match step.parse::<u32>() {
                Ok(s) if s >= 1 && s <= field.max => s,
                _ => {
                    return Err(format!(
                        "step `{step}` must be a number from 1 to {}",
                        field.max
                    ));
                }
            },
        };
        let (lo, hi) = if range == "*" {
            (field.min, field.max)
        } else {
            match range.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (value(lo, field)?, value(hi, field)?);
                    if lo > hi {
                        return Err(format!("range `{range}` runs backwards"));
                    }
                    (lo, hi)
                }
                // `5/15` runs from 5 to the end of the field, as in cron.
                None if step > 1 => (value(range, field)?, field.max),
                None => {
                    let v = value(range, field)?;
                    (v, v)
                }
            }
        };
        for v in (lo..=hi).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names.iter().position(|n| *n == lower) {
        // Names count from the field's minimum: jan = 1, sun = 0.
        return Ok(i as u32 + field.min);
    }
    match text.parse::<u32>() {
        Ok(v) if (field.min..=field.max).contains(&v) => Ok(v),
        Ok(v) => Err(format!("{v} is outside {}-{}", field.min, field.max)),
        Err(_) if text.is_empty() => Err("an empty value".into()),
        Err(_) => Err(format!("`{text}` is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::{check_cron, longest_gap};
    use std::time::Duration;

    #[test]
    fn longest_gaps_follow_the_calendar() {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        for (expr, gap) in [
            ("*/1 * * * *", minutes(1)),
            ("*/5 * * * *", minutes(5)),
            ("0,10 * * * *", minutes(50)),
            ("@hourly", minutes(60)),
            ("30 2 * * *", minutes(24 * 60)),
            ("0 9 * * mon-fri", minutes(3 * 24 * 60)),
            ("0 8-18/2 * * *", minutes(14 * 60)),
            ("@weekly", minutes(7 * 24 * 60)),
            ("@monthly", minutes(31 * 24 * 60)),
            ("0 0 29 2 *", minutes(1461 * 24 * 60)),
        ] {
            assert_eq!(longest_gap(expr), Ok(gap), "{expr}");
        }
        let never = longest_gap("0 0 30 2 *").expect_err("February has no 30th");
        assert!(never.contains("never fires"), "{never}");
    }

    #[test]
    fn accepts_what_airflow_accepts() {
        for ok in [
            "*/1 * * * *",
            "* * * * *",
            "0 0 * * *",
            "5,35 8-18/2 1-15 jan-jun MON-FRI",
            "0 12 * * 7",
            "  15 3 * * 0  ",
            "@hourly",
            "@daily",
        ] {
            assert_eq!(check_cron(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_with_the_culprit_named() {
        let cases = [
            ("* * * *", "`* * * *` has 4 fields; a cron trigger has 5"),
            ("0 * * * * *", "has 6 fields"),
            ("75 * * * *", "minute field `75`: 75 is outside 0-59"),
            ("* 24 * * *", "hour field `24`: 24 is outside 0-23"),
            ("* * 0 * *", "day-of-month field `0`: 0 is outside 1-31"),
            ("* * * 13 *", "month field `13`: 13 is outside 1-12"),
            ("* * * * 8", "day-of-week field `8`: 8 is outside 0-7"),
            (
                "*/0 * * * *",
                "minute field `*/0`: step `0` must be a number from 1 to 59",
            ),
            (
                "10-5 * * * *",
                "minute field `10-5`: range `10-5` runs backwards",
            ),
            ("every minute", "has 2 fields"),
            ("x * * * *", "minute field `x`: `x` is not a number"),
            ("1,,2 * * * *", "minute field `1,,2`: an empty value"),
            ("@sometimes", "unknown preset `@sometimes`"),
            ("", "has 0 fields"),
        ];
        for (expr, expected) in cases {
            let err = check_cron(expr).expect_err(expr);
            assert!(err.contains(expected), "{expr}: {err}");
        }
    }
}
