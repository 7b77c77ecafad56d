//! Where a model database really is and how to log into it, resolved the way libpq users
//! expect. For each setting, in order: `DATASURFACE_DB_{NAME}` (a URL) when it sets it, then
//! the model, then the libpq environment (`PGUSER`, `PGPASSWORD`, `PGSSLMODE`,
//! `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`, and `~/.pgpass` or `PGPASSFILE` for the password).
//! The credential the model names (`{name}_USER`, `{name}_PASSWORD`) comes before all of
//! them. The model names every database's host, port and name, so `PGHOST`, `PGPORT` and
//! `PGDATABASE` do not move a model database: `DATASURFACE_DB_{NAME}` does.

use datasurface_model::{Credential, PostgresDatabase, naming};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::Config;

/// The environment the runtime reads: credentials (`{name}_USER`, `{name}_PASSWORD`) and
/// database overrides (`DATASURFACE_DB_{NAME}`). Tests build one explicitly; the binary
/// takes the process's.
#[derive(Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Environment {
    // Never print values: they hold passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("vars", &self.vars.keys())
            .finish()
    }
}

impl Environment {
    /// The process's environment.
    pub fn from_process() -> Self {
        Environment {
            vars: std::env::vars().collect(),
        }
    }

    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Whether `name` is set (and not empty).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value of `name`, when set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// How a connection is secured, as libpq's `sslmode` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, without checking its certificate (libpq's default).
    Prefer,
    /// TLS, without checking the certificate unless a root certificate is given.
    Require,
    /// TLS, the certificate signed by a trusted root.
    VerifyCa,
    /// TLS, the certificate signed by a trusted root and issued for the host.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            // `allow` tries without TLS first; preferring TLS is never less safe.
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }
}

/// A connection's settings, resolved. Its `Debug` shows no password.
#[derive(Clone)]
pub struct Settings {
    /// The model's name of the database, for messages.
    pub name: String,
    pub(crate) config: Config,
    pub ssl: SslMode,
    /// The trusted roots, when not the system's.
    pub root_cert: Option<PathBuf>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("name", &self.name)
            .field("target", &self.target())
            .field("ssl", &self.ssl)
            .field("root_cert", &self.root_cert)
            .finish()
    }
}

/// Why a database's settings could not be resolved. Names the variable, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "credential `{credential}`: set {user_var} (and {password_var}) in the environment, or PGUSER"
    )]
    MissingCredential {
        credential: String,
        user_var: String,
        password_var: String,
    },
    #[error("{var} is not a usable connection URL (expected postgres://host:port/database): {why}")]
    BadOverride { var: String, why: String },
    #[error(
        "{var} is ambiguous: more than one `@` before the host, so part of a password could be \
         taken for the host; percent-encode `@` in the user or password as %40"
    )]
    AmbiguousOverride { var: String },
    #[error("{var}: {why}")]
    BadSetting { var: String, why: String },
}

/// Connection settings the runtime reads out of a URL's query itself, as tokio-postgres
/// does not know them (or not all their values).
const OURS: [&str; 2] = ["sslmode", "sslrootcert"];

