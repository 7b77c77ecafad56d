//! Code generation for `#[derive(Dataset)]`.

use crate::attrs::{DatasetArgs, FieldArgs, doc_text};
use crate::types::{self, ColumnType};
use darling::{Error, FromDeriveInput};
use datasurface_model::{Classification, DataType, naming};
use heck::{ToLowerCamelCase, ToSnakeCase};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use std::collections::BTreeMap;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

/// One field, checked and ready to generate.
struct ColumnField<'a> {
    field: &'a FieldArgs,
    ident: &'a syn::Ident,
    name: String,
    ty: ColumnType,
    classification: Option<Classification>,
    key: bool,
}

/// Expands the derive, reporting every problem found at once.
pub(crate) fn derive(input: &syn::DeriveInput) -> darling::Result<TokenStream> {
    let args = DatasetArgs::from_derive_input(input)?;
    let mut errors = Error::accumulator();
    let ident = &args.ident;

    if !args.generics.params.is_empty() {
        errors.push(Error::custom("a Dataset struct cannot be generic").with_span(&args.generics));
    }
    let (name, name_span) = match &args.name {
        Some(n) => (n.as_str().to_owned(), n.span()),
        None => (ident.unraw().to_string().to_snake_case(), ident.span()),
    };
    if let Err(e) = naming::check_identifier(&name) {
        let hint = if args.name.is_some() {
            ""
        } else {
            "; name the dataset with #[dataset(name = \"…\")]"
        };
        errors.push(Error::custom(format!("dataset name: {e}{hint}")).with_span(&name_span));
    }
    let classification = args
        .classification
        .as_ref()
        .and_then(|c| errors.handle(parse_classification(c.as_str(), c.span())));
    let camel = match &args.rename_all {
        None => false,
        Some(r) if r.as_str() == "camelCase" => true,
        Some(r) if r.as_str() == "snake_case" => false,
        Some(r) => {
            let msg = format!(
                "unknown rename_all `{}`; expected \"camelCase\" or \"snake_case\"",
                r.as_str()
            );
            errors.push(Error::custom(msg).with_span(&r.span()));
            false
        }
    };

    let fields = args
        .data
        .as_ref()
        .take_struct()
        .map(|s| s.fields)
        .unwrap_or_default();
    let mut columns = Vec::new();
    let mut by_name: BTreeMap<String, &syn::Ident> = BTreeMap::new();
    for &field in &fields {
        let Some(fident) = field.ident.as_ref() else {
            continue;
        };
        let (cname, cspan) = match &field.name {
            Some(n) => (n.as_str().to_owned(), n.span()),
            None if camel => (
                fident.unraw().to_string().to_lower_camel_case(),
                fident.span(),
            ),
            None => (fident.unraw().to_string(), fident.span()),
        };
        if let Err(e) = naming::check_column_name(&cname) {
            let hint = if field.name.is_some() {
                ""
            } else {
                "; rename the column with #[column(name = \"…\")]"
            };
            errors.push(Error::custom(format!("column name: {e}{hint}")).with_span(&cspan));
        }
        match by_name.get(&cname.to_lowercase()) {
            Some(first) => errors.push(
                Error::custom(format!(
                    "fields `{first}` and `{fident}` both map to column `{cname}` (column names are compared without case)"
                ))
                .with_span(&cspan),
            ),
            None => {
                by_name.insert(cname.to_lowercase(), fident);
            }
        }
        let column_classification = field
            .classification
            .as_ref()
            .and_then(|c| errors.handle(parse_classification(c.as_str(), c.span())));
        let key_attr = field.key_attr();
        if let Some(attr) = key_attr
            && !matches!(attr.meta, syn::Meta::Path(_))
        {
            errors.push(
                Error::custom("write the key attribute as plain `#[key]`").with_span(&attr.meta),
            );
        }
        let Some(ty) = errors.handle(types::column_type(field)) else {
            continue;
        };
        if key_attr.is_some() && ty.nullable {
            errors.push(types::spanned(
                &field.ty,
                format!("key field `{fident}` is an Option; key columns are NOT NULL, so key fields cannot be Option"),
            ));
        }
        columns.push(ColumnField {
            field,
            ident: fident,
            name: cname,
            ty,
            classification: column_classification,
            key: key_attr.is_some(),
        });
    }
    if !fields.is_empty() && !fields.iter().any(|f| f.key_attr().is_some()) {
        errors.push(
            Error::custom(format!(
                "dataset `{name}` has no key: mark its primary-key field(s) with #[key]"
            ))
            .with_span(ident),
        );
    }
    if fields.is_empty() {
        errors.push(Error::custom(format!("dataset `{name}` has no fields")).with_span(ident));
    }
    errors.finish()?;

    let krate = args
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::datasurface));
    let description = doc_text(&args.attrs);
    Ok(generate(
        &krate,
        ident,
        &name,
        classification,
        description,
        &columns,
    ))
}

