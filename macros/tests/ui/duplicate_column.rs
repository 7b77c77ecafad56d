use datasurface::Dataset;

#[derive(Dataset)]
struct Person {
    #[key]
    id: i32,
    #[column(name = "firstName")]
    first_name: String,
    #[column(name = "FIRSTNAME")]
    first: String,
}

fn main() {}
