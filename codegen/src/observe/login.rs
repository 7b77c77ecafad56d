//! The console's login: SQL that makes a role which may read the batch tables of a
//! provider's platforms and nothing else — no merge table, no view, no source. A login
//! made in that role (`console_credential` in the model) is all `serve` needs.

use datasurface_model::naming::{self, quote_ident};
use datasurface_model::{ValidEcosystem, YellowServiceProvider};

/// The role the console's login is made in.
pub const CONSOLE_ROLE: &str = "datasurface_console";

/// The statements, to run once as the merge database's owner after `infra` made the batch
/// tables (and again when a platform is added).
pub fn sql(eco: &ValidEcosystem, provider: &YellowServiceProvider) -> String {
    let role = quote_ident(CONSOLE_ROLE);
    let mut tables = Vec::new();
    for platform in eco.platforms_of(provider) {
        tables.push(quote_ident(&naming::batch_metrics_table(
            &platform.model.name,
        )));
        tables.push(quote_ident(&naming::batch_counter_table(
            &platform.model.name,
        )));
    }
    let mut out = format!(
        "-- The console's login may read the batch tables of the platforms on {db} and nothing else.\n\
         -- Run as the database's owner after `infra`; then make the login in the role, e.g.\n\
         --   CREATE ROLE console_reader LOGIN PASSWORD '…' IN ROLE {CONSOLE_ROLE};\n\
         -- and give it to the console as the provider's console_credential.\n\
         DO $$ BEGIN\n    CREATE ROLE {role} NOLOGIN;\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND $$;\n\
         GRANT CONNECT ON DATABASE {database} TO {role};\n\
         GRANT USAGE ON SCHEMA public TO {role};\n",
        db = provider.merge_database.name,
        database = quote_ident(&provider.merge_database.database),
    );
    if !tables.is_empty() {
        out.push_str(&format!(
            "GRANT SELECT ON {} TO {role};\n",
            tables.join(", ")
        ));
    }
    out
}
