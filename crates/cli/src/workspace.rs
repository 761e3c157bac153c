//! What every command works on — the environment, its state store, the stack program, the clients
//! of its cloud — and the steps commands share: taking the state lock ([`Workspace::lock`]),
//! planning after a read of the cloud ([`Workspace::plan_reading_live`]), asking for confirmation.
//!
//! A leaf of the CLI: it uses no CLI module but [`crate::error`].

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use console::style;
use tandem_aws::state_s3::{S3Backend, S3Location};
use tandem_aws::{AwsClients, AwsSignals, ClientSettings, StaticCredentials};
use tandem_core::{DesiredStack, Program, ResourceAddr, evaluate};
use tandem_engine::ops::{self, make_plan};
use tandem_engine::recovery::Reconciled;
use tandem_engine::{
    ErrorClass, LocalStore, Plan, PlanConfig, Providers, State, StateBackend, StateLock,
};
use tandem_failover::{ControlPlane, Posture};
use tandem_stack_multi_region::config::StateBackendConfig;
use tandem_stack_multi_region::{Environment, MultiRegion, MultiRegionTopology, process_vars};

use crate::error::{Error, Result};

/// What every command works on: the environment, its state backend, the stack program.
pub struct Workspace {
    pub env: Environment,
    pub stack: String,
    /// Where the state, its lock and the journal live (`[state] backend`).
    pub store: Box<dyn StateBackend>,
    pub clients: AwsClients,
}

/// What a command holding the state lock does with the cloud ([`Workspace::lock`]).
pub enum Access<'a> {
    /// It reads or changes the cloud through these providers: the account preflight runs first,
    /// then recovery reconciles what an interrupted run left pending by reading the cloud.
    Cloud(&'a Providers),
    /// It changes only the state: no preflight, no read of the cloud; a state with pending
    /// operations is refused, since only a read of the cloud can reconcile them.
    StateOnly,
}

impl Workspace {
    /// The workspace of environment `env`, read from `environments/<env>.toml`.
    ///
    /// Both names become file names (`<state dir>/<stack>/<env>.state.json`): each is checked
    /// against [`tandem_core::NAME_RULE`] before it is part of any path (the environment's by
    /// `Environment::load`), and refused with exit code 3.
    pub fn open(environments: &Path, stack: &str, env: &str) -> Result<Workspace> {
        tandem_core::check_name("stack", stack).map_err(|e| Error::Config(e.to_string()))?;
        let env = Environment::load(environments, env, &process_vars)?;
        if stack != tandem_stack_multi_region::STACK_NAME {
            return Err(Error::Config(format!(
                "unknown stack {:?}: this build has `{}`",
                stack,
                tandem_stack_multi_region::STACK_NAME
            )));
        }
        let clients = clients(&env);
        Ok(Workspace {
            store: backend(&env, &clients)?,
            clients,
            stack: stack.to_string(),
            env,
        })
    }

    /// The posture recorded in the state: which region is active now.
    pub fn posture(&self, state: &State) -> Result<Posture> {
        tandem_failover::context::posture_of(state, &self.regions())
            .map_err(|e| Error::State(e.to_string()))
    }

    /// The environment's primary and secondary regions.
    pub fn regions(&self) -> [String; 2] {
        [
            self.env.primary_region.clone(),
            self.env.secondary_region.clone(),
        ]
    }

    /// The stack's topology: which resources failover promotes, fences, scales and swaps.
    pub fn topology(&self) -> MultiRegionTopology {
        MultiRegionTopology::new(self.env.clone())
    }

    /// The cloud's signals (replica lag, Route 53's verdict, reachability, DNS, database roles).
    /// On the local cloud the failover records are read from moto itself: the region gateway
    /// cuts Route 53's control plane off with us-east-1, while the records stand in for the DNS
    /// data plane, which stays up.
    pub fn signals(&self) -> AwsSignals {
        let urls = [
            "global",
            &self.env.primary_region,
            &self.env.secondary_region,
        ]
        .into_iter()
        .map(|k| (k.to_string(), self.api_url(k)))
        .collect();
        let signals = AwsSignals::new(self.clients.clone(), urls);
        match &self.env.local_cloud {
            Some(lc) => signals.with_records_from(
                AwsClients::local(
                    &format!("http://127.0.0.1:{}", lc.moto_port),
                    "testing",
                    "testing",
                ),
                "read from moto directly: the local stand-in for Route 53's data plane",
            ),
            None => signals,
        }
    }

    pub fn program(&self, state: &State) -> Result<Box<dyn Program>> {
        let posture = self.posture(state)?;
        Ok(Box::new(MultiRegion::new(self.env.clone(), posture)))
    }

