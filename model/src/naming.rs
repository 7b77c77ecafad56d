//! Naming rules: which names the model accepts, and every physical name derived from them.
//!
//! All SQL table and view names, Kubernetes names (every object, label value and Secret
//! name made from a model name or an image tag) and environment-variable names are computed
//! here and nowhere else, so the generator, the runtime and validation agree.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// PostgreSQL truncates identifiers longer than this many bytes.
pub const MAX_IDENT_BYTES: usize = 63;

/// Columns the platforms add to merge tables start with this; model columns may not.
pub const RESERVED_COLUMN_PREFIX: &str = "ds_surf_";

/// Words PostgreSQL 15 reserves (fully, or except as function or type names); none of them
/// can name a column or table without quoting, so the model refuses them.
pub const RESERVED_WORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Why a name is not a usable identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    #[error("the name is empty")]
    Empty,
    #[error("`{0}` is {1} bytes long; PostgreSQL identifiers hold at most 63")]
    TooLong(String, usize),
    #[error("`{0}` must start with an ASCII letter")]
    BadStart(String),
    #[error("`{0}` contains `{1}`; use ASCII letters, digits and `_`")]
    BadChar(String, char),
    #[error("`{0}` is a reserved word in PostgreSQL")]
    Reserved(String),
    #[error("`{0}` starts with `ds_surf_`, which the platforms reserve for their own columns")]
    ReservedPrefix(String),
}

/// Checks a model name that ends up in SQL: an ASCII letter, then letters, digits or `_`,
/// at most 63 bytes, and not a PostgreSQL reserved word (compared without case).
pub fn check_identifier(name: &str) -> Result<(), IdentError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(IdentError::Empty);
    };
    if !first.is_ascii_alphabetic() {
        return Err(IdentError::BadStart(name.into()));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(IdentError::BadChar(name.into(), bad));
    }
    if name.len() > MAX_IDENT_BYTES {
        return Err(IdentError::TooLong(name.into(), name.len()));
    }
    if is_reserved(name) {
        return Err(IdentError::Reserved(name.into()));
    }
    Ok(())
}

/// [`check_identifier`], plus the rule that a column may not take a platform column's prefix.
pub fn check_column_name(name: &str) -> Result<(), IdentError> {
    check_identifier(name)?;
    if name
        .to_ascii_lowercase()
        .starts_with(RESERVED_COLUMN_PREFIX)
    {
        return Err(IdentError::ReservedPrefix(name.into()));
    }
    Ok(())
}

/// Whether PostgreSQL reserves `word` (compared without case).
pub fn is_reserved(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    RESERVED_WORDS.binary_search(&lower.as_str()).is_ok()
}

/// Quotes an identifier for PostgreSQL. Every identifier in generated SQL passes through
/// here: names keep their case (`"firstName"`) and can never break out of the quotes.
pub fn quote_ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        if c == '"' {
            quoted.push('"');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// The SQL prefix of a platform: its model name in lower case (`YellowLive` → `yellowlive`).
pub fn sql_prefix(platform: &str) -> String {
    platform.to_lowercase()
}

/// Joins `parts` with `_` in lower case and appends `suffix`, shortened to 63 bytes when
/// needed: the stem is cut and a hash of the full name keeps it unique, while the suffix
/// (`_merge`, `_view_live`, …) stays readable. The same parts always give the same name.
pub fn physical_name(parts: &[&str], suffix: &str) -> String {
    let stem = parts.join("_").to_lowercase();
    let full = format!("{stem}{suffix}");
    if full.len() <= MAX_IDENT_BYTES {
        return full;
    }
    let hash = short_hash(&full);
    let keep = MAX_IDENT_BYTES - suffix.len() - hash.len() - 1;
    let mut cut = keep.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}{suffix}", &stem[..cut])
}

fn short_hash(text: &str) -> String {
    hex_digest(text.as_bytes(), 4)
}

/// The first `bytes` bytes of the SHA-256 of `data`, in lower-case hex: the one way
/// every generated name and tag is fingerprinted.
pub fn hex_digest(data: &[u8], bytes: usize) -> String {
    hex(&Sha256::digest(data), bytes)
}

