//! Column data types and how they map to PostgreSQL.

use std::fmt;

/// The type of a dataset column.
///
/// Each variant maps to exactly one PostgreSQL type; [`DataType::pg_type`] gives its
/// canonical spelling, the one `format_type()` and `information_schema` report, so the
/// runtime can compare a source table with the model by plain string equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `character varying(n)`.
    Varchar(u32),
    /// `character(n)`, blank-padded.
    Char(u32),
    /// `text`, unbounded.
    Text,
    /// `smallint` (16 bit).
    SmallInt,
    /// `integer` (32 bit).
    Integer,
    /// `bigint` (64 bit).
    BigInt,
    /// `boolean`.
    Boolean,
    /// `real` (32-bit float).
    Real,
    /// `double precision` (64-bit float).
    DoublePrecision,
    /// `numeric(precision, scale)`, or unconstrained `numeric` when `None`.
    Numeric(Option<(u16, u16)>),
    /// `date`.
    Date,
    /// `time without time zone`.
    Time,
    /// `timestamp without time zone`.
    Timestamp,
    /// `timestamp with time zone`.
    TimestampTz,
    /// `interval`.
    Interval,
    /// `bytea`.
    Bytea,
    /// `json` (text kept as written).
    Json,
    /// `jsonb` (parsed, normalised).
    Jsonb,
}

/// PostgreSQL's limit on `varchar(n)` and `char(n)`.
pub const MAX_CHAR_LENGTH: u32 = 10_485_760;
/// PostgreSQL's limit on the precision of `numeric(p, s)`.
pub const MAX_NUMERIC_PRECISION: u16 = 1000;

impl DataType {
    /// The type as PostgreSQL spells it in DDL and in `format_type()`.
    pub fn pg_type(&self) -> String {
        match *self {
            DataType::Varchar(n) => format!("character varying({n})"),
            DataType::Char(n) => format!("character({n})"),
            DataType::Text => "text".into(),
            DataType::SmallInt => "smallint".into(),
            DataType::Integer => "integer".into(),
            DataType::BigInt => "bigint".into(),
            DataType::Boolean => "boolean".into(),
            DataType::Real => "real".into(),
            DataType::DoublePrecision => "double precision".into(),
            DataType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            DataType::Numeric(None) => "numeric".into(),
            DataType::Date => "date".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Timestamp => "timestamp without time zone".into(),
            DataType::TimestampTz => "timestamp with time zone".into(),
            DataType::Interval => "interval".into(),
            DataType::Bytea => "bytea".into(),
            DataType::Json => "json".into(),
            DataType::Jsonb => "jsonb".into(),
        }
    }

    /// Whether a column of this type can be part of a key: the engine compares keys as
    /// they stream, in the order PostgreSQL sorts them, which it knows for every type but
    /// `json` (no equality at all) and `jsonb` (an order of its own).
    pub fn can_be_key(&self) -> bool {
        !matches!(self, DataType::Json | DataType::Jsonb)
    }

    /// Whether the type is text, which sorts by a collation.
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            DataType::Varchar(_) | DataType::Char(_) | DataType::Text
        )
    }

    /// Checks the type's parameters against PostgreSQL's limits.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            DataType::Varchar(n) | DataType::Char(n) if n == 0 || n > MAX_CHAR_LENGTH => Err(
                format!("length {n} of {self} is outside 1..={MAX_CHAR_LENGTH}"),
            ),
            DataType::Numeric(Some((p, _))) if p == 0 || p > MAX_NUMERIC_PRECISION => Err(format!(
                "precision {p} of {self} is outside 1..={MAX_NUMERIC_PRECISION}"
            )),
            DataType::Numeric(Some((p, s))) if s > p => Err(format!(
                "scale {s} of {self} is larger than its precision {p}"
            )),
            _ => Ok(()),
        }
    }
}

impl DataType {
    /// Parses PostgreSQL's canonical spelling of a type (what `format_type()` returns), for
    /// the types the model knows; `None` for any other type.
    pub fn from_pg(text: &str) -> Option<DataType> {
        let text = text.trim();
        let (base, args) = match text.split_once('(') {
            Some((base, rest)) => (base.trim(), Some(rest.strip_suffix(')')?)),
            None => (text, None),
        };
        let numbers: Option<Vec<u32>> = match args {
            Some(a) => Some(
                a.split(',')
                    .map(|n| n.trim().parse().ok())
                    .collect::<Option<_>>()?,
            ),
            None => None,
        };
        let ty = match (base, numbers.as_deref()) {
            ("character varying", Some([n])) => DataType::Varchar(*n),
            ("character", Some([n])) => DataType::Char(*n),
            ("numeric", Some([p, s])) => {
                DataType::Numeric(Some((u16::try_from(*p).ok()?, u16::try_from(*s).ok()?)))
            }
            ("numeric", Some([p])) => DataType::Numeric(Some((u16::try_from(*p).ok()?, 0))),
            ("numeric", None) => DataType::Numeric(None),
            (name, None) => match name {
                "text" => DataType::Text,
                "smallint" => DataType::SmallInt,
                "integer" => DataType::Integer,
                "bigint" => DataType::BigInt,
                "boolean" => DataType::Boolean,
                "real" => DataType::Real,
                "double precision" => DataType::DoublePrecision,
                "date" => DataType::Date,
                "time without time zone" => DataType::Time,
                "timestamp without time zone" => DataType::Timestamp,
                "timestamp with time zone" => DataType::TimestampTz,
                "interval" => DataType::Interval,
                "bytea" => DataType::Bytea,
                "json" => DataType::Json,
                "jsonb" => DataType::Jsonb,
                _ => return None,
            },
            _ => return None,
        };
        Some(ty)
    }

