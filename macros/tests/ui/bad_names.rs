use datasurface::Dataset;

#[derive(Dataset)]
#[dataset(name = "people-table")]
struct Person {
    #[key]
    id: i32,
    order: i32,
    #[column(name = "first name")]
    first_name: String,
    ds_surf_batch: i32,
}

fn main() {}
