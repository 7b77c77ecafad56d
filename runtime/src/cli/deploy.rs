//! `deploy` and `undeploy` (the `deploy` feature): their flags, and how their progress,
//! plans and errors read. The work is the `datasurface-deploy` crate's.

use super::render::{Failure, Output};
use super::setup::runtime;
use datasurface_codegen::{Exit, images};
use datasurface_deploy::{
    Action, Cluster, Event, Manifest, Options, Outcome, Plan, Progress, Removal, Target,
};
use datasurface_model::ValidEcosystem;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The operator's commands: those that work on a Kubernetes cluster, and the image.
#[derive(Debug, clap::Subcommand)]
pub(super) enum DeployCommand {
    /// Stand the ecosystem up on Kubernetes, or bring it in step with the model: check the
    /// Secrets it needs (secrets.md), then apply its objects server-side (field manager
    /// datasurface) step by step — namespace, access, PostgreSQL, its databases, Airflow,
    /// the DAGs, the infra Jobs, the simulator — waiting where the next step needs the one
    /// before. Changes nothing when the cluster already is as the model wants it.
    Deploy(DeployArgs),
    /// Remove the ecosystem from the cluster: every object labelled as its own, except its
    /// data — the PersistentVolumeClaims and the namespace holding them and the Secrets —
    /// unless --delete-data. Asks for confirmation on a terminal.
    Undeploy(UndeployArgs),
    /// Build the ecosystem's container image without Docker: the production binary (built
    /// with cargo without the dev and deploy features, or --binary) in one layer on a base
    /// named by digest, with CA roots where the base has none, user 10001 and the binary as
    /// entrypoint; the development variant too when the model runs the simulator. The same
    /// binary and base give the same digest on any machine. Writes an OCI image layout (and
    /// --tar), pushes with --push, and records the digests in image.lock, which generate and
    /// deploy use to name the image by digest.
    Image(super::image::ImageArgs),
}

// The flags of each command; their `--help` text is the variant's doc comment above.

#[derive(Debug, clap::Args)]
pub(super) struct DeployArgs {
    /// Show what a deploy would create, change (with the fields) and prune; change
    /// nothing.
    #[arg(long)]
    plan: bool,
    /// Also delete this ecosystem's objects that the model no longer has (never a
    /// PersistentVolumeClaim, nor another ecosystem's objects).
    #[arg(long)]
    prune: bool,
    /// Take over fields that another field manager (kubectl edit, another tool) set,
    /// instead of stopping.
    #[arg(long)]
    force_conflicts: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
}

#[derive(Debug, clap::Args)]
pub(super) struct UndeployArgs {
    /// Delete the data too: the PersistentVolumeClaims and the namespace (with the
    /// Secrets created in it).
    #[arg(long)]
    delete_data: bool,
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Which cluster, as kubectl's flags say it.
#[derive(Debug, clap::Args)]
pub(super) struct ClusterArgs {
    /// The kubeconfig file (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kube context (default: the kubeconfig's current context).
    #[arg(long)]
    context: Option<String>,
    /// How long to wait for each rollout and Job, image pulls included: seconds, or with a
    /// unit (90s, 10m, 1h).
    #[arg(long, default_value = "10m", value_parser = duration)]
    timeout: Duration,
}

fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => {
            return Err(format!(
                "`{text}`: give seconds, or a number with s, m or h"
            ));
        }
    };
    number
        .parse::<u64>()
        .map(|n| Duration::from_secs(n * seconds))
        .map_err(|_| format!("`{text}`: give seconds, or a number with s, m or h"))
}

