//! `docs --out DIR`: the catalog as static HTML from the model alone, one page per entity,
//! written with the server's templates. Each page holds only its own entity and bounded
//! lists, so a 100,000-dataset catalog opens as fast as a small one (no manifest is
//! loaded into the browser).

use crate::catalog::Catalog;
use crate::links::Links;
use crate::pages::{self, Context};
use chrono::Utc;
use datasurface_model::ValidEcosystem;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What [`write`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub pages: usize,
}

/// Writes every page of `eco`'s catalog under `out` (`index.html`, `datasets/S/d.html`, …),
/// and the search page with its index.
pub fn write(eco: Arc<ValidEcosystem>, out: &Path) -> std::io::Result<Written> {
    let catalog = Catalog::new(eco);
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join(pages::STYLE_FILE), pages::STYLE)?;
    std::fs::write(out.join(pages::SEARCH_SCRIPT_FILE), pages::SEARCH_SCRIPT)?;
    write_search_index(&catalog, &out.join("search"))?;
    let mut paths: Vec<String> = vec![String::new(), "search".into()];
    paths.extend(catalog.entries().iter().map(|e| e.path.clone()));
    let now = Utc::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = paths.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                let catalog = &catalog;
                scope.spawn(move || -> std::io::Result<()> {
                    for path in part {
                        write_page(catalog, out, path, now)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("a page writer panicked")))
        })
    })?;
    Ok(Written { pages: paths.len() })
}

fn write_page(
    catalog: &Catalog,
    out: &Path,
    path: &str,
    now: chrono::DateTime<Utc>,
) -> std::io::Result<()> {
    let file_path = if path.is_empty() { "index" } else { path };
    let links = Links::static_site(file_path);
    let ctx = Context {
        catalog,
        links: &links,
        health: None,
        summary: None,
        now,
        program: "",
    };
    let parts: Vec<&str> = path.split('/').collect();
    let html = match parts.as_slice() {
        [""] => Some(pages::index(&ctx)),
        ["search"] => Some(pages::search(&ctx, "")),
        ["zones", z] => pages::zone(&ctx, z),
        ["teams", z, t] => pages::team(&ctx, z, t),
        ["stores", s] => pages::store(&ctx, s),
        ["datasets", s, d] => pages::dataset(&ctx, s, d),
        ["workspaces", w] => pages::workspace(&ctx, w),
        ["platforms", p] => pages::platform(&ctx, p),
        _ => None,
    };
    let Some(html) = html else {
        return Ok(());
    };
    let file: PathBuf = out.join(format!("{file_path}.html"));
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&file, html)
}

/// The most names one file of the search index holds: a part with more is split by the
/// next letter, down to the names whose word is exactly its start.
const PART: usize = 400;

/// Writes the static search's index into `dir`: for each start of a word of a name, the
/// file `x{hex of the start}.js` with the names that have such a word (`search.js` reads
/// it). Each word of each name is filed once.
fn write_search_index(catalog: &Catalog, dir: &Path) -> std::io::Result<()> {
    let entries = catalog.entries();
    let mut words: Vec<(String, u32)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let lower = entry.label.to_lowercase();
        let mut own: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        own.sort_unstable();
        own.dedup();
        let id = u32::try_from(i).unwrap_or(u32::MAX);
        words.extend(own.into_iter().map(|w| (w.to_owned(), id)));
    }
    words.sort_unstable();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    for group in by_next_char(&words, "") {
        write_part(entries, group, dir)?;
    }
    Ok(())
}

/// `words` (sorted, all starting with `prefix`, none equal to it) grouped by their next
/// character: each group with its start.
fn by_next_char<'w>(
    words: &'w [(String, u32)],
    prefix: &str,
) -> impl Iterator<Item = (String, &'w [(String, u32)])> {
    let mut rest = words;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let next = first.0[prefix.len()..].chars().next()?;
        let start = format!("{prefix}{next}");
        let end = rest
            .iter()
            .position(|(w, _)| !w.starts_with(&start))
            .unwrap_or(rest.len());
        let (group, after) = rest.split_at(end);
        rest = after;
        Some((start, group))
    })
}

/// Writes the part of the index for the words of `group` that start with its prefix, split
/// further while it has more than [`PART`] names.
fn write_part(
    entries: &[crate::catalog::Entry],
    (prefix, words): (String, &[(String, u32)]),
    dir: &Path,
) -> std::io::Result<()> {
    let names = |words: &[(String, u32)]| {
        let mut ids: Vec<u32> = words.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let all = names(words);
    let exact = words.iter().take_while(|(w, _)| *w == prefix).count();
    let split = all.len() > PART && exact < words.len();
    // The names whose word ends at the prefix first, then the others, up to [`PART`].
    let mut shown = names(&words[..exact]);
    shown.truncate(PART);
    let first: std::collections::HashSet<u32> = shown.iter().copied().collect();
    let room = PART - shown.len();
    shown.extend(all.iter().filter(|id| !first.contains(id)).take(room));
    let hits: Vec<(&str, &str, String)> = shown
        .iter()
        .filter_map(|id| entries.get(*id as usize))
        .map(|e| (e.kind, e.label.as_str(), format!("{}.html", e.path)))
        .collect();
    let part = serde_json::json!({
        "prefix": prefix,
        "split": split,
        // Every name with a word that starts with the prefix is in `hits`.
        "complete": hits.len() == all.len(),
        "total": all.len(),
        "hits": hits,
    });
    let file = dir.join(format!("x{}.js", hex(&prefix)));
    std::fs::write(file, format!("datasurfaceSearch({part});\n"))?;
    if split {
        for group in by_next_char(&words[exact..], &prefix) {
            write_part(entries, group, dir)?;
        }
    }
    Ok(())
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_grouped_by_their_next_letter() {
        let words: Vec<(String, u32)> = ["data", "dataset", "datum", "dog", "é"]
            .iter()
            .enumerate()
            .map(|(i, w)| (w.to_string(), i as u32))
            .collect();
        let top: Vec<(String, usize)> = by_next_char(&words, "")
            .map(|(start, group)| (start, group.len()))
            .collect();
        assert_eq!(top, [("d".to_owned(), 4), ("é".to_owned(), 1)]);
        // Below "data": the word that ends there comes first and is not grouped.
        let below: Vec<String> = by_next_char(&words[1..3], "dat")
            .map(|(start, _)| start)
            .collect();
        assert_eq!(below, ["data", "datu"]);
        assert_eq!(hex("é4"), "c3a934");
    }
}
