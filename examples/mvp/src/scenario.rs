//! The MVP's own simulator scenario: what the original simulator did to `customer_db`.
//! New customers (15%), each with an address that becomes their primary and billing
//! address; customer email/phone updates (25%); new addresses (20%, 30% of them made the
//! customer's billing address); address updates (30%); deletes of an address that is
//! neither a customer's primary nor billing one (10%).

use datasurface::dev::{Change, Kind, Made, Making, Scenario, Seed};

const NEW_CUSTOMER: usize = 0;
const UPDATE_CUSTOMER: usize = 1;
const NEW_ADDRESS: usize = 2;
const UPDATE_ADDRESS: usize = 3;
const DELETE_ADDRESS: usize = 4;

/// The original's five operations with their weights.
const KINDS: [(&str, u32); 5] = [
    ("new customer", 15),
    ("customer update", 25),
    ("new address", 20),
    ("address update", 30),
    ("address delete", 10),
];

/// Customers tried for an address to delete before the delete becomes an update.
const DELETE_TRIES: usize = 10;

/// The MVP scenario (see the module's documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct Mvp;

impl Scenario for Mvp {
    fn store(&self) -> &str {
        "Store1"
    }

    fn kinds(&self) -> Vec<Kind> {
        KINDS
            .iter()
            .map(|(name, weight)| Kind {
                name: (*name).to_owned(),
                weight: *weight,
            })
            .collect()
    }

    fn prepare(&self) -> Vec<String> {
        // The delete looks a customer's addresses up by customer.
        vec!["CREATE INDEX IF NOT EXISTS addresses_customerid ON addresses (customerid)".into()]
    }

    fn seed(&self) -> Seed {
        Seed {
            changes: vec![(NEW_CUSTOMER, 5)],
            what: "5 customers".into(),
        }
    }

    fn make<'a>(&'a mut self, kind: usize, change: &'a mut Change<'_>) -> Making<'a> {
        Box::pin(async move {
            let customer = match kind {
                NEW_CUSTOMER => None,
                _ => change.pick("customers")?,
            };
            // With no customer yet, every change starts with one.
            let Some(customer) = customer else {
                return new_customer(change).await;
            };
            let id = customer[0].clone();
            match kind {
                UPDATE_CUSTOMER => {
                    let (email, phone) = (
                        change.value("customers", "email")?,
                        change.value("customers", "phone")?,
                    );
                    let (values, what) = match change.below(3) {
                        0 => (vec![("email", Some(email))], "email"),
                        1 => (vec![("phone", Some(phone))], "phone"),
                        _ => (
                            vec![("email", Some(email)), ("phone", Some(phone))],
                            "email and phone",
                        ),
                    };
                    change.update("customers", &customer, &values).await?;
                    made(kind, format!("customer {id}: new {what}"))
                }
                NEW_ADDRESS => {
                    let address = add_address(change, &id).await?;
                    let billing = change.chance(30);
                    if billing {
                        change
                            .update(
                                "customers",
                                &customer,
                                &[("billingaddressid", Some(address.clone()))],
                            )
                            .await?;
                    }
                    made(
                        kind,
                        format!(
                            "customer {id}: new address {address}{}",
                            if billing { " (billing)" } else { "" }
                        ),
                    )
                }
                DELETE_ADDRESS => match deletable_address(change, id).await? {
                    Some(address) => {
                        change.delete("addresses", &vec![address.clone()]).await?;
                        made(kind, format!("address {address} deleted"))
                    }
                    // Nothing to delete: change an address instead.
                    None => update_address(change).await,
                },
                _ => update_address(change).await,
            }
        })
    }
}

type Result<T> = std::result::Result<T, datasurface::dev::simulate::SimulateError>;

fn made(kind: usize, line: String) -> Result<Made> {
    Ok(Made { kind, line })
}

/// A new customer with one address, their primary and billing address.
async fn new_customer(change: &mut Change<'_>) -> Result<Made> {
    let mut customer = change.new_row("customers")?;
    customer.set("primaryaddressid", None);
    customer.set("billingaddressid", None);
    for column in ["email", "phone"] {
        customer.set(column, Some(change.value("customers", column)?));
    }
    change.insert("customers", &customer).await?;
    let id = customer.get("id").unwrap_or_default().to_owned();
    let address = add_address(change, &id).await?;
    change
        .update(
            "customers",
            &vec![id.clone()],
            &[
                ("primaryaddressid", Some(address.clone())),
                ("billingaddressid", Some(address.clone())),
            ],
        )
        .await?;
    let name = format!(
        "{} {}",
        customer.get("firstname").unwrap_or_default(),
        customer.get("lastname").unwrap_or_default()
    );
    made(
        NEW_CUSTOMER,
        format!("new customer {id} ({name}) with address {address}"),
    )
}

/// Adds an address of `customer`; its id.
async fn add_address(change: &mut Change<'_>, customer: &str) -> Result<String> {
    let mut address = change.new_row("addresses")?;
    address.set("customerid", Some(customer.to_owned()));
    change.insert("addresses", &address).await?;
    Ok(address.get("id").unwrap_or_default().to_owned())
}

/// Changes the street, or the city, state and zip, or the zip of a random address.
async fn update_address(change: &mut Change<'_>) -> Result<Made> {
    let Some(address) = change.pick("addresses")? else {
        return new_customer(change).await;
    };
    let variant = change.below(3);
    let mut value = |column: &str| change.value("addresses", column).map(Some);
    let (values, what) = match variant {
        0 => (vec![("streetname", value("streetname")?)], "street"),
        1 => (
            vec![
                ("city", value("city")?),
                ("state", value("state")?),
                ("zipcode", value("zipcode")?),
            ],
            "city, state and zip",
        ),
        _ => (vec![("zipcode", value("zipcode")?)], "zip"),
    };
    change.update("addresses", &address, &values).await?;
    made(
        UPDATE_ADDRESS,
        format!("address {}: new {what}", address[0]),
    )
}

/// An address that is neither the primary nor the billing one of its customer: of the
/// customer `first`, or of up to nine other random customers.
async fn deletable_address(change: &mut Change<'_>, first: String) -> Result<Option<String>> {
    let mut customer = first;
    for _ in 0..DELETE_TRIES {
        let found = change
            .select(
                "SELECT a.id::text FROM addresses a JOIN customers c ON c.id = a.customerid \
                 WHERE a.customerid = $1 AND a.id IS DISTINCT FROM c.primaryaddressid \
                 AND a.id IS DISTINCT FROM c.billingaddressid ORDER BY a.id",
                &[&customer],
            )
            .await?;
        if !found.is_empty() {
            let at = change.below(found.len());
            return Ok(found[at][0].clone());
        }
        match change.pick("customers")? {
            Some(key) => customer = key[0].clone(),
            None => break,
        }
    }
    Ok(None)
}
