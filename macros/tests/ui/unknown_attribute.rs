use datasurface::Dataset;

#[derive(Dataset)]
struct Person {
    #[key]
    id: i32,
    #[column(colour = "red", varchr = 10)]
    name: String,
}

fn main() {}
