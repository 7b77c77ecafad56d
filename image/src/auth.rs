//! Registry credentials as Docker finds them: the config file (`$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`), its `auths` entry for the registry, or the credential
//! helper its `credHelpers` or `credsStore` names (`docker-credential-NAME get`). No
//! credential is ever printed.

use crate::error::Error;
use base64::Engine as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A user name and password (or token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The Docker config file Docker would read.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
        }
    }
}

/// The credentials the Docker config holds for `registry` (`ghcr.io`, `127.0.0.1:5000`);
/// `None` to go anonymously.
pub fn credentials(registry: &str) -> Result<Option<Credentials>, Error> {
    match config_path() {
        Some(path) => credentials_in(&path, registry),
        None => Ok(None),
    }
}

/// The credentials the Docker config at `path` holds for `registry`.
pub fn credentials_in(
    path: &std::path::Path,
    registry: &str,
) -> Result<Option<Credentials>, Error> {
    let path = path.to_owned();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path)(e)),
    };
    let fail = |message: String| Error::Credentials {
        path: path.clone(),
        message,
    };
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("invalid JSON: {e}")))?;
    let keys = keys(registry);
    let helper = keys
        .iter()
        .find_map(|k| config["credHelpers"][k].as_str())
        .or_else(|| config["credsStore"].as_str());
    if let Some(found) = helper
        .map(|helper| helper_get(helper, &keys[0]))
        .transpose()
        .map_err(fail)?
        .flatten()
    {
        return Ok(Some(found));
    }
    let Some(entry) = keys.iter().find_map(|k| config["auths"].get(k.as_str())) else {
        return Ok(None);
    };
    if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                fail(format!(
                    "the auth of {registry} is not base64 of user:password"
                ))
            })?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            fail(format!(
                "the auth of {registry} is not base64 of user:password"
            ))
        })?;
        return Ok(Some(Credentials {
            username: username.into(),
            password: password.into(),
        }));
    }
    match (entry["username"].as_str(), entry["password"].as_str()) {
        (Some(username), Some(password)) => Ok(Some(Credentials {
            username: username.into(),
            password: password.into(),
        })),
        _ => Ok(None),
    }
}

/// The names a registry may be filed under: as given, and Docker Hub's legacy URL.
fn keys(registry: &str) -> Vec<String> {
    let mut keys = vec![registry.to_owned(), format!("https://{registry}")];
    if registry == "docker.io"
        || registry == "index.docker.io"
        || registry == "registry-1.docker.io"
    {
        keys.insert(0, "https://index.docker.io/v1/".to_owned());
    }
    keys
}

/// Asks `docker-credential-{helper}` for `server`'s credentials.
fn helper_get(helper: &str, server: &str) -> Result<Option<Credentials>, String> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("the credential helper {program} does not run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !output.status.success() {
        // Helpers exit non-zero for "no credentials for this server".
        return Ok(None);
    }
    let found: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|_| format!("{program} did not answer with JSON"))?;
    Ok(
        match (found["Username"].as_str(), found["Secret"].as_str()) {
            (Some(username), Some(password)) => Some(Credentials {
                username: username.into(),
                password: password.into(),
            }),
            _ => None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docker_configs_auths_give_the_registrys_credentials() {
        let dir = std::env::temp_dir().join(format!("datasurface-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("robot:s3cret:with-colon");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths": {{"ghcr.io": {{"auth": "{auth}"}},
                    "https://index.docker.io/v1/": {{"username": "hub", "password": "pw"}}}}}}"#
            ),
        )
        .unwrap();
        let found = credentials_in(&path, "ghcr.io").unwrap().expect("ghcr.io");
        assert_eq!(
            (found.username.as_str(), found.password.as_str()),
            ("robot", "s3cret:with-colon")
        );
        assert!(
            !format!("{found:?}").contains("s3cret"),
            "Debug never shows the password"
        );
        let hub = credentials_in(&path, "docker.io")
            .unwrap()
            .expect("Docker Hub");
        assert_eq!(hub.username, "hub");
        assert_eq!(credentials_in(&path, "quay.io").unwrap(), None);
        assert_eq!(
            credentials_in(&dir.join("none.json"), "ghcr.io").unwrap(),
            None
        );

        std::fs::write(&path, r#"{"auths": {"ghcr.io": {"auth": "not base64!"}}}"#).unwrap();
        let error = credentials_in(&path, "ghcr.io").unwrap_err().to_string();
        assert!(
            error.contains("config.json") && error.contains("ghcr.io"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
