//! Typed statements: a [`Statement`] with the Rust types of its parameters and of its rows.
//!
//! A parameter struct (declared with [`params!`](crate::params)) numbers its fields `$1`,
//! `$2`, … in the order they are declared, and a row struct (declared with
//! [`row!`](crate::row)) reads its fields from the columns of a `SELECT` list in that order, so
//! each order is written once: the SQL takes its placeholders from the parameter struct
//! (`Committed::batch` is `$2`) and its `SELECT` list from the row struct
//! ([`Row::select_list`]). The PostgreSQL layer binds [`Params::values`] and reads rows
//! through [`Columns`]; nothing else counts `$n` or column positions.

use super::statement::Statement;
use std::fmt;
use std::marker::PhantomData;

pub use postgres_types::{FromSql, ToSql};

/// The parameters of a statement: a struct whose fields are `$1`, `$2`, … in declaration
/// order (declare it with [`params!`](crate::params)), or [`Texts`] where the statement's
/// shape follows a dataset's columns.
pub trait Params: Sync {
    /// The values, in `$n` order: what the PostgreSQL layer binds.
    fn values(&self) -> Vec<&(dyn ToSql + Sync)>;
}

/// No parameters.
impl Params for () {
    fn values(&self) -> Vec<&(dyn ToSql + Sync)> {
        Vec::new()
    }
}

/// The rows a statement returns: a struct whose fields are the columns of its `SELECT`
/// list, in declaration order (declare it with [`row!`](crate::row)), or [`TextRow`] where
/// the columns follow a dataset's.
pub trait Row: Sized {
    /// Reads one row.
    fn read<C: Columns>(columns: &C) -> Result<Self, C::Error>;
}

/// Values bound as text, `$1`… in order: the parameters of a statement whose shape follows
/// a dataset's columns (each placeholder casts to its column's type). `None` is NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Texts<'a>(pub Vec<Option<&'a str>>);

impl Params for Texts<'_> {
    fn values(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
    }
}

/// Every column of a row as text (`None` for NULL): the rows of a query whose columns
/// follow a dataset's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRow(pub Vec<Option<String>>);

impl Row for TextRow {
    fn read<C: Columns>(columns: &C) -> Result<Self, C::Error> {
        (0..columns.len())
            .map(|i| columns.get(i))
            .collect::<Result<_, _>>()
            .map(TextRow)
    }
}

/// One row of a single column: the value of a query such as `SELECT count(*) FROM …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Single<T>(pub T);

impl<T: for<'a> FromSql<'a>> Row for Single<T> {
    fn read<C: Columns>(columns: &C) -> Result<Self, C::Error> {
        columns.get(0).map(Single)
    }
}

/// One row as the PostgreSQL layer received it.
pub trait Columns {
    /// Why a value could not be read as the type asked for.
    type Error;

    /// How many columns it has.
    fn len(&self) -> usize;

    /// Whether it has no column.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of column `index`, as `T`.
    fn get<'a, T: FromSql<'a>>(&'a self, index: usize) -> Result<T, Self::Error>;
}

/// A `$n` placeholder of a parameter struct: `$n` as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

impl Slot {
    /// The placeholder of the field called `name` among `names` (a parameter struct's
    /// `NAMES`).
    /// Evaluated at compile time where it declares a field's constant: a name that is not
    /// there does not compile.
    pub const fn of(names: &[&str], name: &str) -> Slot {
        let mut i = 0;
        while i < names.len() {
            if eq(names[i], name) {
                return Slot(i + 1);
            }
            i += 1;
        }
        panic!("no such parameter")
    }

    /// Its number: 1 for `$1`.
    pub const fn number(self) -> usize {
        self.0
    }
}

const fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.0)
    }
}

/// A statement that takes the parameters `P` and returns rows of `R` (`()`: it returns
/// none, and the PostgreSQL layer gives the number of rows it changed).
pub struct Query<P, R = ()> {
    statement: Statement,
    // Covariant in both, so a statement of `Stream<'static>` takes a `Stream<'a>`.
    types: PhantomData<fn() -> (P, R)>,
}

impl<P: Params, R> Query<P, R> {
    /// `body`, run for the reason `what` (a sentence without its final full stop).
    pub(crate) fn new(what: impl Into<String>, body: impl fmt::Display) -> Self {
        Query {
            statement: Statement::new(what, body),
            types: PhantomData,
        }
    }

    /// The statement: what it does and its text.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }
}

impl<P, R> Clone for Query<P, R> {
    fn clone(&self) -> Self {
        Query {
            statement: self.statement.clone(),
            types: PhantomData,
        }
    }
}

