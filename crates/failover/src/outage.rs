//! Simulated outages: a region cut off, and restored. The local cloud implements
//! [`OutageSimulator`] with its region gateway (the region's API and application refused); on AWS,
//! [`InvertedHealthCheck`] inverts the region's Route 53 health check (reversible, breaks nothing).
//!
//! # Guarantees
//! The state records an outage only once the cloud has it: when the simulator fails, the posture
//! keeps what it had.

use async_trait::async_trait;
use tandem_engine::State;
use tandem_posture::Posture;

use crate::context::{Context, FailoverError, Slice, posture_of};

/// Cuts a region off, or restores it.
#[async_trait]
pub trait OutageSimulator: Send + Sync {
    /// What it does, for reports: `the region gateway refuses the region's API and application`.
    fn method(&self) -> String;
    /// Makes the cloud match `posture.simulated_outage` for `region` (`cut` true: cut off, false:
    /// restored). `posture` is the posture to record; `state` may be changed (saved) by the
    /// simulator when it applies changes through the engine.
    async fn apply(
        &self,
        ctx: &Context<'_>,
        state: &mut State,
        posture: &Posture,
        region: &str,
        cut: bool,
    ) -> Result<(), String>;
}

/// AWS: the region's Route 53 health check inverted (Route 53 then sees it as failing while the
/// application still answers), applied through the engine like any change.
pub struct InvertedHealthCheck;

#[async_trait]
impl OutageSimulator for InvertedHealthCheck {
    fn method(&self) -> String {
        "the region's Route 53 health check is inverted".into()
    }

    async fn apply(
        &self,
        ctx: &Context<'_>,
        state: &mut State,
        posture: &Posture,
        region: &str,
        cut: bool,
    ) -> Result<(), String> {
        // The program declares the check inverted while the posture records the outage: the
        // plan to `posture` is exactly the inversion (or its undoing).
        let slice = Slice::Addresses(vec![ctx.cloud.topology.health_check(region)]);
        let applied = ctx
            .apply_slice("simulate-outage", state, posture, &slice)
            .await
            .map_err(|e| e.to_string())?;
        if !applied.blocked.is_empty() {
            return Err(format!(
                "Route 53's control plane does not answer: the health check of {region} could not be {}",
                if cut { "inverted" } else { "restored" }
            ));
        }
        Ok(())
    }
}

/// What a simulated outage did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutageReport {
    pub region: String,
    pub restored: bool,
    pub method: String,
}

/// Cuts `region` off (default: the active region), or restores it (default: the region cut off).
pub async fn simulate_outage(
    ctx: &Context<'_>,
    state: &mut State,
    simulator: &dyn OutageSimulator,
    region: Option<&str>,
    restore: bool,
) -> Result<OutageReport, FailoverError> {
    let mut posture = posture_of(state, &ctx.regions)?;
    let region = region
        .map(str::to_string)
        .or_else(|| restore.then(|| posture.simulated_outage.clone()).flatten())
        .unwrap_or_else(|| posture.active_region.clone());
    if !ctx.regions.contains(&region) {
        return Err(FailoverError::Outage(format!(
            "--region {region}: not a region of this environment ({} and {})",
            ctx.regions[0], ctx.regions[1]
        )));
    }
    let recorded = posture.simulated_outage.clone();
    posture.simulated_outage = if restore { None } else { Some(region.clone()) };
    if let Err(e) = simulator
        .apply(ctx, state, &posture, &region, !restore)
        .await
    {
        // Whatever the simulator recorded, the posture keeps the outage it had.
        posture.simulated_outage = recorded;
        ctx.save_posture(state, &posture)?;
        return Err(FailoverError::Outage(format!(
            "the outage of {region} could not be {}: {e}",
            if restore { "undone" } else { "simulated" }
        )));
    }
    ctx.save_posture(state, &posture)?;
    ctx.audit.record(
        "simulate-outage",
        if restore { "restored" } else { "cut" },
        &region,
    );
    Ok(OutageReport {
        region,
        restored: restore,
        method: simulator.method(),
    })
}