/// [`hex_digest`] of `value`'s `Debug` text, hashed as it is written: the text of a large
/// model runs to hundreds of megabytes, which need never be held at once.
pub fn hex_digest_debug(value: &impl std::fmt::Debug, bytes: usize) -> String {
    /// The text gathered into blocks: `Debug` writes it a few bytes at a time.
    struct Hashing(Sha256, Vec<u8>);
    impl std::fmt::Write for Hashing {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if self.1.len() + s.len() > self.1.capacity() {
                self.0.update(&self.1);
                self.1.clear();
            }
            if s.len() > self.1.capacity() {
                self.0.update(s.as_bytes());
            } else {
                self.1.extend_from_slice(s.as_bytes());
            }
            Ok(())
        }
    }
    let mut hashing = Hashing(Sha256::new(), Vec::with_capacity(64 * 1024));
    write!(hashing, "{value:?}").expect("hashing does not fail");
    let Hashing(mut sha, rest) = hashing;
    sha.update(&rest);
    hex(&sha.finalize(), bytes)
}

/// The first `bytes` bytes of `digest`, in lower-case hex.
fn hex(digest: &[u8], bytes: usize) -> String {
    digest[..bytes.min(digest.len())]
        .iter()
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// `{platform}_{store}_{dataset}_staging`.
pub fn staging_table(platform: &str, store: &str, dataset: &str) -> String {
    physical_name(&[platform, store, dataset], "_staging")
}

/// `{platform}_{store}_{dataset}_merge`.
pub fn merge_table(platform: &str, store: &str, dataset: &str) -> String {
    physical_name(&[platform, store, dataset], "_merge")
}

/// The index a merge table's current rows are read through in key order, byte order for
/// text (`COLLATE "C"`), each with its row hash.
pub fn merge_order_index(platform: &str, store: &str, dataset: &str) -> String {
    physical_name(&[platform, store, dataset], "_merge_order")
}

/// `{platform}_batch_counter`.
pub fn batch_counter_table(platform: &str) -> String {
    physical_name(&[platform], "_batch_counter")
}

/// `{platform}_batch_metrics`.
pub fn batch_metrics_table(platform: &str) -> String {
    physical_name(&[platform], "_batch_metrics")
}

/// `{platform}_{store}[_{dataset}]_changes`: the changes a replication batch of the stream
/// read from its slot (the dataset only for a SINGLE_DATASET stream).
pub fn changes_table(platform: &str, store: &str, dataset: Option<&str>) -> String {
    match dataset {
        Some(dataset) => physical_name(&[platform, store, dataset], "_changes"),
        None => physical_name(&[platform, store], "_changes"),
    }
}

/// The logical replication slot from which `platform` of `ecosystem` reads the changes of
/// the stream of `store` (of its `dataset`, for a SINGLE_DATASET store):
/// `{ecosystem}_{platform}_{store}[_{dataset}]_slot`, in lower case with every character
/// other than a letter, digit or `_` as `_` (slot names allow nothing else). A slot belongs
/// to the whole server, so the ecosystem's name keeps two ecosystems reading one server
/// apart.
pub fn replication_slot(
    ecosystem: &str,
    platform: &str,
    store: &str,
    dataset: Option<&str>,
) -> String {
    replication_name(ecosystem, platform, store, dataset, "_slot")
}

/// The publication of the stream's source tables that its [`replication_slot`] decodes:
/// `{ecosystem}_{platform}_{store}[_{dataset}]_pub`, spelt as the slot is.
pub fn publication(ecosystem: &str, platform: &str, store: &str, dataset: Option<&str>) -> String {
    replication_name(ecosystem, platform, store, dataset, "_pub")
}

/// What every [`replication_slot`] and [`publication`] of `platform` of `ecosystem` starts
/// with: `{ecosystem}_{platform}_`, spelt as they are; `None` when it is too long to survive
/// the shortening of a long name (every name of the platform then starts with a cut of it
/// that another platform's names may share). Names of another platform whose own prefix
/// starts with this one (`yellow` and `yellow_live`) start with it too: tell them apart
/// with the longer prefix.
pub fn replication_prefix(ecosystem: &str, platform: &str) -> Option<String> {
    let slot = replication_name(ecosystem, platform, "", None, "_slot");
    let prefix = slot.strip_suffix("_slot")?;
    // The shortest stem a shortened name keeps: the suffix `_pub` or `_slot`, a hash
    // and its `_` take the rest of the identifier.
    let kept = MAX_IDENT_BYTES - "_slot".len() - short_hash("").len() - 1;
    (prefix.len() <= kept && prefix.ends_with('_')).then(|| prefix.to_owned())
}

fn replication_name(
    ecosystem: &str,
    platform: &str,
    store: &str,
    dataset: Option<&str>,
    suffix: &str,
) -> String {
    let parts: Vec<String> = [Some(ecosystem), Some(platform), Some(store), dataset]
        .into_iter()
        .flatten()
        .map(|p| {
            p.to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect()
        })
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    physical_name(&parts, suffix)
}

/// The two kinds of workspace view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewKind {
    /// Current rows, business columns only.
    Live,
    /// Every version with its batch milestones (forensic platforms only).
    Full,
}

