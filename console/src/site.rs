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

/// Writes every page of `eco`'s catalog under `out` (`index.html`, `datasets/S/d.html`, …).
pub fn write(eco: Arc<ValidEcosystem>, out: &Path) -> std::io::Result<Written> {
    let catalog = Catalog::new(eco);
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join(pages::STYLE_FILE), pages::STYLE)?;
    let mut paths: Vec<String> = vec![String::new()];
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
