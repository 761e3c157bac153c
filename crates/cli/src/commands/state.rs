//! `tandem state list|show|rm|unlock`: inspect or repair the state.

use clap::Subcommand;
use console::style;
use tandem_core::ResourceAddr;
use tandem_engine::ops;

use crate::error::{Error, Exit, Result};
use crate::workspace::{Access, Workspace, note_pending};

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List the resources in the state.
    List,
    /// Show one resource's recorded properties and outputs.
    Show { address: String },
    /// Forget a resource: remove it from the state, leave it in the cloud.
    Rm { address: String },
    /// Remove the state lock (only when the run holding it is gone).
    Unlock {
        /// Required: confirms that no run holds the lock any more.
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(ws: &Workspace, cmd: StateCommand) -> Result<Exit> {
    match cmd {
        StateCommand::List => list(ws),
        StateCommand::Show { address } => show(ws, &parse_addr(&address)?),
        StateCommand::Rm { address } => rm(ws, &parse_addr(&address)?).await,
        StateCommand::Unlock { force } => unlock(ws, force),
    }
}

fn parse_addr(text: &str) -> Result<ResourceAddr> {
    text.parse::<ResourceAddr>()
        .map_err(|e| Error::Usage(e.to_string()))
}

fn list(ws: &Workspace) -> Result<Exit> {
    let (state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    note_pending(pending);
    for (addr, r) in &state.resources {
        println!("{addr}  {}", style(&r.id).dim());
    }
    Ok(Exit::Success)
}

fn show(ws: &Workspace, addr: &ResourceAddr) -> Result<Exit> {
    let (state, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
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
        Some(h) => println!(
            "Removed the lock held by {}@{} (pid {}) since {} for `{}`.",
            h.user, h.host, h.pid, h.time, h.operation
        ),
        None => println!("The state was not locked."),
    }
    Ok(Exit::Success)
}
