//! A throwaway PostgreSQL server from the machine's install: for the demo and the tests.
//! (A PostgreSQL server only; the Kubernetes cluster is `datasurface_deploy`'s `Cluster`.)
//!
//! `initdb` refuses to run as root, so as root the server's data belongs to the `postgres`
//! user (created by the distribution's package) and its commands run through `runuser`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running PostgreSQL server, its data in a temporary directory; stopped and removed on
/// drop.
#[derive(Debug)]
pub struct ThrowawayPostgres {
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    port: u16,
    tls: bool,
    durable: bool,
}

/// How a server differs from the plain one: for testing what a real server does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Serve TLS with a certificate for `localhost` signed by the server's own test
    /// authority ([`ThrowawayPostgres::ca_cert`]; [`ThrowawayPostgres::other_ca_cert`] signed
    /// nothing).
    pub tls: bool,
    /// Log in every role but `postgres` with its password (SCRAM); a role named
    /// `tls_only` only over TLS.
    pub passwords: bool,
}

/// Why a throwaway PostgreSQL could not be started or restarted.
#[derive(Debug, thiserror::Error)]
pub enum ThrowawayPostgresError {
    #[error(
        "no PostgreSQL server install found (looked for initdb on PATH and in /usr/lib/postgresql/*/bin); \
         install one with: apt-get install -y postgresql"
    )]
    NotInstalled,
    #[error(
        "running as root, but there is no `postgres` user to own the cluster (initdb refuses root); install the postgresql package, which creates it"
    )]
    NoUnprivilegedUser,
    #[error("{step} failed: {detail}")]
    Step { step: String, detail: String },
}

impl ThrowawayPostgres {
    /// Starts a new server on a free local port, trusting local connections as `postgres`.
    pub fn start() -> Result<ThrowawayPostgres, ThrowawayPostgresError> {
        Self::start_with(Options::default())
    }

    /// Starts a new server that keeps what commits on disk, as users run PostgreSQL (fsync,
    /// full page writes and synchronous commit on): for measuring. The others trade that
    /// for speed.
    pub fn start_durable() -> Result<ThrowawayPostgres, ThrowawayPostgresError> {
        Self::start_as(Options::default(), true)
    }

    /// Starts a new server with `options`.
    pub fn start_with(options: Options) -> Result<ThrowawayPostgres, ThrowawayPostgresError> {
        Self::start_as(options, false)
    }

