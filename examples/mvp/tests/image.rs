//! `mvp image`: the ecosystem's image built without Docker, checked with the tools that
//! consume images. The base is made here the way distroless bases are made — the files of
//! Debian's C runtime packages in one layer of an OCI layout, no shell, no CA roots — so the
//! tests need no registry on the internet. The image is built from the test build's `mvp`
//! binary (`--binary`): a cargo build inside a test would take minutes. skopeo and umoci
//! read the layout; runc (as root, as CI runs) runs the image's entrypoint, `--version` and
//! a real batch against a throwaway PostgreSQL; Debian's docker-registry on the loopback
//! address takes a push and gives the image back by digest. scripts/test.sh installs those
//! tools and names them in DATASURFACE_RUNC, DATASURFACE_UMOCI, DATASURFACE_SKOPEO and
//! DATASURFACE_REGISTRY.

use datasurface::dev::postgres::ThrowawayPostgres;
use datasurface::serde_json::{self, Value, json};
use datasurface_image::{Descriptor, Entry, Index, Layer, Layout, Manifest, media};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The time every build of these tests takes as the commit's (SOURCE_DATE_EPOCH).
const EPOCH: &str = "1700000000";

/// A tool the tests run: its path from the variable scripts/test.sh sets, else from PATH.
fn tool(var: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from(name))
    });
    assert!(
        path.is_file(),
        "{} is missing: scripts/test.sh installs it (apt-get install runc umoci skopeo docker-registry)",
        path.display()
    );
    path
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mvp-image-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn all(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(out.status.success(), "{c:?}:\n{}", all(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A base image in an OCI layout at `dir`, assembled from the files of Debian's `libc6`
/// and `libgcc-s1` packages as installed on this machine (what a Rust binary links), with
/// the package's paths (`lib/x86_64-linux-gnu/libc.so.6`); docs and locales left out.
fn debian_base(dir: &Path) -> PathBuf {
    let listed = run(Command::new("dpkg").args(["-L", "libc6", "libgcc-s1"]));
    let mut paths: Vec<&str> = listed
        .lines()
        .filter(|p| *p != "/." && !p.starts_with("/usr/share") && !p.contains("/gconv"))
        .collect();
    paths.sort();
    paths.dedup();
    let mut entries = Vec::new();
    for path in paths {
        let relative = path.trim_start_matches('/');
        let host = Path::new(path);
        let Ok(meta) = std::fs::metadata(host) else {
            continue;
        };
        let link = std::fs::symlink_metadata(host).expect("stat");
        if meta.is_dir() {
            entries.push(Entry::dir(format!("{relative}/"), 0o755));
        } else if link.file_type().is_symlink() {
            let target = std::fs::read_link(host).expect("link");
            entries.push(Entry::symlink(relative, target.to_string_lossy()));
        } else {
            entries.push(Entry::file(
                relative,
                std::fs::read(host).expect("read"),
                0o755,
            ));
        }
    }
    let layer = Layer::new(&entries, 0);
    let layout = Layout::create(dir).expect("layout");
    let layer_digest = layout.write_blob(&layer.gzip).expect("blob");
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
    }))
    .expect("json");
    let config_digest = layout.write_blob(&config).expect("blob");
    let descriptor = |media_type: &str, digest, size: usize| Descriptor {
        media_type: media_type.into(),
        digest,
        size: size as u64,
        platform: None,
        annotations: BTreeMap::new(),
    };
    let manifest = serde_json::to_vec(&Manifest {
        schema_version: 2,
        media_type: media::MANIFEST.into(),
        config: descriptor(media::CONFIG, config_digest, config.len()),
        layers: vec![descriptor(
            media::LAYER_GZIP,
            layer_digest,
            layer.gzip.len(),
        )],
        annotations: BTreeMap::new(),
    })
    .expect("json");
    let manifest_digest = layout.write_blob(&manifest).expect("blob");
    layout
        .write_index(&Index::new(vec![descriptor(
            media::MANIFEST,
            manifest_digest,
            manifest.len(),
        )]))
        .expect("index");
    dir.to_owned()
}

