//! Workspace views: what consumers query. `…_view_live` holds the current rows with the
//! dataset's columns only; on forensic platforms `…_view_full` holds every version with
//! its batch milestones.

use super::names::{BATCH_IN, BATCH_OUT, CURRENT, q, quoted};
use super::statement::Statement;
use super::typed::{Columns, Query, Row};
use crate::text::text;
use datasurface_model::naming::{self, ViewKind};
use datasurface_model::{DatasetSchema, PlatformMode, YellowPlatform};

/// One view of a sink of a dataset group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub name: String,
    pub kind: ViewKind,
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// Creates it (`CREATE VIEW`, so a changed view is dropped first).
    pub create: Statement,
    pub drop: Statement,
}

/// The views of one sink (`store`.`dataset` in `workspace`.`dsg`) on `platform`.
pub fn views(
    platform: &YellowPlatform,
    workspace: &str,
    dsg: &str,
    store: &str,
    dataset: &DatasetSchema,
) -> Vec<View> {
    let merge = q(&naming::merge_table(&platform.name, store, &dataset.name));
    let business: Vec<String> = dataset.columns.iter().map(|c| c.name.clone()).collect();
    let list = quoted(business.iter().map(String::as_str), "");
    let view = |kind: ViewKind, columns: Vec<String>, select: String, what: &str| {
        let name = naming::view_name(&platform.name, workspace, dsg, store, &dataset.name, kind);
        View {
            create: Statement::new(
                text!("{what} of {store}.{} for {workspace}.{dsg}", dataset.name),
                format_args!("CREATE VIEW {} AS {select}", q(&name)),
            ),
            drop: Statement::new(
                text!("Drop the view {name}"),
                format_args!("DROP VIEW IF EXISTS {}", q(&name)),
            ),
            name,
            kind,
            columns,
        }
    };
    match platform.mode {
        PlatformMode::Live => vec![view(
            ViewKind::Live,
            business.clone(),
            text!("SELECT {list} FROM {merge}"),
            "The current rows",
        )],
        PlatformMode::Forensic => {
            let full: Vec<String> = business
                .iter()
                .cloned()
                .chain([BATCH_IN.to_owned(), BATCH_OUT.to_owned()])
                .collect();
            vec![
                view(
                    ViewKind::Live,
                    business.clone(),
                    text!(
                        "SELECT {list} FROM {merge} WHERE {} = {CURRENT}",
                        q(BATCH_OUT)
                    ),
                    "The current rows",
                ),
                view(
                    ViewKind::Full,
                    full,
                    text!(
                        "SELECT {list}, {}, {} FROM {merge}",
                        q(BATCH_IN),
                        q(BATCH_OUT)
                    ),
                    "Every version, with the batches it was current in,",
                ),
            ]
        }
    }
}

/// From a `…_view_full` of `dataset`: every version of the key with the most versions (the
/// first such key in key order), oldest first, each column as text. What `demo` shows.
pub fn longest_history(view: &str, dataset: &DatasetSchema) -> Query<(), Version> {
    let view = q(view);
    let keys = quoted(dataset.primary_key.iter().map(String::as_str), "");
    let columns = dataset
        .columns
        .iter()
        .map(|c| text!("{}::text", q(&c.name)))
        .collect::<Vec<_>>()
        .join(", ");
    Query::new(
        text!(
            "The versions of the {} key with the most history",
            dataset.name
        ),
        format_args!(
            "SELECT {columns}, {bin}, {bout} FROM {view} WHERE ({keys}) = \
             (SELECT {keys} FROM {view} GROUP BY {keys} ORDER BY count(*) DESC, {keys} LIMIT 1) ORDER BY {bin}",
            bin = q(BATCH_IN),
            bout = q(BATCH_OUT),
        ),
    )
}

/// One version of a key as a forensic view shows it: the dataset's columns as text (`None`
/// for NULL), then the batches it was current in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub values: Vec<Option<String>>,
    pub batch_in: i32,
    /// [`CURRENT`](super::CURRENT) while it is current.
    pub batch_out: i32,
}

impl Row for Version {
    fn read<C: Columns>(columns: &C) -> Result<Self, C::Error> {
        let values = columns.len().saturating_sub(2);
        Ok(Version {
            values: (0..values)
                .map(|i| columns.get(i))
                .collect::<Result<_, _>>()?,
            batch_in: columns.get(values)?,
            batch_out: columns.get(values + 1)?,
        })
    }
}