/// The cluster `args` name, connected: its context and server are known.
async fn connect(args: &ClusterArgs) -> Result<Cluster, Failure> {
    let target = Target {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    Cluster::connect(&target).await.map_err(Failure::error)
}

/// `deploy`: the plan with `--plan`; otherwise the rollout, step by step, and what it
/// changed. `terminal`: whether a status line can count the seconds of a wait.
pub(super) fn deploy(
    eco: &ValidEcosystem,
    binary: &str,
    args: DeployArgs,
    terminal: bool,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let context = crate::generate::locked_context(binary).map_err(Failure::error)?;
    let manifest = Manifest::new(eco, &context);
    runtime()?.block_on(async {
        let cluster = connect(&args.cluster).await?;
        if args.plan {
            let plan = datasurface_deploy::plan(&cluster, &manifest)
                .await
                .map_err(Failure::error)?;
            write_plan(&cluster, &manifest, &plan, o.out)?;
            return Ok(Exit::Success);
        }
        writeln!(
            o.out,
            "deploying ecosystem {} to context {} ({})",
            manifest.ecosystem, cluster.context, cluster.server
        )?;
        for image in images(eco, &context) {
            writeln!(
                o.out,
                "image {image} (it must be pushed where the nodes pull from)"
            )?;
        }
        let options = Options {
            force_conflicts: args.force_conflicts,
            prune: args.prune,
            timeout: args.cluster.timeout,
            ..Options::default()
        };
        let mut progress = Lines::new(o.out, terminal);
        let result = datasurface_deploy::deploy(&cluster, &manifest, &options, &mut progress).await;
        progress.finish();
        match result.map_err(Failure::error)? {
            report if report.is_noop() => writeln!(
                o.out,
                "nothing to change: the cluster is as the model wants it"
            )?,
            r => writeln!(
                o.out,
                "deployed: {} created, {} changed, {} replaced, {} unchanged, {} pruned",
                r.created, r.changed, r.replaced, r.unchanged, r.pruned
            )?,
        }
        Ok(Exit::Success)
    })
}

/// `undeploy`: what goes and what stays, a confirmation, then the deletions. `terminal`:
/// whether stdin and stdout are a terminal to ask on.
pub(super) fn undeploy(
    eco: &ValidEcosystem,
    binary: &str,
    args: UndeployArgs,
    terminal: bool,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let context = crate::generate::locked_context(binary).map_err(Failure::error)?;
    let manifest = Manifest::new(eco, &context);
    runtime()?.block_on(async {
        let cluster = connect(&args.cluster).await?;
        let removal = datasurface_deploy::inventory(&cluster, &manifest, args.delete_data)
            .await
            .map_err(Failure::error)?;
        write_removal(&cluster, &manifest, &removal, o.out)?;
        if removal.delete.is_empty() {
            writeln!(o.out, "nothing to delete")?;
            return Ok(Exit::Success);
        }
        if !args.yes {
            if !terminal {
                return Err(Failure::Error(format!(
                    "undeploy deletes {} objects; pass --yes to confirm when not on a terminal",
                    removal.delete.len()
                )));
            }
            write!(
                o.out,
                "Type the ecosystem's name ({}) to delete them: ",
                manifest.ecosystem
            )?;
            o.out.flush()?;
            let mut answer = String::new();
            io::stdin().lock().read_line(&mut answer)?;
            if answer.trim() != manifest.ecosystem {
                writeln!(o.err, "undeploy cancelled: nothing was deleted")?;
                return Ok(Exit::Failure);
            }
        }
        let mut progress = Lines::new(o.out, terminal);
        let result = datasurface_deploy::undeploy(&cluster, &removal, &mut progress).await;
        progress.finish();
        let n = result.map_err(Failure::error)?;
        writeln!(
            o.out,
            "undeployed: {n} objects deleted, {} kept",
            removal.keep.len()
        )?;
        Ok(Exit::Success)
    })
}

/// The plan, as `kubectl diff` and `terraform plan` readers expect it: a sign per object,
/// the fields that change, then the counts.
fn write_plan(
    cluster: &Cluster,
    manifest: &Manifest,
    plan: &Plan,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "plan for ecosystem {} on context {} ({}):",
        manifest.ecosystem, cluster.context, cluster.server
    )?;
    let mut unchanged = 0;
    for planned in &plan.objects {
        let object = &planned.object;
        match &planned.action {
            Action::Create => writeln!(out, "  + create {object}")?,
            Action::Change(fields) => {
                writeln!(out, "  ~ change {object}")?;
                for f in fields {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
                    writeln!(
                        out,
                        "      {}{}: {} → {}",
                        if f.is_image() { "new image: " } else { "" },
                        f.path,
                        show(&f.before),
                        show(&f.after)
                    )?;
                }
            }
            Action::Replace(why) => writeln!(out, "  ± replace {object} ({why})")?,
            Action::Prune => writeln!(out, "  - prune {object} (with --prune)")?,
            Action::Refused(why) => writeln!(out, "  ! {why}")?,
            Action::Unchanged => unchanged += 1,
        }
    }
    if unchanged > 0 {
        writeln!(out, "  {unchanged} unchanged")?;
    }
    for missing in &plan.missing_secrets {
        writeln!(
            out,
            "  ! {missing}: deploy stops on it (secrets.md says how to create it)"
        )?;
    }
    writeln!(
        out,
        "{} to create, {} to change, {} to prune",
        plan.to_create(),
        plan.to_change(),
        plan.to_prune()
    )
}

