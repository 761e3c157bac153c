//! `tandem state list|show|rm|unlock|init|migrate`: inspect or repair the state, create the S3
//! backend's bucket, move the state between backends.

use clap::Subcommand;
use console::style;
use tandem_aws::state_s3::S3Backend;
use tandem_core::ResourceAddr;
use tandem_engine::{BackendKind, LocalStore, MigrateError, StateBackend, migrate, ops};

use crate::error::{Error, Exit, Result};
use crate::workspace::{Access, Workspace, note_pending, s3_location};

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List the resources in the state.
    List,
    /// Show one resource's recorded properties and outputs.
    Show { address: String },
    /// Forget a resource: remove it from the state, leave it in the cloud.
    Rm { address: String },
    /// Remove the state lock (only when the run holding it is gone).
    ///
    /// Names exactly what it removes: the holder (user, host, pid, command, since when) and the
    /// file, or the S3 object and its ETag (only that version of the lock is deleted).
    Unlock {
        /// Required: confirms that no run holds the lock any more.
        #[arg(long)]
        force: bool,
    },
    /// Create the S3 state bucket `[state]` names (idempotent).
    ///
    /// In `[state] region`: versioning on, default SSE-KMS (`kms_key` or the AWS-managed key),
    /// every public access blocked, and a bucket policy denying requests without TLS
    /// (`aws:SecureTransport` false; not set on the local cloud's plain-HTTP endpoint).
    Init,
    /// Copy the state to another backend, keeping its lineage and serial.
    ///
    /// `--to s3` copies the local state (`[state] path`) to the bucket `[state]` names; `--to
    /// local` copies it back. Refused while a lock is held or an interrupted run's journal is
    /// pending, and when the destination holds another state. The source is left in place.
    Migrate {
        /// The backend to copy the state to: `s3` or `local`.
        #[arg(long)]
        to: String,
    },
}

pub async fn run(ws: &Workspace, cmd: StateCommand) -> Result<Exit> {
    match cmd {
        StateCommand::List => list(ws),
        StateCommand::Show { address } => show(ws, &parse_addr(&address)?),
        StateCommand::Rm { address } => rm(ws, &parse_addr(&address)?).await,
        StateCommand::Unlock { force } => unlock(ws, force),
        StateCommand::Init => init(ws),
        StateCommand::Migrate { to } => migrate_to(ws, &to),
    }
}

fn parse_addr(text: &str) -> Result<ResourceAddr> {
    text.parse::<ResourceAddr>()
        .map_err(|e| Error::Usage(e.to_string()))
}

/// The state as saved, with an interrupted run's completed steps folded in; a journal that cannot
/// be read is a warning here (these commands only show the state), not an error.
fn state_to_show(ws: &Workspace) -> Result<tandem_engine::State> {
    let (state, pending, journal) =
        ops::read_state_for_display(&ws.store, &ws.stack, &ws.env.name)?;
    note_pending(pending);
    if let Some(e) = journal {
        eprintln!("{} {e}", style("warning:").yellow());
        eprintln!(
            "{} showing the saved state without the journal",
            style("note:").yellow()
        );
    }
    Ok(state)
}

fn list(ws: &Workspace) -> Result<Exit> {
    let state = state_to_show(ws)?;
    for (addr, r) in &state.resources {
        println!("{addr}  {}", style(&r.id).dim());
    }
    Ok(Exit::Success)
}

fn show(ws: &Workspace, addr: &ResourceAddr) -> Result<Exit> {
    let state = state_to_show(ws)?;
    let r = state.resources.get(addr).ok_or_else(|| {
        Error::Config(format!(
            "{addr} is not in the state of {} / {}",
            ws.stack, ws.env.name
        ))
    })?;
    println!("{}", style(addr).bold());
    println!("  id: {}", r.id);
    if r.protect {
        println!("  protect: true");
    }
    println!("  inputs:");
    for (k, v) in &r.inputs {
        println!("    {k} = {}", v.render());
    }
    println!("  outputs:");
    for (k, v) in &r.outputs {
        println!("    {k} = {}", v.render());
    }
    if !r.dependencies.is_empty() {
        println!("  depends on:");
        for d in &r.dependencies {
            println!("    {d}");
        }
    }
    Ok(Exit::Success)
}

