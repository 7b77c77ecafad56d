//! Rust field type (plus column attributes) → column data type and nullability.
//!
//! The mapping is syntactic, on the last path segment of the field's type, so an
//! unsupported type is refused at the type itself with the list of what is supported.

use crate::attrs::FieldArgs;
use darling::Error;
use datasurface_model::DataType;
use quote::ToTokens;
use syn::spanned::Spanned;

/// A field's column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnType {
    pub(crate) data_type: DataType,
    pub(crate) nullable: bool,
}

/// What a Rust type is, before attributes refine it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Decimal,
    Json,
    Fixed(DataType),
}

const SUPPORTED: &str = "String, i16, i32, i64, bool, f32, f64, rust_decimal::Decimal, chrono::NaiveDate, \
chrono::NaiveTime, chrono::NaiveDateTime, chrono::DateTime<Utc>, datasurface::Interval, Vec<u8>, \
serde_json::Value, or Option<T> of one of these";

/// The column type of `field`.
pub(crate) fn column_type(field: &FieldArgs) -> darling::Result<ColumnType> {
    let (inner, nullable) = match generic_of(&field.ty, "Option") {
        Some(inner) if generic_of(inner, "Option").is_some() => {
            return Err(Error::custom(
                "`Option<Option<…>>` cannot be a column: a column is NULL or a value",
            )
            .with_span(&field.ty));
        }
        Some(inner) => (inner, true),
        None => (&field.ty, false),
    };
    let kind = kind_of(inner).ok_or_else(|| {
        Error::custom(format!(
            "unsupported column type `{}`; supported: {SUPPORTED}",
            tidy(inner)
        ))
        .with_span(inner)
    })?;
    let data_type = refine(kind, field, inner)?;
    if let Err(why) = data_type.check() {
        let span = field
            .varchar
            .as_ref()
            .map(|v| v.span())
            .or(field.char.as_ref().map(|v| v.span()))
            .or(field.numeric.as_ref().map(|v| v.span()))
            .unwrap_or_else(|| inner.span());
        return Err(Error::custom(why).with_span(&span));
    }
    Ok(ColumnType {
        data_type,
        nullable,
    })
}

fn kind_of(ty: &syn::Type) -> Option<Kind> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let segments = &path.path.segments;
    let last = segments.last()?;
    let fixed = |t| Some(Kind::Fixed(t));
    match last.ident.to_string().as_str() {
        "String" => Some(Kind::String),
        "i16" => fixed(DataType::SmallInt),
        "i32" => fixed(DataType::Integer),
        "i64" => fixed(DataType::BigInt),
        "bool" => fixed(DataType::Boolean),
        "f32" => fixed(DataType::Real),
        "f64" => fixed(DataType::DoublePrecision),
        "Decimal" => Some(Kind::Decimal),
        "NaiveDate" => fixed(DataType::Date),
        "NaiveTime" => fixed(DataType::Time),
        "NaiveDateTime" => fixed(DataType::Timestamp),
        "DateTime" => fixed(DataType::TimestampTz),
        "Interval" => fixed(DataType::Interval),
        "Vec" => match generic_of(ty, "Vec")? {
            syn::Type::Path(p) if p.path.is_ident("u8") => fixed(DataType::Bytea),
            _ => None,
        },
        "JsonValue" => Some(Kind::Json),
        "Value" if segments.len() >= 2 && segments[segments.len() - 2].ident == "serde_json" => {
            Some(Kind::Json)
        }
        _ => None,
    }
}

/// Applies the type attributes (`varchar`, `char`, `text`, `numeric`, `json`) to a kind,
/// refusing those that do not belong to it.
fn refine(kind: Kind, field: &FieldArgs, ty: &syn::Type) -> darling::Result<DataType> {
    let mut given: Vec<(&str, proc_macro2::Span)> = Vec::new();
    if let Some(v) = &field.varchar {
        given.push(("varchar", v.span()));
    }
    if let Some(v) = &field.char {
        given.push(("char", v.span()));
    }
    if field.text.is_present() {
        given.push(("text", field.text.span()));
    }
    if let Some(v) = &field.numeric {
        given.push(("numeric", v.span()));
    }
    if field.json.is_present() {
        given.push(("json", field.json.span()));
    }
    if let [_, (second, span), ..] = given.as_slice() {
        return Err(Error::custom(format!(
            "`{}` and `{second}` cannot both type one column",
            given[0].0
        ))
        .with_span(span));
    }
    let fits = |attr: &str| match kind {
        Kind::String => matches!(attr, "varchar" | "char" | "text"),
        Kind::Decimal => attr == "numeric",
        Kind::Json => attr == "json",
        Kind::Fixed(_) => false,
    };
    if let Some((attr, span)) = given.first()
        && !fits(attr)
    {
        let owner = match *attr {
            "numeric" => "rust_decimal::Decimal",
            "json" => "serde_json::Value",
            _ => "String",
        };
        return Err(Error::custom(format!(
            "`{attr}` applies to {owner} fields, not to `{}`",
            tidy(ty)
        ))
        .with_span(span));
    }
    Ok(match kind {
        Kind::String => match (&field.varchar, &field.char) {
            (Some(n), _) => DataType::Varchar(**n),
            (_, Some(n)) => DataType::Char(**n),
            _ => DataType::Text,
        },
        Kind::Decimal => DataType::Numeric(
            field
                .numeric
                .as_ref()
                .and_then(|n| n.as_ref().clone().explicit())
                .map(|n| (n.precision, n.scale)),
        ),
        Kind::Json if field.json.is_present() => DataType::Json,
        Kind::Json => DataType::Jsonb,
        Kind::Fixed(t) => t,
    })
}

