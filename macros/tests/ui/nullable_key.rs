use datasurface::Dataset;

#[derive(Dataset)]
struct Person {
    #[key]
    id: Option<i32>,
    name: String,
}

fn main() {}
