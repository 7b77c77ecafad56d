//! Lineage as an SVG drawn on the server, in fixed layers from left to right: source
//! database → datastore → dataset → platform merge table → workspace view.
//!
//! A page draws the neighbourhood of what it shows, never the whole graph: each layer keeps
//! at most [`MAX_PER_LAYER`] nodes and says how many more there are, so a store of a
//! thousand datasets draws as fast as one of three.

use crate::catalog::{Catalog, dataset_path};
use crate::links::Links;
use datasurface_model::naming;
use std::fmt::Write;

/// The most nodes a layer shows.
pub const MAX_PER_LAYER: usize = 8;

const LAYERS: [&str; 5] = [
    "source database",
    "datastore",
    "dataset",
    "merge table",
    "workspace view",
];
const COLUMN_WIDTH: usize = 230;
const NODE_WIDTH: usize = 200;
const NODE_HEIGHT: usize = 34;
const ROW_HEIGHT: usize = 46;
const TOP: usize = 30;

#[derive(Debug, Default)]
struct Layer {
    /// (id, label, link)
    nodes: Vec<(String, String, Option<String>)>,
    /// Nodes left out.
    more: usize,
}

/// A lineage drawing being built.
#[derive(Debug, Default)]
pub struct Lineage {
    layers: [Layer; 5],
    edges: Vec<(String, String)>,
}

impl Lineage {
    /// The lineage of `datasets` (store, dataset): their sources, their merge tables on
    /// every platform that ingests them, and the views their readers query.
    pub fn of_datasets<'a>(
        catalog: &Catalog,
        links: &Links,
        datasets: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Lineage {
        let mut g = Lineage::default();
        for (store, dataset) in datasets {
            let Some((s, _)) = catalog.dataset(store, dataset) else {
                continue;
            };
            let ds_id = format!("d:{store}.{dataset}");
            if !g.node(
                2,
                &ds_id,
                &format!("{store}.{dataset}"),
                Some(links.to(&dataset_path(store, dataset))),
            ) {
                continue;
            }
            let store_id = format!("s:{store}");
            g.node(
                1,
                &store_id,
                store,
                Some(links.to(&format!("stores/{store}"))),
            );
            g.edge(&store_id, &ds_id);
            if let Some(snap) = s.sql_snapshot() {
                let db = &snap.database;
                let db_id = format!("b:{}", db.name);
                let label = format!("{} ({}/{})", db.name, db.host, db.database);
                g.node(0, &db_id, &label, None);
                g.edge(&db_id, &store_id);
            }
            for stream in catalog.streams_of(store, dataset) {
                let table = naming::merge_table(&stream.platform, store, dataset);
                let merge_id = format!("m:{table}");
                let label = format!("{}: {table}", stream.platform);
                let link = links.to(&format!("platforms/{}", stream.platform));
                g.node(3, &merge_id, &label, Some(link));
                g.edge(&ds_id, &merge_id);
                for reader in catalog.readers(store, dataset) {
                    for (platform, views) in &reader.platforms {
                        if *platform != stream.platform {
                            continue;
                        }
                        for view in views {
                            let view_id = format!("v:{view}");
                            let link = links.to(&format!("workspaces/{}", reader.workspace));
                            g.node(4, &view_id, view, Some(link));
                            g.edge(&merge_id, &view_id);
                        }
                    }
                }
            }
        }
        g
    }

    /// Says the drawing's datasets are `total` in all: those not drawn are counted as
    /// more (for a page that drew only the first few of many).
    pub fn of_total(mut self, total: usize) -> Lineage {
        let layer = &mut self.layers[2];
        layer.more = total.saturating_sub(layer.nodes.len());
        self
    }