/// `{platform}_{workspace}_{dsg}_{store}_{dataset}_view_live` / `…_view_full`.
pub fn view_name(
    platform: &str,
    workspace: &str,
    dsg: &str,
    store: &str,
    dataset: &str,
    kind: ViewKind,
) -> String {
    let suffix = match kind {
        ViewKind::Live => "_view_live",
        ViewKind::Full => "_view_full",
    };
    physical_name(&[platform, workspace, dsg, store, dataset], suffix)
}

/// A Kubernetes name for a model name: lower case, `_` and spaces become `-`.
/// The result may still be invalid (see [`is_rfc1123_label`]); validation reports that.
pub fn k8s_name(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| if c == '_' || c == ' ' { '-' } else { c })
        .collect()
}

/// A Kubernetes object name (a DNS-1123 label) from `parts`: lower case, every other
/// character as `-`, runs of `-` collapsed, at most 63 characters (cut, with a hash of the
/// whole, when longer). Always valid, whatever the parts.
pub fn k8s_object_name(parts: &[&str]) -> String {
    let mut name = String::new();
    for c in parts.join("-").to_lowercase().chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
            name.push(c);
        }
    }
    let name = name.trim_end_matches('-').to_owned();
    if name.len() <= 63 {
        return name;
    }
    let hash = hex_digest(name.as_bytes(), 4);
    format!("{}-{hash}", name[..54].trim_end_matches('-'))
}

/// The value of the `datasurface.io/ecosystem` label on every object of `ecosystem`.
pub fn ecosystem_label(ecosystem: &str) -> String {
    k8s_object_name(&[ecosystem])
}

/// The Secret holding `credential`.
pub fn secret_name(credential: &str) -> String {
    k8s_name(credential)
}

/// The Service of an in-cluster PostgreSQL at `host`, which is also its StatefulSet's
/// name and its pods' `app`.
pub fn postgres_service_name(host: &str) -> String {
    k8s_name(host)
}

/// The NetworkPolicy that lets only pods of its namespace reach the in-cluster PostgreSQL
/// at `host`: `{service}-same-namespace-only`.
pub fn postgres_policy_name(host: &str) -> String {
    format!("{}-same-namespace-only", postgres_service_name(host))
}

/// The Job creating the databases on the in-cluster PostgreSQL at `host`, for the image
/// `tag`: `{service}-databases-{tag}`.
pub fn databases_job_name(host: &str, tag: &str) -> String {
    k8s_object_name(&[&postgres_service_name(host), "databases", tag])
}

/// The Job migrating Airflow's metadata database, for the image `tag`:
/// `airflow-migrate-{tag}`.
pub fn airflow_migrate_job_name(tag: &str) -> String {
    k8s_object_name(&["airflow-migrate", tag])
}

/// The Job running `infra` for `platform`, for the image `tag`: `{platform}-infra-{tag}`.
pub fn infra_job_name(platform: &str, tag: &str) -> String {
    k8s_object_name(&[&k8s_name(platform), "infra", tag])
}

/// The `app` of the pods of [`infra_job_name`]: `{platform}-infra`, the platform's
/// [`k8s_name`] as it is.
pub fn infra_job_app(platform: &str) -> String {
    format!("{}-infra", k8s_name(platform))
}

/// The pod of `platform`'s infrastructure DAG: `{platform}-infra`.
pub fn infra_pod_name(platform: &str) -> String {
    k8s_object_name(&[&k8s_name(platform), "infra"])
}

/// The pod of the ingestion DAG of `stream` (its key as written: `Store1`,
/// `Store1#people`) into `platform`: `{platform}-{store}[-{dataset}]-batch`.
pub fn ingestion_pod_name(platform: &str, stream: &str) -> String {
    k8s_object_name(&[&k8s_name(platform), stream, "batch"])
}

/// The simulator Deployment of `store`, and its pods' `app`: `{store}-simulator`.
pub fn simulator_name(store: &str) -> String {
    k8s_object_name(&[store, "simulator"])
}

