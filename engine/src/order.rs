//! The order of keys as the snapshot streams: the order PostgreSQL's `ORDER BY` gives both
//! streams (text by `COLLATE "C"`, every other type by its own btree order), computed on the
//! binary values, so the runtime can walk the source's rows and the current rows side by
//! side. Equal here means equal by `=` in PostgreSQL: `1.0` and `1.00`, `-0` and `0`.

use super::copy::Tuple;
use datasurface_model::{DataType, DatasetSchema};
use std::cmp::Ordering;

/// How a key column's binary values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Signed big-endian integers: smallint, integer, bigint, date, time, timestamp(tz).
    Int,
    /// Bytes, then length: text and varchar in `C` order, bytea.
    Bytes,
    /// `character(n)`: trailing spaces do not count.
    Bpchar,
    Bool,
    Float4,
    Float8,
    Numeric,
    Interval,
}

impl Kind {
    fn of(data_type: DataType) -> Kind {
        match data_type {
            DataType::SmallInt
            | DataType::Integer
            | DataType::BigInt
            | DataType::Date
            | DataType::Time
            | DataType::Timestamp
            | DataType::TimestampTz => Kind::Int,
            DataType::Varchar(_) | DataType::Text | DataType::Bytea => Kind::Bytes,
            DataType::Char(_) => Kind::Bpchar,
            DataType::Boolean => Kind::Bool,
            DataType::Real => Kind::Float4,
            DataType::DoublePrecision => Kind::Float8,
            DataType::Numeric(_) => Kind::Numeric,
            DataType::Interval => Kind::Interval,
            // Validation refuses them as keys.
            DataType::Json | DataType::Jsonb => Kind::Bytes,
        }
    }

    fn compare(self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            Kind::Int => int(a).cmp(&int(b)),
            Kind::Bytes => a.cmp(b),
            Kind::Bpchar => trim_spaces(a).cmp(trim_spaces(b)),
            Kind::Bool => a.cmp(b),
            Kind::Float4 => float(
                f64::from(f32::from_be_bytes(array(a))),
                f64::from(f32::from_be_bytes(array(b))),
            ),
            Kind::Float8 => float(f64::from_be_bytes(array(a)), f64::from_be_bytes(array(b))),
            Kind::Numeric => numeric(a).cmp(&numeric(b)),
            Kind::Interval => interval(a).cmp(&interval(b)),
        }
    }

    /// A value as `ROW(…)::text` shows it, near enough for a message.
    fn display(self, v: &[u8]) -> String {
        match self {
            Kind::Int if v.len() <= 4 => int(v).to_string(),
            Kind::Bytes | Kind::Bpchar => String::from_utf8_lossy(v).into_owned(),
            Kind::Bool => (v.first() == Some(&1)).to_string(),
            Kind::Float8 => f64::from_be_bytes(array(v)).to_string(),
            Kind::Float4 => f32::from_be_bytes(array(v)).to_string(),
            _ => v.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

fn array<const N: usize>(v: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = v.len().min(N);
    out[..n].copy_from_slice(&v[..n]);
    out
}

fn int(v: &[u8]) -> i64 {
    match v.len() {
        2 => i64::from(i16::from_be_bytes(array(v))),
        4 => i64::from(i32::from_be_bytes(array(v))),
        _ => i64::from_be_bytes(array(v)),
    }
}

fn trim_spaces(v: &[u8]) -> &[u8] {
    let end = v.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    &v[..end]
}

/// PostgreSQL's float order: NaN after everything and equal to itself, `-0` equal to `0`.
fn float(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// An interval's span as PostgreSQL compares intervals: a month is 30 days.
fn interval(v: &[u8]) -> i128 {
    let micros = i64::from_be_bytes(array(&v[..8.min(v.len())]));
    let days = v.get(8..12).map_or(0, |d| i32::from_be_bytes(array(d)));
    let months = v.get(12..16).map_or(0, |m| i32::from_be_bytes(array(m)));
    i128::from(micros) + (i128::from(months) * 30 + i128::from(days)) * 86_400_000_000
}

/// A numeric's binary form (digit count, weight, sign, display scale, base-10000 digits),
/// as a value that orders as PostgreSQL orders numerics: by value, the display scale aside.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Numeric {
    NegInfinity,
    /// Negative finite: its magnitude compares the other way round.
    Negative(std::cmp::Reverse<Magnitude>),
    Zero,
    Positive(Magnitude),
    Infinity,
    NaN,
}

/// The magnitude of a non-zero numeric: the weight of its first digit, then its digits
/// without trailing zeros.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Magnitude(i16, Vec<i16>);

fn numeric(v: &[u8]) -> Numeric {
    let word = |i: usize| i16::from_be_bytes(array(v.get(i * 2..i * 2 + 2).unwrap_or(&[])));
    let (ndigits, weight, sign) = (word(0), word(1), word(2) as u16);
    match sign {
        0xC000 => return Numeric::NaN,
        0xD000 => return Numeric::Infinity,
        0xF000 => return Numeric::NegInfinity,
        _ => {}
    }
    let mut digits: Vec<i16> = (0..usize::try_from(ndigits).unwrap_or(0))
        .map(|i| word(4 + i))
        .collect();
    // Leading zero digits shift the weight; trailing ones add nothing.
    let lead = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..lead);
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        return Numeric::Zero;
    }
    let magnitude = Magnitude(weight - lead as i16, digits);
    if sign == 0x4000 {
        Numeric::Negative(std::cmp::Reverse(magnitude))
    } else {
        Numeric::Positive(magnitude)
    }
}

