//! The second example ecosystem: a shop whose `orders` database is too big to snapshot
//! every few minutes, so its store is captured by logical replication — each batch reads
//! only the changes committed since the last one. It is served live and with full history,
//! as the MVP is; the model differs from the MVP's in its capture alone.

use datasurface::*;

/// An order, as the `orders` table of `shop_db` holds it.
#[derive(Debug, Clone, PartialEq, Dataset)]
#[dataset(name = "orders", classification = "personal")]
pub struct Order {
    #[key]
    pub id: i64,
    #[column(varchar = 20)]
    pub customer_id: String,
    pub placed_at: chrono::DateTime<chrono::Utc>,
    #[column(varchar = 20)]
    pub status: String,
    /// Free text the customer wrote: long values are stored out of line.
    pub note: Option<String>,
}

/// A line of an order.
#[derive(Debug, Clone, PartialEq, Dataset)]
#[dataset(name = "order_lines", classification = "internal")]
pub struct OrderLine {
    #[key]
    pub order_id: i64,
    #[key]
    pub line: i32,
    #[column(varchar = 40)]
    pub sku: String,
    pub quantity: i32,
    #[column(numeric(precision = 12, scale = 2))]
    pub price: rust_decimal::Decimal,
}

/// The shop's ecosystem, declared but not yet validated.
pub fn ecosystem() -> Ecosystem {
    let shop = Credential::user_password("shop_replication");
    let shop_db = PostgresDatabase::new("ShopDB", "shop_db").at("shop-db", 5432);
    let orders = Datastore::new("Orders")
        .capture(LogicalReplication::new(shop_db, shop, "*/5 * * * *"))
        .dataset::<Order>()
        .dataset::<OrderLine>();

    let finance = Workspace::new("Finance")
        .dsg(
            DatasetGroup::new("Current", Retention::LiveOnly)
                .sink::<Order>(&orders)
                .sink::<OrderLine>(&orders),
        )
        .dsg(
            DatasetGroup::new("Audit", Retention::Forensic)
                .sink::<Order>(&orders)
                .sink::<OrderLine>(&orders),
        );

    let merge = Credential::user_password("merge");
    let merge_db = PostgresDatabase::new("MergeDB", "datasurface_merge").at("merge-db", 5432);
    let provider = YellowServiceProvider::new("Shop_DP", "shop-data", merge_db, merge)
        .image_repository("datasurface/shop");
    let live = YellowPlatform::live("YellowLive", &provider);
    let forensic = YellowPlatform::forensic("YellowForensic", &provider);

    Ecosystem::new("Shop")
        .zone(
            GovernanceZone::new("EU")
                .team(Team::new("commerce").datastore(orders).workspace(finance)),
        )
        .platform(live)
        .platform(forensic)
        .provider(provider)
        .assign(Assignment::new("Finance", "Current", "YellowLive"))
        .assign(Assignment::new("Finance", "Audit", "YellowForensic"))
}
