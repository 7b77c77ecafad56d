//! Derive macros for DataSurface models.
//!
//! `#[derive(Dataset)]` turns a struct into a dataset of the model: one column per field,
//! in order, typed from the field's Rust type, with the `#[key]` fields as primary key.
//! Use it through the `datasurface` crate, which re-exports it next to the trait.
//!
//! The attribute handling lives in [`attrs`], the Rust-type mapping in [`types`], and the
//! code generation in [`expand`]; each works on `proc_macro2` tokens, so it is tested
//! without the proc-macro boundary.

mod attrs;
mod expand;
mod types;

use proc_macro::TokenStream;

/// Derives `datasurface::Dataset` for a struct with named fields.
///
/// ```
/// use datasurface::chrono::NaiveDate;
/// use datasurface::{Classification, DataType, Dataset};
///
/// #[derive(Dataset)]
/// #[dataset(name = "customers", classification = "personal")]
/// pub struct Customer {
///     #[key]
///     #[column(varchar = 20)]
///     pub id: String,
///     #[column(varchar = 100)]
///     pub firstname: String,
///     pub dob: NaiveDate,
///     #[column(varchar = 100, classification = "sensitive_personal")]
///     pub email: Option<String>,
/// }
///
/// let schema = Customer::schema();
/// assert_eq!(schema.name, "customers");
/// assert_eq!(Customer::KEY, ["id"]);
/// assert_eq!(schema.columns[3].data_type, DataType::Varchar(100));
/// assert!(schema.columns[3].nullable);
/// assert_eq!(schema.columns[3].classification, Some(Classification::SensitivePersonal));
/// ```
///
/// Struct attributes, `#[dataset(…)]`:
/// - `name = "…"`: the dataset's name (default: the struct's name in snake_case);
/// - `classification = "…"`: public, internal, confidential, personal, sensitive_personal;
/// - `rename_all = "camelCase"`: column names from field names in camelCase;
/// - `crate = "path"`: where the DataSurface items live (default `::datasurface`).
///
/// Field attributes:
/// - `#[key]`: the field is part of the primary key (in declaration order);
/// - `#[column(name = "…")]`: the column's name (default: the field's name);
/// - `#[column(varchar = N)]`, `#[column(char = N)]`, `#[column(text)]` on `String`
///   (default `text`);
/// - `#[column(numeric(precision = P, scale = S))]` on `rust_decimal::Decimal`
///   (default: unconstrained `numeric`);
/// - `#[column(json)]` on `serde_json::Value` (default `jsonb`);
/// - `#[column(classification = "…")]`.
///
/// Rust types: `String`, `i16`, `i32`, `i64`, `bool`, `f32`, `f64`, `Decimal`,
/// `NaiveDate`, `NaiveTime`, `NaiveDateTime`, `DateTime<Utc>`, `Interval`, `Vec<u8>`,
/// `serde_json::Value`; `Option<T>` makes the column nullable.
#[proc_macro_derive(Dataset, attributes(dataset, column, key))]
pub fn derive_dataset(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(darling::Error::write_errors)
        .into()
}
