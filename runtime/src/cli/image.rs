//! `image` (the `deploy` feature): the ecosystem's OCI image without Docker. The binaries
//! come from `--binary` or from cargo (the production build, without `dev` and `deploy`;
//! the development variant with `dev`), the base from a registry by digest or a local
//! layout; the work is the `datasurface-image` crate's. It writes the layout (or a tar),
//! pushes when asked, and records the digests in the image lock the artifacts pin.

use super::render::{Failure, Output};
use super::setup::runtime;
use datasurface_codegen::{DEV_TAG_SUFFIX, Exit, IMAGE_LOCK, IMAGE_UID, ImageLock};
use datasurface_image::registry::{self, Ref};
use datasurface_image::{Built, Digest, Layout, Platform, Recipe};
use datasurface_model::ValidEcosystem;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where TLS clients find the CA roots on Debian-like systems: what the image gets when its
/// base has none.
const HOST_CA_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("base_source").required(true).args(["base", "base_layout"])))]
pub(super) struct ImageArgs {
    /// The production binary to put in the image, instead of building it with cargo
    /// (`cargo build --release --locked --no-default-features`).
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
    /// The development variant's binary (built with the `dev` feature), for the simulator's
    /// image. Without it, `image` builds it with cargo when the model runs the simulator
    /// and no --binary is given.
    #[arg(long, value_name = "PATH")]
    dev_binary: Option<PathBuf>,
    /// The base image, by digest: REGISTRY/REPOSITORY@sha256:… (for example Google's
    /// distroless `gcr.io/distroless/cc-debian12@sha256:…`).
    #[arg(long, value_name = "REF@sha256:…")]
    base: Option<String>,
    /// The base image from a local OCI image layout (its only image, or the one for this
    /// machine's platform).
    #[arg(long, value_name = "DIR")]
    base_layout: Option<PathBuf>,
    /// The OCI image layout to write the image into.
    #[arg(long, value_name = "DIR", default_value = "target/image")]
    out: PathBuf,
    /// Also write the layout as one tar file (an `oci-archive`).
    #[arg(long, value_name = "FILE")]
    tar: Option<PathBuf>,
    /// Push the image to this repository (REGISTRY/REPOSITORY), tagged with the image tag,
    /// with the Docker config's credentials; plain HTTP only to a registry on the loopback
    /// address.
    #[arg(long, value_name = "REPOSITORY")]
    push: Option<String>,
    /// The CA roots to add when the base has none.
    #[arg(long, value_name = "FILE", default_value = HOST_CA_ROOTS)]
    ca_roots: PathBuf,
    /// Where to record the digests, for `generate` and `deploy` to pin the image by digest.
    #[arg(long, value_name = "FILE", default_value = IMAGE_LOCK)]
    lock: PathBuf,
}