impl<P, R> PartialEq for Query<P, R> {
    fn eq(&self, other: &Self) -> bool {
        self.statement == other.statement
    }
}

impl<P, R> Eq for Query<P, R> {}

impl<P, R> fmt::Debug for Query<P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("statement", &self.statement)
            .field("params", &std::any::type_name::<P>())
            .field("row", &std::any::type_name::<R>())
            .finish()
    }
}

impl<P, R> fmt::Display for Query<P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.statement, f)
    }
}

impl<P, R> AsRef<Statement> for Query<P, R> {
    fn as_ref(&self) -> &Statement {
        &self.statement
    }
}

/// Declares the parameter struct of a statement: the struct, its [`Params`] (fields are
/// `$1`, `$2`, … in the order written) and, per field, a constant of the same name holding
/// its [`Slot`], for the SQL to write (`format!("WHERE key = {}", Commit::key)`).
#[macro_export]
macro_rules! params {
    ($(#[$meta:meta])* pub struct $name:ident $(<$lt:lifetime>)? {
        $($(#[$field_meta:meta])* pub $field:ident: $ty:ty),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name $(<$lt>)? {
            $($(#[$field_meta])* pub $field: $ty),+
        }

        impl $(<$lt>)? $crate::sql::typed::Params for $name $(<$lt>)? {
            fn values(&self) -> ::std::vec::Vec<&(dyn $crate::sql::typed::ToSql + Sync)> {
                ::std::vec![$(&self.$field),+]
            }
        }

        #[allow(non_upper_case_globals)]
        impl $(<$lt>)? $name $(<$lt>)? {
            /// The fields' names, in `$n` order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];

            $(
                #[doc = concat!("The placeholder of `", stringify!($field), "`.")]
                pub const $field: $crate::sql::typed::Slot = $crate::sql::typed::Slot::of(
                    Self::NAMES,
                    stringify!($field),
                );
            )+
        }
    };
}

/// Declares the row struct of a query: the struct and its [`Row`]. Fields are read from the
/// `SELECT` list's columns in the order written; `select_list()` writes the list: a field is
/// the column of its name, or, with `= expression`, that SQL (any Rust expression that
/// displays as it).
#[macro_export]
macro_rules! row {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$field_meta:meta])* pub $field:ident: $ty:ty $(= $sql:expr)?),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty),+
        }

        impl $name {
            /// The `SELECT` list of the fields, in order.
            pub fn select_list() -> String {
                [$($crate::row!(@item $field $($sql)?)),+].join(", ")
            }
        }

        impl $crate::sql::typed::Row for $name {
            fn read<C: $crate::sql::typed::Columns>(
                columns: &C,
            ) -> ::std::result::Result<Self, C::Error> {
                let mut index = 0;
                let mut next = || {
                    index += 1;
                    index - 1
                };
                Ok($name {
                    $($field: columns.get(next())?),+
                })
            }
        }
    };
    (@item $field:ident) => {
        stringify!($field).to_string()
    };
    (@item $field:ident $sql:expr) => {
        ($sql).to_string()
    };
}

#[cfg(test)]
#[allow(unreachable_pub)]
mod tests {
    use super::*;

    crate::params! {
        /// Two parameters.
        pub struct Pair<'a> {
            pub key: &'a str,
            pub batch: i32,
        }
    }

    crate::row! {
        /// Two columns.
        pub struct Counted {
            pub key: String,
            pub n: i64 = "count(*)",
        }
    }

    struct Fixed;

    impl Columns for Fixed {
        type Error = String;

        fn len(&self) -> usize {
            2
        }

        fn get<'a, T: FromSql<'a>>(&'a self, index: usize) -> Result<T, String> {
            let (ty, raw): (_, &'a [u8]) = match index {
                0 => (postgres_types::Type::TEXT, b"people"),
                1 => (postgres_types::Type::INT8, &[0, 0, 0, 0, 0, 0, 0, 7]),
                _ => unreachable!("two columns"),
            };
            T::from_sql(&ty, raw).map_err(|e| e.to_string())
        }
    }

    #[test]
    fn parameters_are_numbered_in_declaration_order() {
        assert_eq!(Pair::NAMES, ["key", "batch"]);
        assert_eq!(format!("{} {}", Pair::key, Pair::batch), "$1 $2");
        let p = Pair {
            key: "Store1",
            batch: 3,
        };
        assert_eq!(p.values().len(), 2);
    }

    #[test]
    fn rows_read_their_columns_in_declaration_order() {
        assert_eq!(Counted::select_list(), "key, count(*)");
        assert_eq!(
            Counted::read(&Fixed),
            Ok(Counted {
                key: "people".into(),
                n: 7
            })
        );
    }
}