/// Forgets a resource; refused while an interrupted run left operations pending.
async fn rm(ws: &Workspace, addr: &ResourceAddr) -> Result<Exit> {
    let (lock, mut state) = ws.lock("state rm", Access::StateOnly).await?;
    if state.resources.remove(addr).is_none() {
        return Err(Error::Config(format!("{addr} is not in the state")));
    }
    ops::save_state(&ws.store, &lock, &mut state)?;
    println!("Removed {addr} from the state; it is left in the cloud.");
    Ok(Exit::Success)
}

fn unlock(ws: &Workspace, force: bool) -> Result<Exit> {
    if !force {
        return Err(Error::Usage(
            "`state unlock` needs --force: make sure no run holds the lock any more".into(),
        ));
    }
    match ws.store.force_unlock(&ws.stack, &ws.env.name)? {
        Some(removed) => println!(
            "Removed the lock held by {}: {}.",
            removed.holder, removed.what
        ),
        None => println!("The state was not locked."),
    }
    Ok(Exit::Success)
}

/// The S3 backend `[state]` names (for `state init` and `state migrate`), or a configuration
/// error when the environment has none.
fn s3_backend(ws: &Workspace) -> Result<S3Backend> {
    let location = s3_location(&ws.env.state_backend).ok_or_else(|| {
        Error::Config(format!(
            "{}: [state] names no S3 bucket: set `backend = \"s3\"` with `bucket` and \
             `region` first",
            ws.env.file.display()
        ))
    })?;
    Ok(S3Backend::new(&ws.clients, location)?)
}

/// Creates (or converges) the S3 state bucket.
fn init(ws: &Workspace) -> Result<Exit> {
    let backend = s3_backend(ws)?;
    let location = backend.location().clone();
    let report = backend.init()?;
    println!(
        "State bucket s3://{} in {}:",
        location.bucket, location.region
    );
    for step in &report.steps {
        println!("  {step}");
    }
    println!(
        "State of {} / {} will live under {}.",
        ws.stack,
        ws.env.name,
        backend.state_location(&ws.stack, &ws.env.name).display()
    );
    Ok(Exit::Success)
}

/// Copies the state to the backend `to` names, from the other one.
fn migrate_to(ws: &Workspace, to: &str) -> Result<Exit> {
    let kind = BackendKind::parse(to)
        .ok_or_else(|| Error::Usage(format!("--to {to:?}: not a backend (`s3` or `local`)")))?;
    let s3 = s3_backend(ws)?;
    let local = LocalStore::new(ws.env.state_dir.clone());
    let (from, dest): (&dyn StateBackend, &dyn StateBackend) = match kind {
        tandem_engine::BackendKind::S3 => (&local, &s3),
        tandem_engine::BackendKind::Local => (&s3, &local),
    };
    let state = migrate(from, dest, &ws.stack, &ws.env.name).map_err(|e| match e {
        MigrateError::Store(e) => Error::Store(e),
        MigrateError::Journal(e) => Error::Engine(e.into()),
        MigrateError::Refused(m) => Error::State(format!("state migrate refused: {m}")),
    })?;
    println!(
        "Copied the state of {} / {} (lineage {}, serial {}, {} resources)",
        ws.stack,
        ws.env.name,
        state.lineage,
        state.serial,
        state.resources.len()
    );
    println!(
        "  from {}",
        from.state_location(&ws.stack, &ws.env.name).display()
    );
    println!(
        "  to   {}",
        dest.state_location(&ws.stack, &ws.env.name).display()
    );
    println!(
        "The source was left in place: set `[state] backend = \"{}\"` in {} to use the copy, \
         then remove the source once you no longer need it.",
        kind.as_str(),
        ws.env.file.display()
    );
    Ok(Exit::Success)
}
