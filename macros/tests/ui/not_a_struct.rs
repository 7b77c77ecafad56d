use datasurface::Dataset;

#[derive(Dataset)]
enum Person {
    A,
}

#[derive(Dataset)]
struct Pair(i32, i32);

#[derive(Dataset)]
struct Generic<T> {
    #[key]
    id: T,
}

fn main() {}