/// `mvp image` in `cwd` (a directory that is no git checkout, so only SOURCE_DATE_EPOCH
/// sets the time), with no Docker credentials; what it printed.
fn image(cwd: &Path, args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_mvp"))
        .current_dir(cwd)
        .arg("image")
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("DOCKER_CONFIG", cwd.join("no-docker-config"))
        .env("GIT_CEILING_DIRECTORIES", cwd.parent().expect("a parent"))
        .env_remove("RUST_LOG"))
}

/// The image tag this binary prints and names its image with.
fn tag() -> String {
    let version = run(Command::new(env!("CARGO_BIN_EXE_mvp")).arg("--version"));
    version
        .trim()
        .rsplit_once("image tag ")
        .map(|(_, t)| t.trim_end_matches(')').to_owned())
        .expect("a tag in --version")
}

fn lock(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("image.lock")).expect("lock"))
        .expect("json")
}

/// `mvp image --binary` into `dir/out`, from a copy of the binary at `dir/bin/mvp` (also
/// as the development variant's with `dev`): the image digest.
fn build_in(dir: &Path, base: &Path, dev: bool) -> String {
    std::fs::create_dir_all(dir.join("bin")).expect("dir");
    std::fs::copy(env!("CARGO_BIN_EXE_mvp"), dir.join("bin/mvp")).expect("copy");
    let mut args = vec![
        "--binary",
        "bin/mvp",
        "--base-layout",
        base.to_str().unwrap(),
        "--out",
        "out",
        "--tar",
        "image.tar",
    ];
    if dev {
        args.extend(["--dev-binary", "bin/mvp"]);
    }
    let printed = image(dir, &args);
    assert!(printed.contains("CA roots added"), "{printed}");
    lock(dir)["image"].as_str().expect("a digest").to_owned()
}

#[test]
fn two_builds_in_different_directories_give_one_digest_that_skopeo_and_umoci_read() {
    let (skopeo, umoci) = (
        tool("DATASURFACE_SKOPEO", "skopeo"),
        tool("DATASURFACE_UMOCI", "umoci"),
    );
    let dir = scratch("repro");
    let base = debian_base(&dir.join("base"));
    let a = build_in(&dir.join("a"), &base, true);
    let b = build_in(&dir.join("elsewhere/b"), &base, true);
    assert_eq!(a, b, "the same binary and base, the same digest");
    let dev = lock(&dir.join("a"))["dev"].clone();
    assert_eq!(
        dev,
        lock(&dir.join("elsewhere/b"))["dev"],
        "the development variant's too"
    );
    assert!(
        dev.is_string() && dev != a.as_str(),
        "a second image: {dev}"
    );
    assert_eq!(
        std::fs::read(dir.join("a/image.tar")).unwrap(),
        std::fs::read(dir.join("elsewhere/b/image.tar")).unwrap(),
        "the tar of the layout is the same bytes too"
    );
    let tag = tag();
    assert_eq!(lock(&dir.join("a"))["tag"], tag.as_str());
    let dev_inspected: Value = serde_json::from_str(&run(Command::new(&skopeo).args([
        "inspect",
        &format!("oci:{}:{tag}-dev", dir.join("a/out").display()),
    ])))
    .expect("json");
    assert_eq!(dev_inspected["Digest"], dev);

    let inspected: Value = serde_json::from_str(&run(Command::new(&skopeo).args([
        "inspect",
        &format!("oci:{}:{tag}", dir.join("a/out").display()),
    ])))
    .expect("json");
    assert_eq!(inspected["Digest"], a.as_str());
    assert_eq!(inspected["Layers"].as_array().map(Vec::len), Some(2));
    assert_eq!(inspected["Created"], "2023-11-14T22:13:20Z");
    let config: Value = serde_json::from_str(&run(Command::new(&skopeo).args([
        "inspect",
        "--config",
        &format!("oci-archive:{}:{tag}", dir.join("a/image.tar").display()),
    ])))
    .expect("json");
    assert_eq!(config["config"]["User"], "10001:10001");
    assert_eq!(
        config["config"]["Entrypoint"],
        json!(["/usr/local/bin/mvp"])
    );
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.version"],
        tag.as_str()
    );

    let stat = run(Command::new(&umoci).args([
        "stat",
        "--image",
        &format!("{}:{tag}", dir.join("a/out").display()),
    ]));
    assert!(stat.contains("datasurface image"), "{stat}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An unpacked bundle of the image, set up as runc needs it on this machine
/// (TOOLCHAIN.md): no cgroup namespace or mount, no resources, the host's network (to
/// reach PostgreSQL on 127.0.0.1), no terminal; the process runs `args` with `env` added.
fn bundle(umoci: &Path, image: &str, dir: &Path, args: &[&str], env: &[(&str, String)]) {
    run(Command::new(umoci).args(["unpack", "--image", image, dir.to_str().unwrap()]));
    let path = dir.join("config.json");
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("config")).expect("json");
    let linux = &mut config["linux"];
    linux["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .retain(|n| n["type"] != "cgroup" && n["type"] != "network");
    linux.as_object_mut().unwrap().remove("resources");
    linux.as_object_mut().unwrap().remove("cgroupsPath");
    config["mounts"]
        .as_array_mut()
        .expect("mounts")
        .retain(|m| m["destination"] != "/sys/fs/cgroup");
    let process = &mut config["process"];
    process["terminal"] = false.into();
    let entrypoint = process["args"][0].clone();
    let mut argv = vec![entrypoint];
    argv.extend(args.iter().map(|a| Value::from(*a)));
    process["args"] = argv.into();
    let vars = process["env"].as_array_mut().expect("env");
    vars.extend(env.iter().map(|(k, v)| Value::from(format!("{k}={v}"))));
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).expect("write");
}

