//! Connecting to databases that are not the throwaway trust-everyone one: TLS as `sslmode`
//! asks, passwords, the libpq environment, and what a failure says.

mod common;

use common::*;
use datasurface::dev::postgres::{Options, ThrowawayPostgres};
use datasurface::pg::Environment;
use datasurface::*;

/// The people model on `server`, its source and merge databases created.
async fn model_on(server: &ThrowawayPostgres) -> ValidEcosystem {
    let admin = server.connect("postgres").await.expect("admin");
    for statement in [
        "CREATE DATABASE src",
        "CREATE DATABASE merge",
        "CREATE ROLE app LOGIN PASSWORD 'right-password-123'",
        "CREATE ROLE tls_only LOGIN PASSWORD 'tls-password-456'",
        "GRANT ALL ON DATABASE merge TO app, tls_only",
    ] {
        admin.batch_execute(statement).await.expect(statement);
    }
    server
        .connect("merge")
        .await
        .expect("merge")
        .batch_execute("GRANT ALL ON SCHEMA public TO app, tls_only")
        .await
        .expect("grant");
    let pg = TestPg::at("127.0.0.1", server.port());
    model(
        &pg,
        "src",
        "merge",
        vec![people()],
        Consistency::MultiDataset,
    )
}

/// `status` of YellowLive with `env`: what a user sees first of a connection.
async fn status(eco: &ValidEcosystem, env: &Environment) -> Result<(), String> {
    history(eco, "YellowLive", None, 1, env)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connects_as_sslmode_asks_and_checks_what_it_must() {
    let server = ThrowawayPostgres::start_with(Options {
        tls: true,
        passwords: true,
    })
    .expect("a TLS server");
    let eco = model_on(&server).await;
    let (right, other) = (
        server.ca_cert().display().to_string(),
        server.other_ca_cert().display().to_string(),
    );
    let port = server.port();
    let env = |host: &str, query: String| {
        Environment::new()
            .set("merge_USER", "tls_only")
            .set("merge_PASSWORD", "tls-password-456")
            .set(
                "DATASURFACE_DB_MERGEDB",
                format!("postgres://{host}:{port}/merge?{query}"),
            )
    };
    // The role may only log in over TLS: these connect with it.
    for (host, query) in [
        ("127.0.0.1", String::new()),
        ("127.0.0.1", "sslmode=require".to_owned()),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={right}"),
        ),
        // The certificate is for localhost: verify-ca checks only who signed it.
        (
            "127.0.0.1",
            format!("sslmode=verify-ca&sslrootcert={right}"),
        ),
    ] {
        status(&eco, &env(host, query.clone()))
            .await
            .unwrap_or_else(|e| panic!("{host} {query}: {e}"));
    }
    for (host, query, expected) in [
        ("127.0.0.1", "sslmode=disable".to_owned(), "no encryption"),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={other}"),
            "invalid peer certificate: UnknownIssuer",
        ),
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={right}"),
            "invalid peer certificate: certificate not valid for name",
        ),
        (
            "localhost",
            format!("sslmode=require&sslrootcert={other}"),
            "invalid peer certificate: UnknownIssuer",
        ),
    ] {
        let err = status(&eco, &env(host, query.clone()))
            .await
            .expect_err(&format!("{host} {query} must fail"));
        assert!(err.contains(expected), "{host} {query}: {err}");
        assert!(
            err.contains(&format!(
                "cannot connect to database MergeDB ({host}:{port}/merge as tls_only)"
            )),
            "{err}"
        );
        assert!(!err.contains("tls-password-456"), "{err}");
    }
    // PGSSLMODE and PGSSLROOTCERT are read when the URL says nothing.
    let libpq = Environment::new()
        .set("merge_USER", "tls_only")
        .set("merge_PASSWORD", "tls-password-456")
        .set("PGSSLMODE", "verify-full")
        .set("PGSSLROOTCERT", &other)
        .set(
            "DATASURFACE_DB_MERGEDB",
            format!("postgres://localhost:{port}/merge"),
        );
    let err = status(&eco, &libpq).await.expect_err("wrong root");
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connection_says_why_and_never_the_password() {
    let server = ThrowawayPostgres::start_with(Options {
        tls: false,
        passwords: true,
    })
    .expect("a server with passwords");
    let eco = model_on(&server).await;
    let port = server.port();
    let env = |user: &str, password: &str, url: String| {
        Environment::new()
            .set("merge_USER", user)
            .set("merge_PASSWORD", password)
            .set("DATASURFACE_DB_MERGEDB", url)
    };
    status(
        &eco,
        &env(
            "app",
            "right-password-123",
            format!("postgres://127.0.0.1:{port}/merge"),
        ),
    )
    .await
    .expect("the right password");
    for (e, expected) in [
        (
            env("app", "wrong-password-789", format!("postgres://127.0.0.1:{port}/merge")),
            format!(
                "cannot connect to database MergeDB (127.0.0.1:{port}/merge as app): password authentication failed for user \"app\""
            ),
        ),
        (
            env("app", "right-password-123", format!("postgres://127.0.0.1:{port}/nope")),
            format!(
                "cannot connect to database MergeDB (127.0.0.1:{port}/nope as app): database \"nope\" does not exist"
            ),
        ),
        (
            env("app", "right-password-123", "postgres://127.0.0.1:1/merge".into()),
            "cannot connect to database MergeDB (127.0.0.1:1/merge as app) after 4 attempts: error connecting to server: Connection refused".into(),
        ),
        (
            env("app", "right-password-123", "postgres://no-such-host.invalid:5432/merge".into()),
            "cannot connect to database MergeDB (no-such-host.invalid:5432/merge as app) after 4 attempts: error connecting to server: failed to lookup address information".into(),
        ),
    ] {
        let err = status(&eco, &e).await.expect_err(&expected);
        assert!(err.starts_with(&expected), "expected {expected:?}, got {err:?}");
        for secret in ["wrong-password-789", "right-password-123"] {
            assert!(!err.contains(secret), "{err}");
        }
    }
    // The password can come from PGPASSWORD, or a password file.
    let dir = std::env::temp_dir().join(format!("pgpass-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("pgpass");
    std::fs::write(
        &file,
        format!("127.0.0.1:{port}:merge:app:right-password-123\n"),
    )
    .expect("pgpass");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let url = format!("postgres://127.0.0.1:{port}/merge");
    for libpq in [
        Environment::new()
            .set("merge_USER", "app")
            .set("PGPASSWORD", "right-password-123"),
        Environment::new()
            .set("PGUSER", "app")
            .set("PGPASSFILE", file.display().to_string()),
    ] {
        status(&eco, &libpq.set("DATASURFACE_DB_MERGEDB", url.clone()))
            .await
            .expect("a password from libpq's places");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
