//! `cargo build` checks the model: an error fails the build with its path in the model.

#[path = "src/model.rs"]
pub mod model;

fn main() {
    datasurface::build::check(model::ecosystem());
}