/// The key order of one dataset.
#[derive(Debug, Clone)]
pub(crate) struct KeyOrder {
    kinds: Vec<Kind>,
}

/// Where a tuple has the key's fields, in key order.
pub(crate) type KeyAt<'a> = (&'a Tuple, &'a [usize]);

impl KeyOrder {
    pub(crate) fn new(dataset: &DatasetSchema) -> Self {
        KeyOrder {
            kinds: dataset
                .key_columns()
                .map(|c| Kind::of(c.data_type))
                .collect(),
        }
    }

    /// How the key of `a` compares with the key of `b`.
    pub(crate) fn compare(&self, a: KeyAt<'_>, b: KeyAt<'_>) -> Ordering {
        for (k, kind) in self.kinds.iter().enumerate() {
            let (x, y) = (a.0.field(a.1[k]), b.0.field(b.1[k]));
            let order = match (x, y) {
                (Some(x), Some(y)) => kind.compare(x, y),
                // Keys are NOT NULL; should one be NULL, it sorts last, as in PostgreSQL.
                (x, y) => x.is_none().cmp(&y.is_none()),
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }

    /// A key as `(1,abc)`, for messages.
    pub(crate) fn display(&self, at: KeyAt<'_>) -> String {
        let fields: Vec<String> = self
            .kinds
            .iter()
            .enumerate()
            .map(|(k, kind)| {
                at.0.field(at.1[k])
                    .map_or_else(String::new, |v| kind.display(v))
            })
            .collect();
        format!("({})", fields.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL's binary numeric for a few values, as `numeric_send` writes them.
    fn num(ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight, sign as i16, dscale] {
            v.extend(w.to_be_bytes());
        }
        for d in digits {
            v.extend(d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_order_by_value_whatever_their_scale() {
        let one = num(1, 0, 0, 1, &[1]); // 1.0
        let one_00 = num(1, 0, 0, 2, &[1]); // 1.00
        let one_5 = num(2, 0, 0, 1, &[1, 5000]); // 1.5
        let ten_thousand = num(1, 1, 0, 0, &[1]); // 10000
        let minus_two = num(1, 0, 0x4000, 0, &[2]);
        let minus_one = num(1, 0, 0x4000, 0, &[1]);
        let zero = num(0, 0, 0, 3, &[]);
        let small = num(1, -1, 0, 4, &[5]); // 0.0005
        let nan = num(0, 0, 0xC000, 0, &[]);
        let ordered = [
            &minus_two,
            &minus_one,
            &zero,
            &small,
            &one,
            &one_5,
            &ten_thousand,
            &nan,
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                Kind::Numeric.compare(pair[0], pair[1]),
                Ordering::Less,
                "{pair:?}"
            );
        }
        assert_eq!(Kind::Numeric.compare(&one, &one_00), Ordering::Equal);
    }

    #[test]
    fn floats_order_as_postgresql_orders_them() {
        let f = |x: f64| x.to_be_bytes();
        assert_eq!(Kind::Float8.compare(&f(-0.0), &f(0.0)), Ordering::Equal);
        assert_eq!(
            Kind::Float8.compare(&f(f64::NAN), &f(f64::INFINITY)),
            Ordering::Greater
        );
        assert_eq!(Kind::Float8.compare(&f(-1.5), &f(1.0)), Ordering::Less);
    }

    #[test]
    fn text_orders_by_bytes_and_character_ignores_trailing_spaces() {
        assert_eq!(Kind::Bytes.compare(b"B", b"a"), Ordering::Less);
        assert_eq!(Kind::Bytes.compare(b"a", b"ab"), Ordering::Less);
        assert_eq!(Kind::Bytes.compare("é".as_bytes(), b"z"), Ordering::Greater);
        assert_eq!(Kind::Bpchar.compare(b"a  ", b"a"), Ordering::Equal);
        assert_eq!(
            Kind::Int.compare(&(-5i32).to_be_bytes(), &3i32.to_be_bytes()),
            Ordering::Less
        );
    }

    #[test]
    fn intervals_count_a_month_as_thirty_days() {
        let iv = |micros: i64, days: i32, months: i32| {
            let mut v = micros.to_be_bytes().to_vec();
            v.extend(days.to_be_bytes());
            v.extend(months.to_be_bytes());
            v
        };
        assert_eq!(
            Kind::Interval.compare(&iv(0, 30, 0), &iv(0, 0, 1)),
            Ordering::Equal
        );
        assert_eq!(
            Kind::Interval.compare(&iv(1, 0, 1), &iv(0, 30, 0)),
            Ordering::Greater
        );
    }
}
