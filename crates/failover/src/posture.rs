//! The posture: which region is active, where each database lives and what it does, what a
//! failover had to defer, and the history. It is kept with the stack's state (the `posture`
//! extension) and read by the stack program, so that after a failover the desired graph already
//! describes the failed-over world and a plain `plan` shows no changes.

use serde::{Deserialize, Serialize};
use tandem_engine::State;

/// The key of the posture in the state's extensions.
pub const POSTURE_KEY: &str = "posture";

/// What happened, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostureEvent {
    /// `failover` or `failback`.
    pub kind: String,
    pub from: String,
    pub to: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub at: String,
    /// Part of a drill rather than a real incident.
    #[serde(default)]
    pub drill: bool,
}

/// A part of a failover that waits for a region (or Route 53's control plane) to answer again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    /// Stop the old primary database taking writes.
    Fence,
    /// Swap the roles of the failover records (pre-built records already move traffic).
    Dns,
    /// Replicate assets from the new active region back to the old one.
    Replication,
    /// Lower the old active region to standby capacity.
    ScaleDown,
}

impl Aspect {
    pub fn describe(self) -> &'static str {
        match self {
            Aspect::Fence => "fence the old primary database",
            Aspect::Dns => "swap the failover records' roles",
            Aspect::Replication => "reverse S3 replication",
            Aspect::ScaleDown => "scale the old active region down to standby",
        }
    }
}

/// A deferred aspect, the region it waits for, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferred {
    pub aspect: Aspect,
    /// The region whose API must answer (`global` for Route 53).
    pub waits_for: String,
    pub why: String,
}

/// How a database member is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbKind {
    /// Created as a primary (`rds:DbInstance`).
    Instance,
    /// Created as a cross-region read replica (`rds:DbReadReplica`), promoted or not.
    Replica,
}

/// One database instance of the stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbMember {
    pub region: String,
    /// The resource name in the address (`app-db`, `app-db-replica`, `app-db-g2`, ...).
    pub name: String,
    pub kind: DbKind,
    /// For replicas: the member it replicates (by name), while it still does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// For promoted replicas: the ARN of the source it was created from (its source may be gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
    #[serde(default)]
    pub promoted: bool,
    #[serde(default)]
    pub fenced: bool,
}

/// The databases: the writer, its replica (none between a failover and a failback), and retired
/// former writers, fenced and kept until a failback replaces them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbLayout {
    pub writer: DbMember,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<DbMember>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<DbMember>,
}

/// A failover or failback under way: resumable from its phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// `failover` or `failback`.
    pub kind: String,
    pub from: String,
    pub to: String,
    pub started_at: String,
    /// Phases completed, in order.
    pub done: Vec<String>,
    pub drill: bool,
}

/// The active/standby roles of a stack's two regions and its database layout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posture {
    pub active_region: String,
    pub standby_region: String,
    /// Incremented by each failover and failback: names new database members.
    pub generation: u32,
    pub db: DbLayout,
    #[serde(default)]
    pub deferred: Vec<Deferred>,
    /// The region whose outage is being simulated, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated_outage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
    #[serde(default)]
    pub history: Vec<PostureEvent>,
    /// The summary of the last drill, as written to its JSON report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<serde_json::Value>,
}

impl Posture {
    /// The initial posture: the environment's primary is active, with the primary database there
    /// and its replica in the secondary.
    pub fn initial(primary: &str, secondary: &str) -> Posture {
        Posture {
            active_region: primary.to_string(),
            standby_region: secondary.to_string(),
            generation: 0,
            db: DbLayout {
                writer: DbMember {
                    region: primary.to_string(),
                    name: "app-db".into(),
                    kind: DbKind::Instance,
                    source: None,
                    source_arn: None,
                    promoted: false,
                    fenced: false,
                },
                replica: Some(DbMember {
                    region: secondary.to_string(),
                    name: "app-db-replica".into(),
                    kind: DbKind::Replica,
                    source: Some("app-db".into()),
                    source_arn: None,
                    promoted: false,
                    fenced: false,
                }),
                retired: Vec::new(),
            },
            deferred: Vec::new(),
            simulated_outage: None,
            transition: None,
            history: Vec::new(),
            last_drill: None,
        }
    }

    /// The posture recorded in `state`, or the initial one.
    pub fn of(state: &State, primary: &str, secondary: &str) -> Result<Posture, String> {
        match state.extensions.get(POSTURE_KEY) {
            None => Ok(Posture::initial(primary, secondary)),
            Some(j) => serde_json::from_value(j.clone())
                .map_err(|e| format!("the recorded failover posture is unreadable: {e}")),
        }
    }

    pub fn store(&self, state: &mut State) {
        state.extensions.insert(
            POSTURE_KEY.to_string(),
            serde_json::to_value(self).expect("posture serializes"),
        );
    }

    pub fn is_deferred(&self, aspect: Aspect) -> bool {
        self.deferred.iter().any(|d| d.aspect == aspect)
    }

    /// The region the failover records send traffic to first: the active one, unless the swap of
    /// the records is deferred (then the previous one).
    pub fn dns_primary(&self) -> &str {
        if self.is_deferred(Aspect::Dns) {
            &self.standby_region
        } else {
            &self.active_region
        }
    }

    /// The region replicating its assets to the other.
    pub fn replication_source(&self) -> &str {
        if self.is_deferred(Aspect::Replication) {
            &self.standby_region
        } else {
            &self.active_region
        }
    }

    /// The desired capacity of `region` is the primary's when it serves, or still serves: until
    /// the deferred scale-down, or, during a failover or failback, until the records have sent
    /// traffic away from it (its capacity is lowered after the DNS phase, never before).
    pub fn serves(&self, region: &str) -> bool {
        region == self.active_region
            || (self.is_deferred(Aspect::ScaleDown) && region == self.standby_region)
            || self
                .transition
                .as_ref()
                .is_some_and(|t| t.from == region && !t.done.iter().any(|d| d == "dns"))
    }

    /// Every database member to declare.
    pub fn db_members(&self) -> Vec<&DbMember> {
        let mut out = vec![&self.db.writer];
        out.extend(self.db.replica.as_ref());
        out.extend(self.db.retired.iter());
        out
    }
}
