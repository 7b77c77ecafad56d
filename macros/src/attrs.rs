//! The `#[dataset(…)]`, `#[column(…)]` and `#[key]` attributes, read with darling.

use darling::util::{Flag, Override, SpannedValue};
use darling::{FromDeriveInput, FromField, FromMeta};

/// `#[dataset(…)]` on the struct.
#[derive(Debug, FromDeriveInput)]
#[darling(attributes(dataset), supports(struct_named), forward_attrs(doc))]
pub(crate) struct DatasetArgs {
    pub(crate) ident: syn::Ident,
    /// The struct's doc comment: the dataset's description in the catalog.
    pub(crate) attrs: Vec<syn::Attribute>,
    pub(crate) generics: syn::Generics,
    pub(crate) data: darling::ast::Data<(), FieldArgs>,
    pub(crate) name: Option<SpannedValue<String>>,
    pub(crate) classification: Option<SpannedValue<String>>,
    pub(crate) rename_all: Option<SpannedValue<String>>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

/// `#[column(…)]` and `#[key]` on a field.
#[derive(Debug, FromField)]
#[darling(attributes(column), forward_attrs(key, doc))]
pub(crate) struct FieldArgs {
    pub(crate) ident: Option<syn::Ident>,
    pub(crate) ty: syn::Type,
    pub(crate) attrs: Vec<syn::Attribute>,
    pub(crate) name: Option<SpannedValue<String>>,
    pub(crate) varchar: Option<SpannedValue<u32>>,
    pub(crate) char: Option<SpannedValue<u32>>,
    pub(crate) text: Flag,
    pub(crate) numeric: Option<SpannedValue<Override<NumericArgs>>>,
    pub(crate) json: Flag,
    pub(crate) classification: Option<SpannedValue<String>>,
}

/// `numeric(precision = P, scale = S)`.
#[derive(Debug, Clone, Copy, FromMeta)]
pub(crate) struct NumericArgs {
    pub(crate) precision: u16,
    #[darling(default)]
    pub(crate) scale: u16,
}

/// The text of the doc comments among `attrs`, lines joined with spaces, if any.
pub(crate) fn doc_text(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join(" ").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

impl FieldArgs {
    /// The `#[key]` attribute of the field, if it has one.
    pub(crate) fn key_attr(&self) -> Option<&syn::Attribute> {
        self.attrs.iter().find(|a| a.path().is_ident("key"))
    }
}
