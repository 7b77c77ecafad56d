use datasurface::Dataset;
use std::collections::HashMap;

#[derive(Dataset)]
struct Person {
    #[key]
    id: i32,
    tags: HashMap<String, i32>,
    age: u32,
}

fn main() {}
