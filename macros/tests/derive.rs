//! What `#[derive(Dataset)]` gives a struct: its schema and typed rows.

use datasurface::chrono::{DateTime, NaiveDate, Utc};
use datasurface::rust_decimal::Decimal;
use datasurface::*;

#[derive(Debug, Clone, PartialEq, Dataset)]
#[dataset(name = "people", classification = "personal")]
struct Person {
    #[key]
    id: i32,
    #[column(name = "firstName", varchar = 50)]
    first_name: String,
    dob: Option<NaiveDate>,
    #[column(numeric(precision = 12, scale = 2), classification = "confidential")]
    salary: Decimal,
    #[column(char = 2)]
    country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Dataset)]
#[dataset(rename_all = "camelCase")]
struct OrderLine {
    #[key]
    order_id: i64,
    #[key]
    line_no: i16,
    unit_price: Option<f64>,
    shipped_at: Option<DateTime<Utc>>,
    payload: serde_json::Value,
    #[column(json)]
    raw: Option<serde_json::Value>,
    blob: Vec<u8>,
    flag: bool,
    r#type: String,
}

#[test]
fn the_schema_follows_the_fields() {
    let schema = Person::schema();
    assert_eq!(schema.name, "people");
    assert_eq!(Person::NAME, "people");
    assert_eq!(
        Person::COLUMNS,
        ["id", "firstName", "dob", "salary", "country"]
    );
    assert_eq!(Person::KEY, ["id"]);
    assert_eq!(schema.primary_key, ["id"]);
    assert_eq!(schema.classification, Some(Classification::Personal));
    let expect = [
        Column::new("id", DataType::Integer),
        Column::new("firstName", DataType::Varchar(50)),
        Column::nullable("dob", DataType::Date),
        Column::new("salary", DataType::Numeric(Some((12, 2))))
            .classified(Classification::Confidential),
        Column::nullable("country", DataType::Char(2)),
    ];
    assert_eq!(schema.columns, expect);
}

#[test]
fn names_default_to_snake_case_struct_and_camel_case_columns_on_request() {
    let schema = OrderLine::schema();
    assert_eq!(schema.name, "order_line");
    assert_eq!(
        OrderLine::COLUMNS,
        [
            "orderId",
            "lineNo",
            "unitPrice",
            "shippedAt",
            "payload",
            "raw",
            "blob",
            "flag",
            "type"
        ]
    );
    assert_eq!(schema.primary_key, ["orderId", "lineNo"]);
    let types: Vec<_> = schema
        .columns
        .iter()
        .map(|c| (c.data_type, c.nullable))
        .collect();
    assert_eq!(
        types,
        [
            (DataType::BigInt, false),
            (DataType::SmallInt, false),
            (DataType::DoublePrecision, true),
            (DataType::TimestampTz, true),
            (DataType::Jsonb, false),
            (DataType::Json, true),
            (DataType::Bytea, false),
            (DataType::Boolean, false),
            (DataType::Text, false),
        ]
    );
    assert_eq!(schema.classification, None);
}

#[test]
fn rows_round_trip_in_column_order() {
    let person = Person {
        id: 7,
        first_name: "Laura".into(),
        dob: NaiveDate::from_ymd_opt(1990, 5, 17),
        salary: Decimal::new(123_456, 2),
        country: None,
    };
    let row = person.to_row();
    assert_eq!(
        row,
        [
            Value::Int4(7),
            Value::Text("Laura".into()),
            Value::Date(NaiveDate::from_ymd_opt(1990, 5, 17).expect("date")),
            Value::Numeric(Decimal::new(123_456, 2)),
            Value::Null,
        ]
    );
    assert_eq!(person.key(), [Value::Int4(7)]);
    assert_eq!(Person::from_row(row), Ok(person));
}

#[test]
fn bad_rows_are_refused_with_dataset_and_column() {
    let err = Person::from_row(vec![Value::Int4(1)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dataset people: a row has 1 values, the dataset has 5 columns"
    );
    let row = vec![
        Value::Int4(1),
        Value::Null,
        Value::Null,
        Value::Numeric(Decimal::ONE),
        Value::Null,
    ];
    let err = Person::from_row(row).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dataset people, column firstName: expected text, found NULL"
    );
}

#[test]
fn derived_datasets_validate_in_a_model() {
    let line = OrderLine::schema();
    assert!(line.find_column("orderId").is_some_and(|c| !c.nullable));
    let store = Datastore::new("Sales")
        .capture(SqlSnapshot::new(
            PostgresDatabase::new("SalesDB", "sales"),
            Credential::user_password("sales"),
            "@hourly",
        ))
        .dataset::<Person>()
        .dataset::<OrderLine>();
    assert_eq!(store.datasets.len(), 2);
    assert_eq!(store.find_dataset("order_line"), Some(&line));
}

/// A shipment, as the warehouse records it.
/// Second line of the description.
#[derive(Debug, Clone, PartialEq, Dataset)]
struct Shipment {
    /// The shipment's number.
    #[key]
    id: i64,
    carrier: String,
}

#[test]
fn doc_comments_describe_the_dataset_and_its_columns_in_the_catalog() {
    let schema = Shipment::schema();
    assert_eq!(
        schema.description.as_deref(),
        Some("A shipment, as the warehouse records it. Second line of the description.")
    );
    assert_eq!(
        schema.columns[0].description.as_deref(),
        Some("The shipment's number.")
    );
    assert_eq!(schema.columns[1].description, None);
    assert_eq!(Person::schema().description, None);
}
