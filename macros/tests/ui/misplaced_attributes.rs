use datasurface::Dataset;

#[derive(Dataset)]
#[dataset(classification = "secret", rename_all = "kebab-case")]
struct Person {
    #[key(primary)]
    #[column(varchar = 10)]
    id: i32,
    #[column(varchar = 0)]
    name: String,
    #[column(varchar = 5, char = 5)]
    code: String,
    #[column(numeric(precision = 4, scale = 6))]
    amount: datasurface::rust_decimal::Decimal,
    #[column(classification = "public")]
    nickname: Option<Option<String>>,
}

fn main() {}
