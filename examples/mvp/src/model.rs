//! The MVP ecosystem: the model alone, which the build script checks (see `build.rs`).

use datasurface::*;

/// A customer, as the `customers` table of `customer_db` holds it.
#[derive(Debug, Clone, PartialEq, Dataset)]
#[dataset(name = "customers", classification = "personal")]
pub struct Customer {
    #[key]
    #[column(varchar = 20)]
    pub id: String,
    #[column(varchar = 100)]
    pub firstname: String,
    #[column(varchar = 100)]
    pub lastname: String,
    pub dob: chrono::NaiveDate,
    #[column(varchar = 100)]
    pub email: Option<String>,
    #[column(varchar = 100)]
    pub phone: Option<String>,
    #[column(varchar = 20)]
    pub primaryaddressid: Option<String>,
    #[column(varchar = 20)]
    pub billingaddressid: Option<String>,
}

/// A customer's address, as the `addresses` table of `customer_db` holds it.
#[derive(Debug, Clone, PartialEq, Dataset)]
#[dataset(name = "addresses", classification = "personal")]
pub struct Address {
    #[key]
    #[column(varchar = 20)]
    pub id: String,
    #[column(varchar = 20)]
    pub customerid: String,
    #[column(varchar = 100)]
    pub streetname: String,
    #[column(varchar = 100)]
    pub city: String,
    #[column(varchar = 100)]
    pub state: String,
    #[column(varchar = 30)]
    pub zipcode: String,
}

/// The MVP ecosystem, declared but not yet validated.
pub fn ecosystem() -> Ecosystem {
    let postgres = Credential::user_password("postgres");

    let customer_db = PostgresDatabase::new("CustomerDB", "customer_db").at("postgres", 5432);
    let store1 = Datastore::new("Store1")
        .capture(
            SqlSnapshot::new(customer_db, postgres.clone(), "*/1 * * * *")
                .consistency(Consistency::MultiDataset),
        )
        .dataset::<Customer>()
        .dataset::<Address>();

    let consumer1 = Workspace::new("Consumer1")
        .dsg(
            DatasetGroup::new("LiveDSG", Retention::LiveOnly)
                .sink::<Customer>(&store1)
                .sink::<Address>(&store1)
                // The dashboards reading it want data at most 5 minutes old; the forensic
                // group takes the default, twice the capture's longest wait.
                .latency(std::time::Duration::from_secs(5 * 60)),
        )
        .dsg(
            DatasetGroup::new("ForensicDSG", Retention::Forensic)
                .sink::<Customer>(&store1)
                .sink::<Address>(&store1),
        );

    let merge_db = PostgresDatabase::new("MergeDB", "datasurface_merge").at("postgres", 5432);
    let provider = YellowServiceProvider::new("Test_DP", "ns-kub-pg-test", merge_db, postgres)
        .image_repository("datasurface/mvp");
    let live = YellowPlatform::live("YellowLive", &provider);
    let forensic = YellowPlatform::forensic("YellowForensic", &provider);

    Ecosystem::new("Test")
        .zone(
            GovernanceZone::new("USA")
                .team(Team::new("team1").datastore(store1).workspace(consumer1)),
        )
        .provider(provider)
        .platform(live)
        .platform(forensic)
        .assign(Assignment::new("Consumer1", "LiveDSG", "YellowLive"))
        .assign(Assignment::new(
            "Consumer1",
            "ForensicDSG",
            "YellowForensic",
        ))
}