    /// Whether every value of a source column of type `source` fits this type unchanged,
    /// so the snapshot can cast it without losing anything.
    pub fn can_hold(&self, source: &DataType) -> bool {
        use DataType::*;
        if self == source {
            return true;
        }
        match (*source, *self) {
            (Varchar(m), Varchar(n)) => m <= n,
            (Varchar(_), Text) => true,
            (SmallInt, Integer | BigInt | Numeric(None)) => true,
            (Integer, BigInt | Numeric(None)) => true,
            (BigInt, Numeric(None)) => true,
            (Real, DoublePrecision) => true,
            (Numeric(Some(_)), Numeric(None)) => true,
            (Numeric(Some((p, s))), Numeric(Some((p2, s2)))) => s <= s2 && p - s <= p2 - s2,
            (Json, Jsonb) => true,
            _ => false,
        }
    }
}

/// The short spelling a model author writes: `varchar(20)`, `numeric(10,2)`, `timestamptz`.
impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DataType::Varchar(n) => write!(f, "varchar({n})"),
            DataType::Char(n) => write!(f, "char({n})"),
            DataType::Time => f.write_str("time"),
            DataType::Timestamp => f.write_str("timestamp"),
            DataType::TimestampTz => f.write_str("timestamptz"),
            other => f.write_str(&other.pg_type()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_postgres_spelling() {
        let cases = [
            (DataType::Varchar(20), "character varying(20)"),
            (DataType::Char(2), "character(2)"),
            (DataType::Text, "text"),
            (DataType::SmallInt, "smallint"),
            (DataType::Integer, "integer"),
            (DataType::BigInt, "bigint"),
            (DataType::Boolean, "boolean"),
            (DataType::Real, "real"),
            (DataType::DoublePrecision, "double precision"),
            (DataType::Numeric(Some((10, 2))), "numeric(10,2)"),
            (DataType::Numeric(None), "numeric"),
            (DataType::Date, "date"),
            (DataType::Time, "time without time zone"),
            (DataType::Timestamp, "timestamp without time zone"),
            (DataType::TimestampTz, "timestamp with time zone"),
            (DataType::Interval, "interval"),
            (DataType::Bytea, "bytea"),
            (DataType::Json, "json"),
            (DataType::Jsonb, "jsonb"),
        ];
        for (ty, pg) in cases {
            assert_eq!(ty.pg_type(), pg, "{ty:?}");
            assert!(ty.check().is_ok(), "{ty:?}");
        }
    }

    #[test]
    fn postgres_spellings_parse_back() {
        for ty in [
            DataType::Varchar(20),
            DataType::Char(2),
            DataType::Text,
            DataType::SmallInt,
            DataType::Integer,
            DataType::BigInt,
            DataType::Boolean,
            DataType::Real,
            DataType::DoublePrecision,
            DataType::Numeric(Some((10, 2))),
            DataType::Numeric(None),
            DataType::Date,
            DataType::Time,
            DataType::Timestamp,
            DataType::TimestampTz,
            DataType::Interval,
            DataType::Bytea,
            DataType::Json,
            DataType::Jsonb,
        ] {
            assert_eq!(DataType::from_pg(&ty.pg_type()), Some(ty));
        }
        assert_eq!(
            DataType::from_pg("numeric(7)"),
            Some(DataType::Numeric(Some((7, 0))))
        );
        assert_eq!(DataType::from_pg("uuid"), None);
        assert_eq!(DataType::from_pg("character varying"), None);
        assert_eq!(DataType::from_pg("integer[]"), None);
    }

    #[test]
    fn wider_types_hold_narrower_sources() {
        use DataType::*;
        assert!(Varchar(20).can_hold(&Varchar(20)));
        assert!(Varchar(20).can_hold(&Varchar(10)));
        assert!(!Varchar(20).can_hold(&Varchar(100)));
        assert!(Text.can_hold(&Varchar(100)));
        assert!(!Varchar(100).can_hold(&Text));
        assert!(!Varchar(5).can_hold(&Char(5)));
        assert!(BigInt.can_hold(&Integer));
        assert!(!Integer.can_hold(&BigInt));
        assert!(DoublePrecision.can_hold(&Real));
        assert!(Numeric(Some((12, 4))).can_hold(&Numeric(Some((10, 2)))));
        assert!(!Numeric(Some((12, 1))).can_hold(&Numeric(Some((10, 2)))));
        assert!(!Numeric(Some((10, 2))).can_hold(&Numeric(None)));
        assert!(!TimestampTz.can_hold(&Timestamp));
        assert!(Jsonb.can_hold(&Json));
    }

    #[test]
    fn display_uses_the_short_spelling() {
        assert_eq!(DataType::Varchar(20).to_string(), "varchar(20)");
        assert_eq!(DataType::TimestampTz.to_string(), "timestamptz");
        assert_eq!(
            DataType::Numeric(Some((12, 4))).to_string(),
            "numeric(12,4)"
        );
    }

    #[test]
    fn parameters_outside_postgres_limits_are_refused() {
        assert!(DataType::Varchar(0).check().is_err());
        assert!(DataType::Char(MAX_CHAR_LENGTH + 1).check().is_err());
        assert!(DataType::Varchar(MAX_CHAR_LENGTH).check().is_ok());
        assert!(DataType::Numeric(Some((0, 0))).check().is_err());
        assert!(DataType::Numeric(Some((1001, 0))).check().is_err());
        let err = DataType::Numeric(Some((5, 6))).check().unwrap_err();
        assert_eq!(
            err,
            "scale 6 of numeric(5,6) is larger than its precision 5"
        );
    }
}