    pub fn desired(&self, state: &State) -> Result<DesiredStack> {
        let program = self.program(state)?;
        Ok(evaluate(program.as_ref()).map_err(tandem_engine::EngineError::from)?)
    }

    pub fn plan_config(&self) -> PlanConfig {
        PlanConfig {
            wave_order: self.env.wave_order(),
        }
    }

    pub fn providers(&self) -> Providers {
        tandem_aws::providers(self.clients.clone())
    }

    /// The directory holding the state directory (`.tandem` by default): local cloud, reports.
    pub fn tandem_dir(&self) -> PathBuf {
        match self.env.state_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Refuses a `--region` that is not one of the environment's waves.
    pub fn check_wave(&self, region: &str) -> Result<()> {
        let waves = self.env.wave_order();
        if waves.iter().any(|w| w == region) {
            return Ok(());
        }
        Err(Error::Config(format!(
            "--region {region}: not a wave of environment {} (waves: {})",
            self.env.name,
            waves.join(", ")
        )))
    }

    /// Takes the state lock for `operation` (noting a stale lock it broke), then, as `access`
    /// says: checks the credentials and reconciles what an interrupted run left pending by
    /// reading the cloud, or refuses a state with pending operations.
    pub async fn lock(&self, operation: &str, access: Access<'_>) -> Result<(StateLock, State)> {
        let lock = self.store.lock(&self.stack, &self.env.name, operation)?;
        if let Some(stale) = &lock.broke_stale {
            let note = style("note:").yellow();
            eprintln!("{note} broke a stale lock of {stale}, which no longer runs");
        }
        match access {
            Access::Cloud(providers) => {
                // What an interrupted run left pending in a region that does not answer stays
                // pending (in the state) until it answers: recovery never waits for it.
                let (checked, down) =
                    tokio::join!(preflight(&self.clients, &self.env), self.unreachable());
                checked?;
                let skip = |a: &ResourceAddr| down.contains(&ControlPlane::of(a.region_str()));
                let (state, reconciled) = ops::recover_except(
                    &self.store,
                    &lock,
                    &self.stack,
                    &self.env.name,
                    providers,
                    &skip,
                )
                .await?;
                note_recovered(&reconciled);
                Ok((lock, state))
            }
            Access::StateOnly => {
                let (state, pending) = ops::read_state(&self.store, &self.stack, &self.env.name)?;
                if pending > 0 {
                    return Err(Error::State(
                        "an interrupted run left pending operations: run `tandem apply` (or `refresh`) first".into(),
                    ));
                }
                Ok((lock, state))
            }
        }
    }

    /// Plans after reading live state. A control plane (Route 53's, a region's) that does not
    /// answer fails the plan naming it ([`Error::LiveStateUnread`], exit 1): a plan, a preview or
    /// a CI gate never passes a cloud it did not read. Without `refresh` (`--no-refresh`), plans
    /// from the recorded state, and a note says so.
    pub async fn plan_reading_live(
        &self,
        desired: &DesiredStack,
        state: &State,
        providers: &Providers,
        refresh: bool,
        parallel: usize,
    ) -> Result<(Plan, State)> {
        if !refresh {
            eprintln!(
                "{} --no-refresh: planned from the recorded state; live state was not read",
                style("note:").yellow()
            );
            return Ok(make_plan(desired, state, providers, &self.plan_config(), None).await?);
        }
        let down = self.unreachable().await;
        if !down.is_empty() {
            return Err(Error::LiveStateUnread(
                down.iter().map(|p| p.as_str().to_string()).collect(),
            ));
        }
        Ok(make_plan(
            desired,
            state,
            providers,
            &self.plan_config(),
            Some(parallel),
        )
        .await?)
    }

    /// The control planes (Route 53's, each region's) that do not answer now.
    pub async fn unreachable(&self) -> BTreeSet<ControlPlane> {
        tandem_failover::context::unreachable_now(&self.signals(), &self.regions()).await
    }

    /// The endpoint whose answer says a region's control plane is up.
    fn api_url(&self, region: &str) -> String {
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL")
            && !url.is_empty()
        {
            return url;
        }
        let endpoints = self.env.api_endpoints();
        if let Some(url) = endpoints.get(region) {
            return url.clone();
        }
        // The partition's DNS suffix (amazonaws.com, amazonaws.com.cn): Route 53's control plane
        // is global in the partition of the environment's primary region.
        if region == "global" {
            let primary = &self.env.primary_region;
            match tandem_schema::regions::partition(primary) {
                "aws" => "https://route53.amazonaws.com".into(),
                "aws-us-gov" => "https://route53.us-gov.amazonaws.com".into(),
                _ => format!(
                    "https://route53.{}",
                    tandem_schema::regions::dns_suffix(primary)
                ),
            }
        } else {
            format!(
                "https://sts.{region}.{}",
                tandem_schema::regions::dns_suffix(region)
            )
        }
    }
}

/// Asks for confirmation on the terminal; refuses when there is none.
pub fn confirm(question: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused(
            "refusing to apply without confirmation: no terminal to ask on (pass --yes)".into(),
        ));
    }
    print!("{question} Only 'yes' is accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Refused("cancelled: nothing was changed".into()))
    }
}

