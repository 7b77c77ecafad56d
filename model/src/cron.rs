//! Cron triggers: the 5-field expressions (and presets) that Airflow schedules accept.
//!
//! A small checker of our own rather than a scheduling crate: we only need to know that
//! Airflow will accept the expression, and to say which field is wrong when it will not.
//! Cron crates also accept 6- and 7-field (seconds, years) forms that Airflow refuses.

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
    let expr = expr.trim();
    if expr.starts_with('@') {
        return if PRESETS.contains(&expr) {
            Ok(())
        } else {
            Err(format!(
                "unknown preset `{expr}`; expected one of {}",
                PRESETS.join(", ")
            ))
        };
    }
    let parts: Vec<&str> = expr.split_whitespace().collect();
    if parts.len() != FIELDS.len() {
        return Err(format!(
            "`{expr}` has {} fields; a cron trigger has 5 (minute hour day-of-month month day-of-week)",
            parts.len()
        ));
    }
    for (part, field) in parts.iter().zip(&FIELDS) {
        check_field(part, field).map_err(|why| format!("{} field `{part}`: {why}", field.name))?;
    }
    Ok(())
}

fn check_field(text: &str, field: &Field) -> Result<(), String> {
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(s) if s >= 1 && s <= field.max => {}
                _ => {
                    return Err(format!(
                        "step `{step}` must be a number from 1 to {}",
                        field.max
                    ));
                }
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (value(lo, field)?, value(hi, field)?);
                if lo > hi {
                    return Err(format!("range `{range}` runs backwards"));
                }
            }
            None => {
                value(range, field)?;
            }
        }
    }
    Ok(())
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
    use super::check_cron;

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