impl Settings {
    /// The settings of `db`, logged into with `credential` when given (the simulator names
    /// its user itself).
    pub fn resolve(
        db: &PostgresDatabase,
        credential: Option<&Credential>,
        env: &Environment,
    ) -> Result<Settings, SettingsError> {
        let var = naming::database_env_var(&db.name);
        let (mut config, ours) = match env.get(&var) {
            Some(url) => override_config(&var, url)?,
            None => (Config::new(), Vec::new()),
        };
        if config.get_hosts().is_empty() {
            config.host(&db.host);
        }
        if config.get_ports().is_empty() {
            config.port(db.port);
        }
        if config.get_dbname().is_none() {
            config.dbname(&db.database);
        }
        if let Some(credential) = credential {
            let user_var = naming::credential_env_var(&credential.name, "USER");
            let password_var = naming::credential_env_var(&credential.name, "PASSWORD");
            if let Some(user) = env.get(&user_var) {
                config.user(user);
            }
            if let Some(password) = env.get(&password_var) {
                config.password(password);
            }
            if config.get_user().is_none() {
                match env.get("PGUSER") {
                    Some(user) => config.user(user),
                    None => {
                        return Err(SettingsError::MissingCredential {
                            credential: credential.name.clone(),
                            user_var,
                            password_var,
                        });
                    }
                };
            }
        } else if config.get_user().is_none()
            && let Some(user) = env.get("PGUSER")
        {
            config.user(user);
        }
        if config.get_password().is_none() {
            let password = env.get("PGPASSWORD").map(str::to_owned).or_else(|| {
                let (host, port) = host_port(&config);
                pgpass(
                    env,
                    &host,
                    port,
                    config.get_dbname().unwrap_or(""),
                    config.get_user().unwrap_or(""),
                )
            });
            if let Some(password) = password {
                config.password(password);
            }
        }
        let setting = |name: &str, env_var: &str| -> Option<(String, String)> {
            ours.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| (v.clone(), var.clone()))
                .or_else(|| env.get(env_var).map(|v| (v.to_owned(), env_var.to_owned())))
        };
        let ssl = match setting("sslmode", "PGSSLMODE") {
            Some((mode, from)) => mode
                .parse()
                .map_err(|why| SettingsError::BadSetting { var: from, why })?,
            None => SslMode::Prefer,
        };
        let root_cert = setting("sslrootcert", "PGSSLROOTCERT")
            .map(|(path, _)| path)
            .filter(|p| p != "system")
            .map(PathBuf::from);
        if config.get_connect_timeout().is_none() {
            let seconds = match env.get("PGCONNECT_TIMEOUT") {
                Some(t) => t.parse::<u64>().map_err(|_| SettingsError::BadSetting {
                    var: "PGCONNECT_TIMEOUT".into(),
                    why: format!("`{t}` is not a number of seconds"),
                })?,
                None => 10,
            };
            config.connect_timeout(Duration::from_secs(seconds.max(1)));
        }
        if config.get_application_name().is_none() {
            config.application_name("datasurface");
        }
        Ok(Settings {
            name: db.name.clone(),
            config,
            ssl,
            root_cert,
        })
    }

    /// Settings for a server given by its parts (the throwaway cluster, the simulator's
    /// flags): `name` is what messages call it.
    pub fn new(name: &str, config: Config, ssl: SslMode) -> Settings {
        Settings {
            name: name.to_owned(),
            config,
            ssl,
            root_cert: None,
        }
    }

    /// Sets the host.
    pub fn host(&mut self, host: &str) -> &mut Self {
        // A host given by hand replaces the resolved ones.
        let mut config = Config::new();
        config.host(host);
        for port in self.config.get_ports() {
            config.port(*port);
        }
        self.carry_into(&mut config);
        self.config = config;
        self
    }

    fn carry_into(&self, config: &mut Config) {
        if let Some(db) = self.config.get_dbname() {
            config.dbname(db);
        }
        if let Some(user) = self.config.get_user() {
            config.user(user);
        }
        if let Some(password) = self.config.get_password() {
            config.password(password);
        }
        if let Some(name) = self.config.get_application_name() {
            config.application_name(name);
        }
        if let Some(timeout) = self.config.get_connect_timeout() {
            config.connect_timeout(*timeout);
        }
    }

    /// Sets the port.
    pub fn port(&mut self, port: u16) -> &mut Self {
        let mut config = Config::new();
        for host in self.config.get_hosts() {
            match host {
                tokio_postgres::config::Host::Tcp(h) => config.host(h),
                tokio_postgres::config::Host::Unix(p) => config.host_path(p),
            };
        }
        config.port(port);
        self.carry_into(&mut config);
        self.config = config;
        self
    }

    /// Sets the database name.
    pub fn dbname(&mut self, dbname: &str) -> &mut Self {
        self.config.dbname(dbname);
        self
    }

    /// Sets the user.
    pub fn user(&mut self, user: &str) -> &mut Self {
        self.config.user(user);
        self
    }

    /// Sets the password.
    pub fn password(&mut self, password: impl AsRef<[u8]>) -> &mut Self {
        self.config.password(password);
        self
    }

    /// Names the session in `pg_stat_activity`.
    pub fn application_name(&mut self, name: &str) -> &mut Self {
        self.config.application_name(name);
        self
    }

    /// The user the session logs in as.
    pub fn user_name(&self) -> Option<&str> {
        self.config.get_user()
    }

    /// The database's name on the server.
    pub fn dbname_on_server(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    /// `host:port/database as user`, for messages: never the password.
    pub fn target(&self) -> String {
        let (host, port) = host_port(&self.config);
        let mut target = format!("{host}:{port}/{}", self.dbname_on_server());
        if let Some(user) = self.config.get_user() {
            target.push_str(&format!(" as {user}"));
        }
        target
    }
}

