//! Values that fit a column: its type, length, precision and nullability, as the text
//! PostgreSQL reads for that type. Text columns whose names say what they hold (email,
//! phone, first name, city, …) get realistic values.

use datasurface_model::{Column, DataType};
use fake::Fake;
use fake::faker::address::en::{BuildingNumber, CityName, StateAbbr, StreetName, ZipCode};
use fake::faker::company::en::CompanyName;
use fake::faker::internet::en::SafeEmail;
use fake::faker::lorem::en::Word;
use fake::faker::name::en::{FirstName, LastName, Name};
use fake::faker::phone_number::en::PhoneNumber;
use rand::RngExt;
use rand::rngs::StdRng;

/// Share of NULLs in a nullable column, in percent.
const NULL_PERCENT: u32 = 10;

/// A random value for `column`, NULL now and then when the column allows it.
pub(super) fn random(rng: &mut StdRng, column: &Column) -> Option<String> {
    if column.nullable && rng.random_range(0..100) < NULL_PERCENT {
        return None;
    }
    Some(fresh(rng, column))
}

/// A random value for `column`, never NULL.
pub(super) fn fresh(rng: &mut StdRng, column: &Column) -> String {
    match column.data_type {
        DataType::Varchar(n) | DataType::Char(n) => fit(text(rng, &column.name), n),
        DataType::Text => text(rng, &column.name),
        DataType::SmallInt => rng.random_range(1..1_000i32).to_string(),
        DataType::Integer | DataType::BigInt => rng.random_range(1..100_000i64).to_string(),
        DataType::Boolean => rng.random_bool(0.5).to_string(),
        DataType::Real | DataType::DoublePrecision => {
            format!("{:.2}", rng.random_range(0.0..10_000.0f64))
        }
        DataType::Numeric(Some((precision, scale))) => {
            let digits = u32::from(precision.saturating_sub(scale).min(6));
            let whole = rng.random_range(0..10u64.pow(digits));
            match scale {
                0 => whole.to_string(),
                s => {
                    let s = u32::from(s.min(6));
                    format!(
                        "{whole}.{:0width$}",
                        rng.random_range(0..10u64.pow(s)),
                        width = s as usize
                    )
                }
            }
        }
        DataType::Numeric(None) => format!("{:.2}", rng.random_range(0.0..100_000.0f64)),
        DataType::Date => date(rng.random_range(0..23_000)),
        DataType::Time => time(rng.random_range(0..86_400)),
        DataType::Timestamp => timestamp(rng.random_range(0..800_000_000)),
        DataType::TimestampTz => format!("{}+00", timestamp(rng.random_range(0..800_000_000))),
        DataType::Interval => format!("{} days", rng.random_range(1..1_000)),
        DataType::Bytea => {
            let bytes: [u8; 8] = rng.random();
            format!("\\x{}", hex(&bytes))
        }
        DataType::Json | DataType::Jsonb => format!("{{\"n\": {}}}", rng.random_range(0..1_000)),
    }
}

/// The `n`th value of a key column of `dataset`: distinct for distinct `n` wherever the
/// type has room, so new keys rarely collide with each other or with existing ones.
pub(super) fn key(dataset: &str, column: &Column, n: u64) -> String {
    let prefix: String = dataset
        .chars()
        .next()
        .map(|c| c.to_ascii_uppercase().to_string())
        .unwrap_or_default();
    match column.data_type {
        DataType::Varchar(len) | DataType::Char(len) if len >= 9 => format!("{prefix}{n:08}"),
        DataType::Varchar(len) | DataType::Char(len) => fit(n.to_string(), len),
        DataType::Text => format!("{prefix}{n:08}"),
        DataType::SmallInt => (n % 32_767).to_string(),
        DataType::Integer => (n % 2_147_483_647).to_string(),
        DataType::BigInt | DataType::Numeric(_) => n.to_string(),
        DataType::Real | DataType::DoublePrecision => format!("{n}.5"),
        DataType::Boolean => (n % 2 == 1).to_string(),
        DataType::Date => date(n % 2_000_000),
        DataType::Time => time(n % 86_400),
        DataType::Timestamp => timestamp(n),
        DataType::TimestampTz => format!("{}+00", timestamp(n)),
        DataType::Interval => format!("{n} seconds"),
        DataType::Bytea => format!("\\x{}", hex(&n.to_be_bytes())),
        DataType::Json | DataType::Jsonb => format!("{{\"k\": {n}}}"),
    }
}

/// Text by what the column's name says it holds.
fn text(rng: &mut StdRng, column: &str) -> String {
    let name = column.to_ascii_lowercase();
    let has = |w: &str| name.contains(w);
    if has("email") || has("mail") {
        SafeEmail().fake_with_rng(rng)
    } else if has("phone") || has("mobile") {
        PhoneNumber().fake_with_rng(rng)
    } else if has("first") {
        FirstName().fake_with_rng(rng)
    } else if has("last") || has("surname") {
        LastName().fake_with_rng(rng)
    } else if has("street") || has("address") {
        let number: String = BuildingNumber().fake_with_rng(rng);
        let street: String = StreetName().fake_with_rng(rng);
        format!("{number} {street}")
    } else if has("city") || has("town") {
        CityName().fake_with_rng(rng)
    } else if has("state") || has("region") {
        StateAbbr().fake_with_rng(rng)
    } else if has("zip") || has("post") {
        ZipCode().fake_with_rng(rng)
    } else if has("company") || has("employer") {
        CompanyName().fake_with_rng(rng)
    } else if has("name") {
        Name().fake_with_rng(rng)
    } else {
        let word: String = Word().fake_with_rng(rng);
        format!("{word} {}", rng.random_range(1..1_000))
    }
}

/// At most `len` characters of `text`.
fn fit(text: String, len: u32) -> String {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    match text.char_indices().nth(len) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

/// The day `days` after 1940-01-01, as ISO text.
fn date(days: u64) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default();
    (start + chrono::Days::new(days)).to_string()
}

fn time(seconds: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The second `seconds` after 2000-01-01 00:00:00.
fn timestamp(seconds: u64) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    let at = start + chrono::TimeDelta::seconds(i64::try_from(seconds).unwrap_or(0));
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn values_fit_their_columns() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..200 {
            let v = fresh(&mut rng, &Column::new("email", DataType::Varchar(12)));
            assert!(v.chars().count() <= 12, "{v}");
            let v = fresh(
                &mut rng,
                &Column::new("price", DataType::Numeric(Some((5, 2)))),
            );
            let (whole, fraction) = v.split_once('.').expect("a fraction");
            assert!(whole.len() <= 3 && fraction.len() == 2, "{v}");
        }
        let nullable = Column::nullable("note", DataType::Text);
        let nulls = (0..1_000)
            .filter(|_| random(&mut rng, &nullable).is_none())
            .count();
        assert!((50..200).contains(&nulls), "{nulls}");
    }

    #[test]
    fn keys_are_distinct_and_read_like_the_mvp_ids() {
        let id = Column::new("id", DataType::Varchar(20));
        assert_eq!(key("customers", &id, 12), "C00000012");
        let day = Column::new("day", DataType::Date);
        assert_ne!(key("t", &day, 1), key("t", &day, 2));
        assert_eq!(
            key("t", &Column::new("n", DataType::Varchar(3)), 12_345),
            "123"
        );
    }
}
