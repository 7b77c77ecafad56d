//! The benchmarks' large synthetic model as a model repo's binary, to time the commands a
//! user runs on it: `cargo build --release -p mvp --example large`, then for example
//! `time target/release/examples/large generate --out /tmp/large`. `SIZE=stores×datasets×columns`
//! (default the original's scale target, 10000x10x10: 100,000 datasets).

#[path = "../benches/common/mod.rs"]
mod common;

fn main() -> std::process::ExitCode {
    let size = std::env::var("SIZE").unwrap_or_else(|_| "10000x10x10".into());
    let n: Vec<usize> = size.split('x').filter_map(|n| n.parse().ok()).collect();
    let [stores, datasets, columns] = n[..] else {
        eprintln!("SIZE takes stores×datasets×columns: {size}");
        return std::process::ExitCode::FAILURE;
    };
    datasurface::App::new(common::model(stores, datasets, columns)).main()
}