/// The configuration a `DATASURFACE_DB_*` URL gives, and the settings of its query the
/// runtime reads itself.
fn override_config(var: &str, url: &str) -> Result<(Config, Vec<(String, String)>), SettingsError> {
    if has_ambiguous_user_info(url) {
        return Err(SettingsError::AmbiguousOverride { var: var.into() });
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut ours = Vec::new();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if OURS.contains(&key) {
            ours.push((key.to_owned(), percent_decode(value)));
        } else {
            rest.push(pair);
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let config = Config::from_str(&url).map_err(|e| SettingsError::BadOverride {
        var: var.into(),
        // The driver's words name the part at fault, never its value.
        why: e.to_string(),
    })?;
    Ok((config, ours))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a URL's authority holds more than one `@`: an unencoded `@` in a password.
fn has_ambiguous_user_info(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority.matches('@').count() > 1
}

/// The (first) host and port of a configuration.
pub(crate) fn host_port(config: &Config) -> (String, u16) {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

/// The password `~/.pgpass` (or `PGPASSFILE`) holds for the connection, as libpq reads it:
/// the first line whose fields match (`*` matches anything; `\` escapes `:` and `\`). A file
/// that others than its owner can read is ignored, as libpq ignores it.
fn pgpass(env: &Environment, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let path = match env.get("PGPASSFILE") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env.get("HOME")?).join(".pgpass"),
    };
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&path).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            file = %path.display(),
            "the password file {} can be read by others than its owner; it is ignored (chmod 0600 it)",
            path.display()
        );
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let port = port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = pgpass_fields(line);
            let [h, p, d, u, password] = fields.as_slice() else {
                return None;
            };
            let matches = |field: &str, value: &str| field == "*" || field == value;
            (matches(h, host) && matches(p, &port) && matches(d, db) && matches(u, user))
                .then(|| password.clone())
        })
}

fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> PostgresDatabase {
        PostgresDatabase::new("MergeDB", "merge").at("db.internal", 5433)
    }

    #[test]
    fn an_unencoded_at_in_a_password_is_ambiguous() {
        assert!(has_ambiguous_user_info(
            "postgres://app:hunter2@topsecret@db.internal:5432/merge"
        ));
        assert!(!has_ambiguous_user_info(
            "postgres://app:hunter2%40topsecret@db.internal:5432/merge"
        ));
        assert!(!has_ambiguous_user_info(
            "postgres://db.internal:5432/merge"
        ));
        assert!(!has_ambiguous_user_info("postgres://db/merge?options=a@b"));
    }

    #[test]
    fn the_override_comes_first_then_the_model_then_libpq() {
        let credential = Credential::user_password("merge");
        let env = Environment::new()
            .set("PGUSER", "libpq_user")
            .set("PGPASSWORD", "libpq-secret")
            .set("PGSSLMODE", "require")
            .set("PGHOST", "ignored.example");
        let s = Settings::resolve(&db(), Some(&credential), &env).expect("settings");
        assert_eq!(s.target(), "db.internal:5433/merge as libpq_user");
        assert_eq!(s.ssl, SslMode::Require);
        assert_eq!(s.config.get_password(), Some(&b"libpq-secret"[..]));

        let env = env
            .set("merge_USER", "app")
            .set("merge_PASSWORD", "model-secret")
            .set(
                "DATASURFACE_DB_MERGEDB",
                "postgres://elsewhere:6000/other?sslmode=verify-full&sslrootcert=%2Fetc%2Froot.pem&application_name=x",
            );
        let s = Settings::resolve(&db(), Some(&credential), &env).expect("settings");
        assert_eq!(s.target(), "elsewhere:6000/other as app");
        assert_eq!(s.ssl, SslMode::VerifyFull);
        assert_eq!(s.root_cert.as_deref(), Some(Path::new("/etc/root.pem")));
        assert_eq!(s.config.get_password(), Some(&b"model-secret"[..]));
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn a_bad_sslmode_names_where_it_came_from() {
        let env = Environment::new()
            .set("merge_USER", "app")
            .set("DATASURFACE_DB_MERGEDB", "postgres://h/d?sslmode=strict");
        let err = Settings::resolve(&db(), Some(&Credential::user_password("merge")), &env)
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "DATASURFACE_DB_MERGEDB: sslmode `strict` is not one of disable, allow, prefer, require, verify-ca, verify-full"
        );
    }

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        assert_eq!(
            pgpass_fields(r"db\:1:5432:*:app:pa\:ss\\word"),
            ["db:1", "5432", "*", "app", r"pa:ss\word"]
        );
        let dir = std::env::temp_dir().join(format!("pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:no\ndb.internal:5433:*:app:found\n",
        )
        .expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let env = Environment::new().set("PGPASSFILE", file.display().to_string());
        assert_eq!(
            pgpass(&env, "db.internal", 5433, "merge", "app").as_deref(),
            Some("found")
        );
        assert_eq!(pgpass(&env, "db.internal", 5433, "merge", "bob"), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(pgpass(&env, "db.internal", 5433, "merge", "app"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