/// Notes on stderr that an interrupted run left operations pending (a command that only reads
/// the state does not reconcile them).
pub fn note_pending(pending: usize) {
    if pending > 0 {
        eprintln!(
            "{} an interrupted run left {pending} operation(s) pending; the next apply reconciles them with the cloud",
            style("note:").yellow()
        );
    }
}

/// Notes on stderr what recovery found of each operation an interrupted run left pending.
pub fn note_recovered(reconciled: &[Reconciled]) {
    for r in reconciled {
        eprintln!(
            "{} recovered {:?} of {}: {}",
            style("note:").yellow(),
            r.op,
            r.addr,
            r.finding
        );
    }
}

/// The state backend `[state]` names: the local store, or the S3 bucket.
fn backend(env: &Environment, clients: &AwsClients) -> Result<Box<dyn StateBackend>> {
    Ok(match s3_location(&env.state_backend) {
        None => Box::new(LocalStore::new(env.state_dir.clone())),
        Some(at) => Box::new(S3Backend::new(clients, at)?),
    })
}

/// Where an S3 backend keeps the state, if `config` names one.
pub fn s3_location(config: &StateBackendConfig) -> Option<S3Location> {
    let (bucket, prefix, region, kms_key) = config.s3()?;
    Some(S3Location::new(bucket, prefix, region, kms_key))
}

/// SDK clients for the environment. The local cloud takes moto's conventional test credentials;
/// anything else uses the standard chain and profiles.
fn clients(env: &Environment) -> AwsClients {
    let mut endpoints: std::collections::HashMap<String, String> =
        env.api_endpoints().into_iter().collect();
    let credentials = env.local_cloud.as_ref().map(|lc| {
        // Regions other than the environment's two (Route 53 metrics live in us-east-1) go
        // through the gateway's global port.
        endpoints
            .entry("*".to_string())
            .or_insert_with(|| format!("http://127.0.0.1:{}", lc.global_port));
        StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            session_token: None,
        }
    });
    AwsClients::new(ClientSettings {
        endpoints,
        credentials,
        home_region: Some(env.primary_region.clone()),
        local_cloud: env.local_cloud.is_some(),
        ..ClientSettings::default()
    })
}

/// Refuses to go on when the credentials belong to an account other than the one the environment
/// names, or are missing or refused.
///
/// STS is asked in both of the environment's regions at once, the primary's answer preferred:
/// a command must not depend on one region's control plane (a failover runs while its active
/// region is down). Only when neither answers is the primary's failure reported.
async fn preflight(clients: &AwsClients, env: &Environment) -> Result<()> {
    use tandem_aws::sts::preflight_in;
    let account = env.account_id.as_deref();
    // The wrong account, or credentials missing or refused, is an answer (exit 6); an endpoint
    // that does not answer is a cloud error like any other (exit 1).
    let answered = |e: &tandem_aws::AwsError| e.class() == ErrorClass::AccessDenied;
    let refused = |e: tandem_aws::AwsError| {
        let message = format!("preflight for environment {}: {e}", env.name);
        if answered(&e) {
            Error::Account(message)
        } else if env.local_cloud.is_some() {
            Error::Failed(format!(
                "{message}; is the local cloud up? (`tandem local up`)"
            ))
        } else {
            Error::Failed(message)
        }
    };
    let primary = preflight_in(clients, &env.primary_region, account);
    let secondary = preflight_in(clients, &env.secondary_region, account);
    tokio::pin!(primary, secondary);
    tokio::select! {
        first = &mut primary => match first {
            Ok(_) => Ok(()),
            Err(e) if answered(&e) => Err(refused(e)),
            Err(e) => match secondary.await {
                Ok(_) => Ok(()),
                Err(other) if answered(&other) => Err(refused(other)),
                Err(_) => Err(refused(e)),
            },
        },
        first = &mut secondary => match first {
            Ok(_) => Ok(()),
            Err(other) => match primary.await {
                Ok(_) => Ok(()),
                Err(e) if answered(&e) || !answered(&other) => Err(refused(e)),
                Err(_) => Err(refused(other)),
            },
        },
    }
}