/// An error over the whole of `tokens` (darling's own spans cover only their first token).
pub(crate) fn spanned(tokens: impl ToTokens, message: impl std::fmt::Display) -> Error {
    syn::Error::new_spanned(tokens, message).into()
}

/// The type argument of `ty` when `ty` is `Name<T>` (by its last path segment).
fn generic_of<'a>(ty: &'a syn::Type, name: &str) -> Option<&'a syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

/// A type as a person writes it: `HashMap<String, i32>`, not `HashMap < String , i32 >`.
pub(crate) fn tidy(ty: &syn::Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace("& ", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use darling::FromField;

    fn field(tokens: proc_macro2::TokenStream) -> FieldArgs {
        let named: syn::FieldsNamed = syn::parse2(quote::quote!({ #tokens })).expect("fields");
        let f = named.named.first().expect("one field");
        FieldArgs::from_field(f).expect("field attributes")
    }

    fn map(tokens: proc_macro2::TokenStream) -> Result<ColumnType, String> {
        column_type(&field(tokens)).map_err(|e| e.to_string())
    }

    fn ok(dt: DataType, nullable: bool) -> Result<ColumnType, String> {
        Ok(ColumnType {
            data_type: dt,
            nullable,
        })
    }

    #[test]
    fn rust_types_map_to_postgres_types() {
        assert_eq!(map(quote::quote!(a: String)), ok(DataType::Text, false));
        assert_eq!(
            map(quote::quote!(#[column(varchar = 20)] a: String)),
            ok(DataType::Varchar(20), false)
        );
        assert_eq!(
            map(quote::quote!(#[column(char = 2)] a: String)),
            ok(DataType::Char(2), false)
        );
        assert_eq!(
            map(quote::quote!(#[column(text)] a: std::string::String)),
            ok(DataType::Text, false)
        );
        assert_eq!(map(quote::quote!(a: i16)), ok(DataType::SmallInt, false));
        assert_eq!(map(quote::quote!(a: i32)), ok(DataType::Integer, false));
        assert_eq!(map(quote::quote!(a: i64)), ok(DataType::BigInt, false));
        assert_eq!(map(quote::quote!(a: bool)), ok(DataType::Boolean, false));
        assert_eq!(map(quote::quote!(a: f32)), ok(DataType::Real, false));
        assert_eq!(
            map(quote::quote!(a: f64)),
            ok(DataType::DoublePrecision, false)
        );
        assert_eq!(
            map(quote::quote!(a: Decimal)),
            ok(DataType::Numeric(None), false)
        );
        assert_eq!(
            map(
                quote::quote!(#[column(numeric(precision = 10, scale = 2))] a: rust_decimal::Decimal)
            ),
            ok(DataType::Numeric(Some((10, 2))), false)
        );
        assert_eq!(
            map(quote::quote!(a: chrono::NaiveDate)),
            ok(DataType::Date, false)
        );
        assert_eq!(map(quote::quote!(a: NaiveTime)), ok(DataType::Time, false));
        assert_eq!(
            map(quote::quote!(a: NaiveDateTime)),
            ok(DataType::Timestamp, false)
        );
        assert_eq!(
            map(quote::quote!(a: DateTime<Utc>)),
            ok(DataType::TimestampTz, false)
        );
        assert_eq!(
            map(quote::quote!(a: Interval)),
            ok(DataType::Interval, false)
        );
        assert_eq!(map(quote::quote!(a: Vec<u8>)), ok(DataType::Bytea, false));
        assert_eq!(
            map(quote::quote!(a: serde_json::Value)),
            ok(DataType::Jsonb, false)
        );
        assert_eq!(
            map(quote::quote!(#[column(json)] a: serde_json::Value)),
            ok(DataType::Json, false)
        );
    }

    #[test]
    fn option_makes_a_column_nullable() {
        assert_eq!(
            map(quote::quote!(#[column(varchar = 9)] a: Option<String>)),
            ok(DataType::Varchar(9), true)
        );
        assert_eq!(
            map(quote::quote!(a: std::option::Option<i64>)),
            ok(DataType::BigInt, true)
        );
        let err = map(quote::quote!(a: Option<Option<i64>>)).unwrap_err();
        assert!(err.contains("Option<Option<…>>"), "{err}");
    }

    #[test]
    fn unsupported_types_and_misplaced_attributes_are_refused() {
        let err = map(quote::quote!(a: HashMap<String, i32>)).unwrap_err();
        assert!(
            err.starts_with("unsupported column type `HashMap<String, i32>`; supported: String"),
            "{err}"
        );
        assert!(map(quote::quote!(a: Vec<String>)).is_err());
        assert!(map(quote::quote!(a: Value)).is_err());
        assert!(map(quote::quote!(a: u32)).is_err());
        let err = map(quote::quote!(#[column(varchar = 5)] a: i32)).unwrap_err();
        assert_eq!(err, "`varchar` applies to String fields, not to `i32`");
        let err = map(quote::quote!(#[column(numeric(precision = 5))] a: f64)).unwrap_err();
        assert_eq!(
            err,
            "`numeric` applies to rust_decimal::Decimal fields, not to `f64`"
        );
        let err = map(quote::quote!(#[column(varchar = 5, char = 5)] a: String)).unwrap_err();
        assert_eq!(err, "`varchar` and `char` cannot both type one column");
        let err = map(quote::quote!(#[column(varchar = 0)] a: String)).unwrap_err();
        assert_eq!(err, "length 0 of varchar(0) is outside 1..=10485760");
        let err = map(quote::quote!(#[column(numeric(precision = 4, scale = 6))] a: Decimal))
            .unwrap_err();
        assert_eq!(
            err,
            "scale 6 of numeric(4,6) is larger than its precision 4"
        );
    }
}