    fn start_as(
        options: Options,
        durable: bool,
    ) -> Result<ThrowawayPostgres, ThrowawayPostgresError> {
        let bin = find_bin_dir().ok_or(ThrowawayPostgresError::NotInstalled)?;
        let run_as = if is_root() {
            if !user_exists("postgres") {
                return Err(ThrowawayPostgresError::NoUnprivilegedUser);
            }
            Some("postgres".to_owned())
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!(
            "datasurface-pg-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| step("create the cluster directory", e))?;
        let mut pg = ThrowawayPostgres {
            dir,
            bin,
            run_as,
            port: 0,
            tls: options.tls,
            durable,
        };
        if let Some(user) = &pg.run_as {
            run(
                Command::new("chown").arg(user).arg(&pg.dir),
                "chown the cluster directory",
            )?;
        }
        let data = pg.dir.join("data");
        pg.pg("initdb", "initdb", |c| {
            c.arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]);
        })?;
        if options.tls {
            pg.certificates()?;
        }
        if options.passwords {
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\n\
                 host all postgres 127.0.0.1/32 trust\n\
                 hostnossl all tls_only 127.0.0.1/32 reject\n\
                 host all all 127.0.0.1/32 scram-sha-256\n",
            )
            .map_err(|e| step("write pg_hba.conf", e))?;
        }
        pg.port = free_port().map_err(|e| step("find a free port", e))?;
        pg.start_server()?;
        Ok(pg)
    }

    /// The test authority's certificate, which signed the server's (TLS servers).
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// An authority's certificate that signed nothing of this server's (TLS servers).
    pub fn other_ca_cert(&self) -> PathBuf {
        self.dir.join("other-ca.crt")
    }

    /// Makes the test authorities and the server's certificate (for `localhost` only) with
    /// openssl; the key is the server user's, readable by it alone, as PostgreSQL wants.
    fn certificates(&self) -> Result<(), ThrowawayPostgresError> {
        let dir = &self.dir;
        test_certificates(dir)?;
        if let Some(user) = &self.run_as {
            run(
                Command::new("chown")
                    .arg(user)
                    .arg("server.key")
                    .arg("server.crt")
                    .current_dir(dir),
                "chown the server's key",
            )?;
        }
        run(
            Command::new("chmod")
                .arg("600")
                .arg("server.key")
                .current_dir(dir),
            "chmod the server's key",
        )
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` as the `postgres` superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Connects to `database` as the `postgres` superuser.
    pub async fn connect(
        &self,
        database: &str,
    ) -> Result<tokio_postgres::Client, datasurface_engine::pg::ConnectError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname(database);
        let settings = datasurface_engine::pg::Settings::new(
            database,
            config,
            datasurface_engine::pg::SslMode::Disable,
        );
        datasurface_engine::pg::connect_with(&settings, 1).await
    }

    /// Logs every statement's duration in the server's log, and the plan, with its timings,
    /// of every statement over a tenth of a second: to see where a batch's time goes (the
    /// log is in [`ThrowawayPostgres::dir`]).
    pub async fn log_statements(&self) -> Result<(), ThrowawayPostgresError> {
        let admin = self
            .connect("postgres")
            .await
            .map_err(|e| step("connect", e))?;
        // One at a time: ALTER SYSTEM cannot run in the transaction several statements share.
        for statement in [
            "ALTER SYSTEM SET log_min_duration_statement = 0",
            "LOAD 'auto_explain'",
            "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'",
            "ALTER SYSTEM SET auto_explain.log_min_duration = 100",
            "ALTER SYSTEM SET auto_explain.log_analyze = on",
            "SELECT pg_reload_conf()",
        ] {
            admin.batch_execute(statement).await.map_err(|e| {
                let detail = e.as_db_error().map(|d| d.message().to_owned());
                step(statement, detail.unwrap_or_else(|| e.to_string()))
            })?;
        }
        Ok(())
    }

    /// The server's directory (data, socket, server log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Leaves the server running; returns the shell command that stops it and removes
    /// its directory.
    pub fn keep(mut self) -> String {
        let stop = format!(
            "{}{} -D {} -m fast stop && rm -rf {}",
            self.run_as
                .as_ref()
                .map(|u| format!("runuser -u {u} -- "))
                .unwrap_or_default(),
            self.bin.join("pg_ctl").display(),
            self.dir.join("data").display(),
            self.dir.display()
        );
        // Dropping would stop the server: forget the directory instead.
        self.dir = PathBuf::new();
        stop
    }

    /// Stops the server at once, then starts it again on the same port (for restart tests).
    pub fn restart(&self) -> Result<(), ThrowawayPostgresError> {
        self.stop_server()?;
        self.start_server()
    }

    fn start_server(&self) -> Result<(), ThrowawayPostgresError> {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20",
            self.port,
            self.dir.display()
        );
        if !self.durable {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                self.dir.join("server.crt").display(),
                self.dir.join("server.key").display()
            ));
        }
        let (data, log) = (self.dir.join("data"), self.dir.join("server.log"));
        self.pg("pg_ctl", "start the server", |c| {
            c.arg("-D")
                .arg(&data)
                .arg("-o")
                .arg(&options)
                .arg("-l")
                .arg(&log)
                .args(["-w", "start"]);
        })
    }

    fn stop_server(&self) -> Result<(), ThrowawayPostgresError> {
        let data = self.dir.join("data");
        self.pg("pg_ctl", "stop the server", |c| {
            c.arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"]);
        })
    }

    fn pg(
        &self,
        tool: &str,
        what: &str,
        args: impl FnOnce(&mut Command),
    ) -> Result<(), ThrowawayPostgresError> {
        let exe = self.bin.join(tool);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        args(&mut command);
        command.current_dir(&self.dir);
        run(&mut command, what)
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        if self.dir.as_os_str().is_empty() {
            return;
        }
        let _ = self.stop_server();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn step(what: &str, e: impl std::fmt::Display) -> ThrowawayPostgresError {
    ThrowawayPostgresError::Step {
        step: what.to_owned(),
        detail: e.to_string(),
    }
}

fn run(command: &mut Command, what: &str) -> Result<(), ThrowawayPostgresError> {
    let output = command.output().map_err(|e| step(what, e))?;
    if output.status.success() {
        Ok(())
    } else {
        let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if detail.is_empty() {
            detail = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        Err(step(what, detail))
    }
}

/// The directory holding `initdb` and `pg_ctl`: on PATH, or the newest of the usual
/// install folders.
fn find_bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Some(dir);
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin).or_else(|| {
        [
            "/usr/local/pgsql/bin",
            "/opt/homebrew/bin",
            "/usr/local/bin",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("initdb").is_file())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_exists(user: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(user)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Makes, with openssl in `dir`, two test authorities (`ca.crt`, `other-ca.crt`, valid two
/// days) and a certificate `ca.crt` signed for `localhost` (`server.crt`, its key
/// `server.key`): what a TLS server started by a test presents.
pub fn test_certificates(dir: &Path) -> Result<(), ThrowawayPostgresError> {
    let openssl =
        |args: &[&str], what: &str| run(Command::new("openssl").args(args).current_dir(dir), what);
    for ca in ["ca", "other-ca"] {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
                "-subj",
                &format!("/CN=datasurface test {ca}"),
            ],
            "make a test certificate authority",
        )?;
    }
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n")
        .map_err(|e| step("write the certificate extensions", e))?;
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
        "make the server's key",
    )?;
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
        "sign the server's certificate",
    )?;
    Ok(())
}