/// An RFC 1123 label: 1 to 63 characters of `a-z`, `0-9` and `-`, starting and ending
/// with a letter or digit.
pub fn is_rfc1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// The environment variable that points a model database elsewhere:
/// `DATASURFACE_DB_{NAME}`, the name in upper case with other characters as `_`.
pub fn database_env_var(database: &str) -> String {
    format!("DATASURFACE_DB_{}", env_fragment(database))
}

/// The environment variable of one part of a credential: `{name}_USER`, `{name}_PASSWORD`,
/// `{name}_TOKEN`. The credential's name is kept as written, as Kubernetes env names are.
pub fn credential_env_var(credential: &str, part: &str) -> String {
    format!("{credential}_{part}")
}

/// Whether a credential name can prefix an environment variable (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_env_var_prefix(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn env_fragment(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_hashed_as_written_has_the_digest_of_its_text() {
        let long = "x".repeat(100_000);
        for value in [
            (vec!["Store1", "people"], Some(42), "ünïcode"),
            (vec!["Store1"; 20_000], None, long.as_str()),
        ] {
            assert_eq!(
                hex_digest_debug(&value, 6),
                hex_digest(format!("{value:?}").as_bytes(), 6)
            );
        }
    }

    #[test]
    fn reserved_words_are_sorted_for_binary_search() {
        assert!(RESERVED_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_reserved("SELECT"));
        assert!(is_reserved("user"));
        assert!(!is_reserved("customers"));
    }

    #[test]
    fn identifiers_follow_sql_rules() {
        assert_eq!(check_identifier("firstName"), Ok(()));
        assert_eq!(check_identifier("a_1"), Ok(()));
        assert_eq!(check_identifier(""), Err(IdentError::Empty));
        assert_eq!(
            check_identifier("1st"),
            Err(IdentError::BadStart("1st".into()))
        );
        assert_eq!(
            check_identifier("_x"),
            Err(IdentError::BadStart("_x".into()))
        );
        assert_eq!(
            check_identifier("first-name"),
            Err(IdentError::BadChar("first-name".into(), '-'))
        );
        assert_eq!(
            check_identifier("Order"),
            Err(IdentError::Reserved("Order".into()))
        );
        let long = "a".repeat(64);
        assert_eq!(
            check_identifier(&long),
            Err(IdentError::TooLong(long.clone(), 64))
        );
        assert_eq!(check_identifier(&long[..63]), Ok(()));
    }

    #[test]
    fn columns_may_not_take_the_platform_prefix() {
        assert_eq!(
            check_column_name("DS_SURF_batch_id"),
            Err(IdentError::ReservedPrefix("DS_SURF_batch_id".into()))
        );
        assert_eq!(check_column_name("ds_surface"), Ok(()));
    }

    #[test]
    fn quoting_keeps_case_and_escapes_quotes() {
        assert_eq!(quote_ident("firstName"), "\"firstName\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn platform_tables_use_the_lower_case_prefix() {
        assert_eq!(sql_prefix("YellowLive"), "yellowlive");
        assert_eq!(
            staging_table("YellowLive", "Store1", "customers"),
            "yellowlive_store1_customers_staging"
        );
        assert_eq!(
            merge_table("YellowForensic", "Store1", "addresses"),
            "yellowforensic_store1_addresses_merge"
        );
        assert_eq!(
            batch_counter_table("YellowLive"),
            "yellowlive_batch_counter"
        );
        assert_eq!(
            batch_metrics_table("YellowLive"),
            "yellowlive_batch_metrics"
        );
        assert_eq!(
            view_name(
                "YellowLive",
                "Consumer1",
                "LiveDSG",
                "Store1",
                "customers",
                ViewKind::Live
            ),
            "yellowlive_consumer1_livedsg_store1_customers_view_live"
        );
    }

    #[test]
    fn long_names_are_shortened_deterministically_keeping_the_suffix() {
        let dataset = "a_dataset_with_a_remarkably_long_and_descriptive_name";
        let name = merge_table("YellowForensic", "Store1", dataset);
        assert_eq!(name.len(), MAX_IDENT_BYTES);
        assert!(name.ends_with("_merge"), "{name}");
        assert!(
            name.starts_with("yellowforensic_store1_a_dataset"),
            "{name}"
        );
        assert_eq!(name, merge_table("YellowForensic", "Store1", dataset));
        let other = merge_table("YellowForensic", "Store1", &format!("{dataset}2"));
        assert_ne!(name, other);
        assert_eq!(name[..45], other[..45]);
        // Exactly 63 bytes is left alone.
        let exact = physical_name(&["a".repeat(57).as_str()], "_merge");
        assert_eq!(exact, format!("{}_merge", "a".repeat(57)));
    }

    #[test]
    fn replication_names() {
        assert_eq!(
            replication_slot("Corp", "YellowLive", "Orders", None),
            "corp_yellowlive_orders_slot"
        );
        assert_eq!(
            publication("Acme Data", "YellowLive", "Orders", Some("lines")),
            "acme_data_yellowlive_orders_lines_pub"
        );
        assert_eq!(
            replication_prefix("Acme Data", "YellowLive").as_deref(),
            Some("acme_data_yellowlive_")
        );
        for (eco, platform) in [("Corp", "YellowLive"), (&*"e".repeat(33), "YellowLive")] {
            let prefix = replication_prefix(eco, platform).expect("a prefix");
            for store in ["S", &"s".repeat(60)] {
                for dataset in [None, Some("d")] {
                    assert!(replication_slot(eco, platform, store, dataset).starts_with(&prefix));
                    assert!(publication(eco, platform, store, dataset).starts_with(&prefix));
                }
            }
        }
        assert_eq!(replication_prefix(&"e".repeat(40), "YellowLive"), None);
        let long = replication_slot(&"e".repeat(40), "YellowForensic", "Store", None);
        assert_eq!(long.len(), 63);
        assert!(long.ends_with("_slot"));
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }

    #[test]
    fn kubernetes_names() {
        assert_eq!(k8s_name("YellowLive"), "yellowlive");
        assert_eq!(k8s_name("Yellow_Live Two"), "yellow-live-two");
        assert!(is_rfc1123_label("ns-kub-pg-test"));
        assert!(!is_rfc1123_label("NS"));
        assert!(!is_rfc1123_label("-ns"));
        assert!(!is_rfc1123_label("ns-"));
        assert!(!is_rfc1123_label("ns_test"));
        assert!(!is_rfc1123_label(""));
        assert!(!is_rfc1123_label(&"a".repeat(64)));
    }

    #[test]
    fn kubernetes_object_names_are_dns_labels() {
        assert_eq!(
            k8s_object_name(&["yellowlive", "Store1", "batch"]),
            "yellowlive-store1-batch"
        );
        assert_eq!(
            k8s_object_name(&["marketing-history", "Marketing#events", "batch"]),
            "marketing-history-marketing-events-batch"
        );
        let long = k8s_object_name(&["a".repeat(70).as_str()]);
        assert_eq!(long.len(), 63);
        assert!(is_rfc1123_label(&long));
    }

    #[test]
    fn kubernetes_names_of_the_objects() {
        assert_eq!(ecosystem_label("Acme_Eco"), "acme-eco");
        assert_eq!(secret_name("postgres_cred"), "postgres-cred");
        assert_eq!(postgres_service_name("pg"), "pg");
        assert_eq!(postgres_policy_name("pg"), "pg-same-namespace-only");
        assert_eq!(databases_job_name("pg", "0abc"), "pg-databases-0abc");
        assert_eq!(airflow_migrate_job_name("0abc"), "airflow-migrate-0abc");
        assert_eq!(
            infra_job_name("YellowLive", "0abc"),
            "yellowlive-infra-0abc"
        );
        assert_eq!(infra_job_app("YellowLive"), "yellowlive-infra");
        assert_eq!(infra_pod_name("YellowLive"), "yellowlive-infra");
        assert_eq!(
            ingestion_pod_name("YellowLive", "Store1#people"),
            "yellowlive-store1-people-batch"
        );
        assert_eq!(simulator_name("Store1"), "store1-simulator");
    }

    #[test]
    fn environment_names() {
        assert_eq!(database_env_var("MergeDB"), "DATASURFACE_DB_MERGEDB");
        assert_eq!(
            database_env_var("customer-db.1"),
            "DATASURFACE_DB_CUSTOMER_DB_1"
        );
        assert_eq!(credential_env_var("postgres", "USER"), "postgres_USER");
        assert!(is_env_var_prefix("postgres"));
        assert!(is_env_var_prefix("_pg_1"));
        assert!(!is_env_var_prefix("pg-cred"));
        assert!(!is_env_var_prefix("1pg"));
        assert!(!is_env_var_prefix(""));
    }
}
