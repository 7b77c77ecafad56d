//! Typed column values: what a row of a dataset holds, independent of any database driver.
//!
//! `#[derive(Dataset)]` turns a struct into a `Vec<Value>` and back through
//! [`ColumnValue`]; the runtime binds each [`Value`] as a query parameter or reads it
//! from a result row.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;

/// A PostgreSQL `interval`: months, days and microseconds are kept apart, as PostgreSQL
/// keeps them, because a month is not a fixed number of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub microseconds: i64,
}

/// One column value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(Decimal),
    Text(String),
    Bytes(Vec<u8>),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Interval(Interval),
    Json(serde_json::Value),
}

impl Value {
    /// The name of this value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "boolean",
            Value::Int2(_) => "smallint",
            Value::Int4(_) => "integer",
            Value::Int8(_) => "bigint",
            Value::Float4(_) => "real",
            Value::Float8(_) => "double precision",
            Value::Numeric(_) => "numeric",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytea",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Timestamp(_) => "timestamp",
            Value::TimestampTz(_) => "timestamptz",
            Value::Interval(_) => "interval",
            Value::Json(_) => "json",
        }
    }
}

/// A value that did not fit the Rust type of its column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, found {found}")]
pub struct ValueError {
    pub expected: &'static str,
    pub found: &'static str,
}

/// A Rust type that can hold one column of a dataset.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a dataset column",
    note = "supported: String, i16, i32, i64, bool, f32, f64, rust_decimal::Decimal, chrono::NaiveDate, \
            chrono::NaiveTime, chrono::NaiveDateTime, chrono::DateTime<Utc>, datasurface::Interval, Vec<u8>, \
            serde_json::Value, and Option<T> of these"
)]
pub trait ColumnValue: Sized {
    /// The value to write for this field.
    fn to_value(&self) -> Value;
    /// Reads the field back from a value.
    fn from_value(value: Value) -> Result<Self, ValueError>;
}

macro_rules! column_value {
    ($($ty:ty => $variant:ident, $kind:literal;)*) => {$(
        impl ColumnValue for $ty {
            fn to_value(&self) -> Value {
                Value::$variant(self.clone())
            }
            fn from_value(value: Value) -> Result<Self, ValueError> {
                match value {
                    Value::$variant(v) => Ok(v),
                    other => Err(ValueError { expected: $kind, found: other.kind() }),
                }
            }
        }
    )*};
}

column_value! {
    bool => Bool, "boolean";
    i16 => Int2, "smallint";
    i32 => Int4, "integer";
    i64 => Int8, "bigint";
    f32 => Float4, "real";
    f64 => Float8, "double precision";
    Decimal => Numeric, "numeric";
    String => Text, "text";
    Vec<u8> => Bytes, "bytea";
    NaiveDate => Date, "date";
    NaiveTime => Time, "time";
    NaiveDateTime => Timestamp, "timestamp";
    DateTime<Utc> => TimestampTz, "timestamptz";
    Interval => Interval, "interval";
    serde_json::Value => Json, "json";
}

impl<T: ColumnValue> ColumnValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A row that could not be turned into its dataset's struct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("dataset {dataset}: a row has {found} values, the dataset has {expected} columns")]
    Arity {
        dataset: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("dataset {dataset}, column {column}: {source}")]
    Column {
        dataset: &'static str,
        column: &'static str,
        source: ValueError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_their_rust_types() {
        let date = NaiveDate::from_ymd_opt(1970, 1, 31).expect("valid date");
        assert_eq!(date.to_value(), Value::Date(date));
        assert_eq!(NaiveDate::from_value(Value::Date(date)), Ok(date));
        assert_eq!("x".to_string().to_value(), Value::Text("x".into()));
        assert_eq!(Option::<i32>::None.to_value(), Value::Null);
        assert_eq!(Some(7_i64).to_value(), Value::Int8(7));
        assert_eq!(Option::<String>::from_value(Value::Null), Ok(None));
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_refused_by_name() {
        let err = i32::from_value(Value::Text("1".into())).unwrap_err();
        assert_eq!(err.to_string(), "expected integer, found text");
        let err = String::from_value(Value::Null).unwrap_err();
        assert_eq!(err.to_string(), "expected text, found NULL");
    }
}