fn parse_classification(text: &str, span: Span) -> darling::Result<Classification> {
    text.parse::<Classification>()
        .map_err(|e| Error::custom(e).with_span(&span))
}

fn generate(
    krate: &syn::Path,
    ident: &syn::Ident,
    name: &str,
    classification: Option<Classification>,
    description: Option<String>,
    columns: &[ColumnField<'_>],
) -> TokenStream {
    let count = columns.len();
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let keys: Vec<&ColumnField<'_>> = columns.iter().filter(|c| c.key).collect();
    let key_names: Vec<&str> = keys.iter().map(|c| c.name.as_str()).collect();
    let key_idents: Vec<&syn::Ident> = keys.iter().map(|c| c.ident).collect();
    let key_tys: Vec<&syn::Type> = keys.iter().map(|c| &c.field.ty).collect();
    let bindings: Vec<syn::Ident> = (0..count).map(|i| format_ident!("__value{i}")).collect();

    let schema_columns = columns.iter().map(|c| {
        let name = &c.name;
        let data_type = data_type_tokens(krate, c.ty.data_type);
        let nullable = c.ty.nullable;
        let class = classification_tokens(krate, c.classification);
        let description = optional_string(doc_text(&c.field.attrs));
        quote! {
            .column(#krate::Column {
                name: ::std::string::String::from(#name),
                data_type: #data_type,
                nullable: #nullable,
                classification: #class,
                description: #description,
            })
        }
    });
    let dataset_description = description.map(|d| quote!(.described(#d)));
    let dataset_class = classification.map(|c| {
        let variant = format_ident!("{c:?}");
        quote!(.classified(#krate::Classification::#variant))
    });
    let to_values = columns.iter().map(|c| {
        let (ty, field) = (&c.field.ty, c.ident);
        quote_spanned!(ty.span()=> <#ty as #krate::ColumnValue>::to_value(&self.#field))
    });
    let from_values = columns.iter().zip(&bindings).map(|(c, binding)| {
        let (ty, field, column) = (&c.field.ty, c.ident, &c.name);
        let read = quote_spanned!(ty.span()=> <#ty as #krate::ColumnValue>::from_value(#binding));
        quote! {
            #field: #read.map_err(|source| #krate::RowError::Column {
                dataset: #name,
                column: #column,
                source,
            })?
        }
    });

    quote! {
        #[automatically_derived]
        impl #krate::Dataset for #ident {
            const NAME: &'static str = #name;
            const COLUMNS: &'static [&'static str] = &[#(#names),*];
            const KEY: &'static [&'static str] = &[#(#key_names),*];

            fn schema() -> #krate::DatasetSchema {
                #krate::DatasetSchema::new(#name)
                    #(#schema_columns)*
                    .key([#(#key_names),*])
                    #dataset_class
                    #dataset_description
            }

            fn to_row(&self) -> ::std::vec::Vec<#krate::Value> {
                ::std::vec![#(#to_values),*]
            }

            fn from_row(
                row: ::std::vec::Vec<#krate::Value>,
            ) -> ::std::result::Result<Self, #krate::RowError> {
                let [#(#bindings),*]: [#krate::Value; #count] = row.try_into().map_err(
                    |row: ::std::vec::Vec<#krate::Value>| #krate::RowError::Arity {
                        dataset: #name,
                        expected: #count,
                        found: row.len(),
                    },
                )?;
                ::std::result::Result::Ok(Self { #(#from_values),* })
            }

            fn key(&self) -> ::std::vec::Vec<#krate::Value> {
                ::std::vec![#(<#key_tys as #krate::ColumnValue>::to_value(&self.#key_idents)),*]
            }
        }
    }
}

fn data_type_tokens(krate: &syn::Path, dt: DataType) -> TokenStream {
    let t = quote!(#krate::DataType);
    match dt {
        DataType::Varchar(n) => quote!(#t::Varchar(#n)),
        DataType::Char(n) => quote!(#t::Char(#n)),
        DataType::Numeric(Some((p, s))) => {
            quote!(#t::Numeric(::std::option::Option::Some((#p, #s))))
        }
        DataType::Numeric(None) => quote!(#t::Numeric(::std::option::Option::None)),
        other => {
            let variant = format_ident!("{other:?}");
            quote!(#t::#variant)
        }
    }
}

fn optional_string(text: Option<String>) -> TokenStream {
    match text {
        Some(text) => quote!(::std::option::Option::Some(::std::string::String::from(#text))),
        None => quote!(::std::option::Option::None),
    }
}

fn classification_tokens(krate: &syn::Path, c: Option<Classification>) -> TokenStream {
    match c {
        Some(c) => {
            let variant = format_ident!("{c:?}");
            quote!(::std::option::Option::Some(#krate::Classification::#variant))
        }
        None => quote!(::std::option::Option::None),
    }
}