fn runc(runc: &Path, root: &Path, bundle: &Path, id: &str) -> Output {
    Command::new(runc)
        .args(["--root", root.to_str().unwrap(), "run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .output()
        .expect("runc")
}

#[test]
fn the_image_runs_its_version_and_a_batch_under_runc() {
    let (runc_bin, umoci) = (
        tool("DATASURFACE_RUNC", "runc"),
        tool("DATASURFACE_UMOCI", "umoci"),
    );
    let dir = scratch("runc");
    let base = debian_base(&dir.join("base"));
    build_in(&dir.join("build"), &base, false);
    let tag = tag();
    let image = format!("{}:{tag}", dir.join("build/out").display());
    let root = dir.join("runc-state");
    let id = format!("mvp-image-{}", std::process::id());

    bundle(&umoci, &image, &dir.join("version"), &["--version"], &[]);
    let out = runc(&runc_bin, &root, &dir.join("version"), &format!("{id}-v"));
    assert!(out.status.success(), "{}", all(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("image tag {tag}")),
        "{}",
        all(&out)
    );

    let server = ThrowawayPostgres::start().expect("throwaway PostgreSQL");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connect");
        for db in ["customer_db", "merge"] {
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .await
                .expect("database");
        }
        let source = server.connect("customer_db").await.expect("connect");
        source
            .batch_execute(&mvp::source_ddl())
            .await
            .expect("source tables");
        source
            .batch_execute(
                "INSERT INTO customers SELECT 'C' || i, 'first' || i, 'last' || i, date '1960-01-01' + i, \
                 'c' || i || '@example.com', NULL, 'A' || i, 'A' || i FROM generate_series(1, 30) AS i",
            )
            .await
            .expect("rows");
    });
    let url = |db: &str| format!("postgres://127.0.0.1:{}/{db}", server.port());
    bundle(
        &umoci,
        &image,
        &dir.join("batch"),
        &["run", "--platform", "YellowLive", "--store", "Store1"],
        &[
            ("DATASURFACE_DB_CUSTOMERDB", url("customer_db")),
            ("DATASURFACE_DB_MERGEDB", url("merge")),
            ("postgres_USER", "postgres".into()),
            ("postgres_PASSWORD", "unused-with-trust".into()),
        ],
    );
    let out = runc(&runc_bin, &root, &dir.join("batch"), &format!("{id}-b"));
    assert!(out.status.success(), "{}", all(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("DATASURFACE_RESULT_CODE=0"),
        "{}",
        all(&out)
    );
    let merged: i64 = rt.block_on(async {
        let merge = server.connect("merge").await.expect("connect");
        let table = datasurface::naming::merge_table("YellowLive", "Store1", "customers");
        merge
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0)
    });
    assert_eq!(
        merged, 30,
        "the batch in the container merged every source row"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Debian's docker-registry on a free port of the loopback address, storing in `dir`;
/// stopped when dropped.
struct Registry {
    child: Child,
    addr: String,
}

impl Registry {
    fn start(dir: &Path) -> Registry {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.join("storage").display()
            ),
        )
        .expect("config");
        let child = Command::new(tool("DATASURFACE_REGISTRY", "docker-registry"))
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry");
        // Ready when it answers the API's base endpoint.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answered = std::net::TcpStream::connect(&addr).is_ok_and(|mut s| {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reply = [0u8; 12];
                s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n").is_ok()
                    && s.read_exact(&mut reply).is_ok()
                    && reply.starts_with(b"HTTP/1.")
            });
            if answered {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start on {addr}"
            );
            // Polling a starting server: how long between tries, not a wait for a result.
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { child, addr }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_pushed_image_pulls_back_by_digest_and_a_registry_base_builds_the_same_image() {
    let skopeo = tool("DATASURFACE_SKOPEO", "skopeo");
    let dir = scratch("push");
    let registry = Registry::start(&dir);
    let base = debian_base(&dir.join("base"));
    let digest = build_in(&dir.join("build"), &base, false);
    let tag = tag();
    let repo = format!("{}/team/mvp", registry.addr);

    let printed = image(
        &dir.join("build"),
        &[
            "--binary",
            "bin/mvp",
            "--base-layout",
            base.to_str().unwrap(),
            "--out",
            "out",
            "--push",
            &repo,
        ],
    );
    assert!(
        printed.contains(&format!("pushed {repo}:{tag}@{digest}")),
        "{printed}"
    );
    let pulled = dir.join("pulled");
    run(Command::new(&skopeo).args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{repo}@{digest}"),
        &format!("oci:{}:pulled", pulled.display()),
    ]));
    let pulled_manifest = Layout::open(&pulled)
        .unwrap()
        .tagged("pulled")
        .unwrap()
        .expect("the pulled image");
    assert_eq!(
        pulled_manifest.digest.as_str(),
        digest,
        "pulled back by digest"
    );
    let built = Layout::open(&dir.join("build/out")).unwrap();
    assert_eq!(
        Layout::open(&pulled)
            .unwrap()
            .read_blob(&pulled_manifest.digest)
            .unwrap(),
        built.read_blob(&pulled_manifest.digest).unwrap(),
        "the same manifest, byte for byte"
    );

    // The base from the registry, by digest, gives the image the local layout gave.
    let base_manifest = Layout::open(&base).unwrap().index().unwrap().manifests[0]
        .digest
        .clone();
    run(Command::new(&skopeo).args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}", base.display()),
        &format!("docker://{}/base:1", registry.addr),
    ]));
    let from_registry = dir.join("from-registry");
    std::fs::create_dir_all(&from_registry).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_mvp"), from_registry.join("mvp")).unwrap();
    image(
        &from_registry,
        &[
            "--binary",
            "mvp",
            "--base",
            &format!("{}/base@{base_manifest}", registry.addr),
        ],
    );
    assert_eq!(lock(&from_registry)["image"], digest.as_str());
    let refused = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .current_dir(&from_registry)
        .args(["image", "--binary", "mvp", "--base"])
        .arg(format!("{}/base:1", registry.addr))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        all(&refused).contains("not named by digest"),
        "{}",
        all(&refused)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
