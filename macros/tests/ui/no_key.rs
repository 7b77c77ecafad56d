use datasurface::Dataset;

#[derive(Dataset)]
struct Person {
    id: i32,
    name: String,
}

fn main() {}