fn write_removal(
    cluster: &Cluster,
    manifest: &Manifest,
    removal: &Removal,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "undeploy ecosystem {} from context {} ({}):",
        manifest.ecosystem, cluster.context, cluster.server
    )?;
    for object in &removal.delete {
        writeln!(out, "  - delete {}", object.describe())?;
    }
    for object in &removal.keep {
        writeln!(
            out,
            "  = keep {} (data; --delete-data deletes it)",
            object.describe()
        )?;
    }
    Ok(())
}

/// Progress as lines: a line for each object created, changed, replaced or deleted, a line
/// per step for what was already right, one when a wait starts and one when it ends. On a
/// terminal, a waiting object also gets a status line that counts the seconds.
struct Lines<'w> {
    out: &'w mut dyn Write,
    terminal: bool,
    step: String,
    unchanged: usize,
    waiting: Vec<String>,
    status: bool,
}

impl<'w> Lines<'w> {
    fn new(out: &'w mut dyn Write, terminal: bool) -> Self {
        Lines {
            out,
            terminal,
            step: String::new(),
            unchanged: 0,
            waiting: Vec::new(),
            status: false,
        }
    }

    /// A lasting line (clearing the status line first).
    fn line(&mut self, text: &str) {
        if self.status {
            let _ = write!(self.out, "\r\x1b[2K");
            self.status = false;
        }
        let _ = writeln!(self.out, "{text}");
    }

    /// Says how many objects of the step were already right.
    fn flush_step(&mut self) {
        if self.unchanged > 0 {
            let text = format!("{}: {} unchanged", self.step, self.unchanged);
            self.line(&text);
        }
        self.unchanged = 0;
    }

    fn finish(&mut self) {
        self.flush_step();
        if self.status {
            let _ = write!(self.out, "\r\x1b[2K");
            self.status = false;
        }
    }
}

impl Progress for Lines<'_> {
    fn event(&mut self, event: Event) {
        match event {
            Event::Step(step) => {
                self.flush_step();
                self.step = step;
            }
            Event::SecretsPresent(n) => {
                let text = format!("{}: {n} Secrets present with their keys", self.step);
                self.line(&text);
            }
            Event::Applied {
                outcome: Outcome::Unchanged,
                ..
            } => self.unchanged += 1,
            Event::Applied { object, outcome } => {
                let text = format!("{}: {} {object}", self.step, outcome.verb());
                self.line(&text);
            }
            Event::Waiting {
                object,
                what,
                elapsed,
            } => {
                if !self.waiting.contains(&object) {
                    let text = format!("{}: waiting for {object} to be {what}", self.step);
                    self.line(&text);
                    self.waiting.push(object.clone());
                }
                if self.terminal {
                    let _ = write!(
                        self.out,
                        "\r\x1b[2K  … {object}: not {what} yet ({} s)",
                        elapsed.as_secs()
                    );
                    let _ = self.out.flush();
                    self.status = true;
                }
            }
            Event::Done {
                object,
                what,
                elapsed,
            } => {
                let text = format!("{}: {object} {what} ({} s)", self.step, elapsed.as_secs());
                self.line(&text);
            }
            Event::Deleted { object } => {
                let step = if self.step.is_empty() {
                    "undeploy"
                } else {
                    &self.step
                };
                let text = format!("{step}: deleted {object}");
                self.line(&text);
            }
            Event::LeftOut { object, why } => {
                let text = format!("left out {object}: {why}");
                self.line(&text);
            }
        }
    }
}