    /// Adds a node unless its layer is full (counted as one more) or it is there already;
    /// whether the node is drawn.
    fn node(&mut self, layer: usize, id: &str, label: &str, link: Option<String>) -> bool {
        let l = &mut self.layers[layer];
        if l.nodes.iter().any(|(i, _, _)| i == id) {
            return true;
        }
        if l.nodes.len() >= MAX_PER_LAYER {
            l.more += 1;
            return false;
        }
        l.nodes.push((id.to_owned(), label.to_owned(), link));
        true
    }

    fn edge(&mut self, from: &str, to: &str) {
        let e = (from.to_owned(), to.to_owned());
        if !self.edges.contains(&e) {
            self.edges.push(e);
        }
    }

    fn position(&self, id: &str) -> Option<(usize, usize)> {
        self.layers.iter().enumerate().find_map(|(l, layer)| {
            let row = layer.nodes.iter().position(|(i, _, _)| i == id)?;
            Some((l, row))
        })
    }

    /// The drawing, as an `<svg>` element. Every label is escaped here: the result goes
    /// into the page as it is.
    pub fn svg(&self) -> String {
        let rows = self
            .layers
            .iter()
            .map(|l| l.nodes.len() + usize::from(l.more > 0))
            .max()
            .unwrap_or(0)
            .max(1);
        let width = COLUMN_WIDTH * LAYERS.len();
        let height = TOP + rows * ROW_HEIGHT + 10;
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg class="lineage" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="lineage">"#
        );
        for (l, title) in LAYERS.iter().enumerate() {
            let _ = write!(
                out,
                r#"<text class="layer" x="{}" y="16">{title}</text>"#,
                l * COLUMN_WIDTH + 4
            );
        }
        for (from, to) in &self.edges {
            let (Some((fl, fr)), Some((tl, tr))) = (self.position(from), self.position(to)) else {
                continue;
            };
            let (x1, y1) = (fl * COLUMN_WIDTH + NODE_WIDTH, centre(fr));
            let (x2, y2) = (tl * COLUMN_WIDTH, centre(tr));
            let mid = (x1 + x2) / 2;
            let _ = write!(
                out,
                r#"<path class="edge" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"/>"#
            );
        }
        for (l, layer) in self.layers.iter().enumerate() {
            for (r, (_, label, link)) in layer.nodes.iter().enumerate() {
                let (x, y) = (l * COLUMN_WIDTH, TOP + r * ROW_HEIGHT);
                let shown = shorten(label, 30);
                let body = format!(
                    r#"<rect class="node n{l}" x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="5"/><text x="{}" y="{}"><title>{}</title>{}</text>"#,
                    x + 8,
                    y + 22,
                    xml(label),
                    xml(&shown)
                );
                match link {
                    Some(href) => {
                        let _ = write!(out, r#"<a href="{}">{body}</a>"#, xml(href));
                    }
                    None => out.push_str(&body),
                }
            }
            if layer.more > 0 {
                let y = TOP + layer.nodes.len() * ROW_HEIGHT + 22;
                let _ = write!(
                    out,
                    r#"<text class="more" x="{}" y="{y}">… {} more</text>"#,
                    l * COLUMN_WIDTH + 8,
                    layer.more
                );
            }
        }
        out.push_str("</svg>");
        out
    }
}

fn centre(row: usize) -> usize {
    TOP + row * ROW_HEIGHT + NODE_HEIGHT / 2
}

fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// Text as XML wants it in content and attributes.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Lineage, MAX_PER_LAYER, xml};

    #[test]
    fn layers_are_bounded_and_labels_escaped() {
        let mut g = Lineage::default();
        for i in 0..MAX_PER_LAYER + 3 {
            g.node(2, &format!("d{i}"), &format!("<b>{i}</b>"), None);
        }
        let svg = g.svg();
        assert!(svg.contains("… 3 more"), "{svg}");
        assert!(svg.contains("&lt;b&gt;0&lt;/b&gt;"));
        assert!(!svg.contains("<b>"));
        assert_eq!(xml(r#"a"b'c"#), "a&quot;b&#39;c");
    }
}
