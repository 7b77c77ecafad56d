//! How long building, validating and generating take as a model grows: 1,000 datasets of
//! 20 columns (10 stores of 100), then the original system's own scale target — 10,000
//! stores (producers) of 10 datasets, 100,000 datasets of 10 columns — every dataset sunk by
//! a live and a forensic dataset group.
//!
//! `cargo bench -p mvp --bench generate` (`SIZES=stores×datasets×columns,…` for others).

mod common;

use common::model;
use datasurface::codegen::generate_each;
use std::time::Instant;

fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let sizes = std::env::var("SIZES").unwrap_or_else(|_| "10x100x20,10000x10x10".into());
    for size in sizes.split(',') {
        let n: Vec<usize> = size.split('x').filter_map(|n| n.parse().ok()).collect();
        let [stores, datasets, columns] = n[..] else {
            panic!("SIZES takes stores×datasets×columns: {size}");
        };
        measure(stores, datasets, columns);
    }
}

fn measure(stores: usize, datasets: usize, columns: usize) {
    let start = Instant::now();
    let declared = model(stores, datasets, columns);
    let built = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let eco = declared.validate().expect("valid synthetic model");
    let validated = start.elapsed().as_secs_f64();
    let context = datasurface::generate::context("large");
    // What the bytes are: SQL, DAGs, Kubernetes objects, the rest.
    let mut families: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let start = Instant::now();
    generate_each(&eco, &context, &mut |a| {
        let family = match a.path.split('/').collect::<Vec<_>>()[..] {
            ["platforms", _, kind, ..] => kind,
            [first, ..] => first,
            [] => "",
        };
        let entry = families.entry(family.to_owned()).or_default();
        entry.0 += 1;
        entry.1 += a.contents.len();
    });
    let generated = start.elapsed().as_secs_f64();
    let dir = std::env::temp_dir().join(format!("datasurface-generate-{}", std::process::id()));
    let start = Instant::now();
    let drift =
        datasurface::generate::sync(&dir, &eco, &datasurface::generate::context("large"), true)
            .expect("write");
    let written = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    let (files, bytes) = families
        .values()
        .fold((0, 0), |(f, b), (files, bytes)| (f + files, b + bytes));
    println!(
        "{stores} stores × {datasets} datasets × {columns} columns ({} datasets), 2 platforms: built {built:.2} s, \
         validated {validated:.2} s, generated {generated:.2} s ({files} files, {:.1} MiB), \
         generate --out to an empty directory {written:.2} s ({} files); peak resident {:.0} MiB so far",
        stores * datasets,
        bytes as f64 / 1_048_576.0,
        drift.files,
        peak_mib()
    );
    for (family, (files, bytes)) in families {
        println!(
            "  {family}: {files} files, {:.1} MiB",
            bytes as f64 / 1_048_576.0
        );
    }
}