/// `image`: builds the image (and its development variant when the model runs the
/// simulator), pushes it when asked, records the digests.
pub(super) fn image(
    eco: &ValidEcosystem,
    binary: &str,
    args: ImageArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let tag = crate::generate::image_tag(eco);
    let context = crate::generate::context(binary);
    let wants_dev = datasurface_codegen::images(eco, &context)
        .iter()
        .any(|i| i.ends_with(DEV_TAG_SUFFIX));
    let production = match &args.binary {
        Some(path) => path.clone(),
        None => cargo_build(binary, None, o)?,
    };
    let dev = match (&args.dev_binary, wants_dev, &args.binary) {
        (Some(path), _, _) => Some(path.clone()),
        (None, true, None) => Some(cargo_build(binary, Some("dev"), o)?),
        (None, true, Some(_)) => {
            writeln!(
                o.err,
                "note: the model runs the simulator, whose image (tag {tag}{DEV_TAG_SUFFIX}) needs --dev-binary; it was not built"
            )?;
            None
        }
        (None, false, _) => None,
    };

    let out = Layout::create(&args.out).map_err(Failure::error)?;
    let platform = Platform::host();
    let runtime = runtime()?;
    let (base_layout, base_digest) = match (&args.base, &args.base_layout) {
        (Some(reference), _) => {
            let reference = Ref::parse(reference).map_err(Failure::error)?;
            writeln!(o.out, "pulling the base {reference}")?;
            let digest = runtime
                .block_on(registry::pull(&reference, &out, &platform))
                .map_err(Failure::error)?;
            (out.clone(), Some(digest))
        }
        (None, Some(dir)) => (Layout::open(dir).map_err(Failure::error)?, None),
        (None, None) => unreachable!("clap requires --base or --base-layout"),
    };

    let created = created()?;
    let ca_roots = match std::fs::read(&args.ca_roots) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Failure::error(format_args!(
                "{}: {e}",
                args.ca_roots.display()
            )));
        }
    };
    let build = |path: &Path, tag: String| -> Result<Built, Failure> {
        let bytes = std::fs::read(path)
            .map_err(|e| Failure::error(format_args!("the binary {}: {e}", path.display())))?;
        let recipe = Recipe {
            name: binary.to_owned(),
            binary: bytes,
            cmd: vec!["validate".into()],
            user: IMAGE_UID,
            ca_roots: ca_roots.clone(),
            created,
            tag,
            platform: platform.clone(),
        };
        datasurface_image::build(&out, &base_layout, base_digest.as_ref(), &recipe)
            .map_err(Failure::error)
    };

    let mut built = vec![(tag.clone(), build(&production, tag.clone())?)];
    if let Some(dev) = &dev {
        let dev_tag = format!("{tag}{DEV_TAG_SUFFIX}");
        built.push((dev_tag.clone(), build(dev, dev_tag)?));
    }
    for (name, image) in &built {
        writeln!(
            o.out,
            "image {name}: {} (base {}{}) in {}",
            image.manifest.digest,
            image.base,
            if image.added_ca_roots {
                ", CA roots added"
            } else {
                ""
            },
            args.out.display()
        )?;
    }
    if let Some(file) = &args.tar {
        let blobs: Vec<Digest> = built
            .iter()
            .flat_map(|(_, b)| b.blobs.iter().cloned())
            .collect();
        out.write_tar(file, &blobs).map_err(Failure::error)?;
        writeln!(o.out, "wrote {}", file.display())?;
    }
    if let Some(repository) = &args.push {
        let repository = Ref::parse(repository).map_err(Failure::error)?;
        for (name, image) in &built {
            let digest = runtime
                .block_on(registry::push(
                    &out,
                    &image.manifest.digest,
                    &repository,
                    name,
                ))
                .map_err(Failure::error)?;
            writeln!(
                o.out,
                "pushed {}/{}:{name}@{digest}",
                repository.registry(),
                repository.repository()
            )?;
        }
    }

    let lock = ImageLock {
        tag,
        image: built[0].1.manifest.digest.to_string(),
        dev: built.get(1).map(|(_, b)| b.manifest.digest.to_string()),
    };
    std::fs::write(&args.lock, lock.to_file())
        .map_err(|e| Failure::error(format_args!("{}: {e}", args.lock.display())))?;
    writeln!(o.out, "recorded the digests in {}", args.lock.display())?;
    Ok(Exit::Success)
}

/// Builds the model repo's binary `bin` in release, with `feature` only; its path, from
/// cargo's own report of what it built.
fn cargo_build(bin: &str, feature: Option<&str>, o: &mut Output<'_>) -> Result<PathBuf, Failure> {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.args([
        "build",
        "--release",
        "--locked",
        "--no-default-features",
        "--bin",
        bin,
        "--message-format=json-render-diagnostics",
    ]);
    if let Some(feature) = feature {
        cargo.args(["--features", feature]);
    }
    writeln!(
        o.out,
        "building {bin} with cargo ({})",
        feature.map_or("production: no features".to_owned(), |f| format!(
            "feature {f}"
        ))
    )?;
    let output = cargo
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| Failure::error(format_args!("cargo does not run: {e}")))?;
    if !output.status.success() {
        return Err(Failure::error(format_args!(
            "cargo build of {bin} failed (its errors are above); or give the binary with --binary"
        )));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| Failure::error(format_args!("cargo built no binary named {bin}")))
}

/// Every time in the image: `SOURCE_DATE_EPOCH` when set (the reproducible-builds
/// convention), else the time of the current commit, else the epoch — never the clock.
fn created() -> Result<u64, Failure> {
    if let Some(value) = std::env::var_os("SOURCE_DATE_EPOCH") {
        let text = value.to_string_lossy();
        return text.trim().parse().map_err(|_| {
            Failure::error(format_args!(
                "SOURCE_DATE_EPOCH is `{text}`, not a number of seconds"
            ))
        });
    }
    let commit = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok());
    Ok(commit.unwrap_or(0))
}
