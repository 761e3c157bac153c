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

impl Transition {
    /// Whether `phase` completed.
    pub fn is_done(&self, phase: &str) -> bool {
        self.done.iter().any(|d| d == phase)
    }

    /// Records `phase` as completed, once.
    pub fn mark_done(&mut self, phase: &str) {
        if !self.is_done(phase) {
            self.done.push(phase.to_string());
        }
    }
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
    /// The region whose application is scaled to zero so that it writes nothing while a planned
    /// failback drains its replica and promotes it (see [`crate::transform::failback_quiesce`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiesced: Option<String>,
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
            quiesced: None,
            transition: None,
            history: Vec::new(),
            last_drill: None,
        }
    }

    /// The posture recorded in `state`, or the initial one. A recorded posture must be about the
    /// environment's two regions, and name its databases as resource addresses can.
    pub fn of(state: &State, primary: &str, secondary: &str) -> Result<Posture, String> {
        match state.extensions.get(POSTURE_KEY) {
            None => Ok(Posture::initial(primary, secondary)),
            Some(j) => {
                let p: Posture = serde_json::from_value(j.clone())
                    .map_err(|e| format!("the recorded failover posture is unreadable: {e}"))?;
                p.check(primary, secondary)
                    .map_err(|e| format!("the recorded failover posture is invalid: {e}"))?;
                Ok(p)
            }
        }
    }

    /// Checks what the program and the orchestrator rely on: the active and standby regions are
    /// the environment's two, and every database member lives in one of them under a name that a
    /// resource address accepts.
    fn check(&self, primary: &str, secondary: &str) -> Result<(), String> {
        let regions = [primary, secondary];
        let mut roles = [self.active_region.as_str(), self.standby_region.as_str()];
        roles.sort_unstable();
        let mut expected = regions;
        expected.sort_unstable();
        if roles != expected {
            return Err(format!(
                "active {:?} and standby {:?} are not the environment's regions {primary} and {secondary}",
                self.active_region, self.standby_region
            ));
        }
        if let Some(q) = &self.quiesced {
            if !regions.contains(&q.as_str()) {
                return Err(format!(
                    "quiesced region {q:?} is not {primary} or {secondary}"
                ));
            }
        }
        for m in self.db_members() {
            if !regions.contains(&m.region.as_str()) {
                return Err(format!(
                    "database {:?} is in {:?}, not in {primary} or {secondary}",
                    m.name, m.region
                ));
            }
            let region = tandem_core::Region::parse(&m.region).map_err(|e| e.to_string())?;
            tandem_core::ResourceAddr::new(&region, "rds:DbInstance", &m.name)
                .map_err(|e| format!("database {:?}: {e}", m.name))?;
        }
        Ok(())
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
    /// traffic away from it (its capacity is lowered after the DNS phase, never before). While one
    /// region is quiesced for a failback, the other serves.
    pub fn serves(&self, region: &str) -> bool {
        if self.is_quiesced(region) {
            return false;
        }
        region == self.active_region
            || (self.is_deferred(Aspect::ScaleDown) && region == self.standby_region)
            || self.quiesced.is_some()
            || self
                .transition
                .as_ref()
                .is_some_and(|t| t.from == region && !t.is_done("dns"))
    }

    /// Whether `region`'s application is scaled to zero for a planned failback.
    pub fn is_quiesced(&self, region: &str) -> bool {
        self.quiesced.as_deref() == Some(region)
    }

    /// Every database member to declare.
    pub fn db_members(&self) -> Vec<&DbMember> {
        let mut out = vec![&self.db.writer];
        out.extend(self.db.replica.as_ref());
        out.extend(self.db.retired.iter());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(posture: serde_json::Value) -> State {
        let mut state = State::new("multi-region", "prod", "lineage".to_string());
        state.extensions.insert(POSTURE_KEY.to_string(), posture);
        state
    }

    #[test]
    fn a_recorded_posture_round_trips() {
        let mut state = State::new("multi-region", "prod", "lineage".to_string());
        assert_eq!(
            Posture::of(&state, "us-east-1", "us-west-2"),
            Ok(Posture::initial("us-east-1", "us-west-2"))
        );
        let mut p = Posture::initial("us-east-1", "us-west-2");
        p.generation = 3;
        p.store(&mut state);
        assert_eq!(Posture::of(&state, "us-east-1", "us-west-2"), Ok(p));
    }

    #[test]
    fn a_phase_is_recorded_done_once() {
        let mut t = Transition {
            kind: "failover".into(),
            from: "us-east-1".into(),
            to: "us-west-2".into(),
            started_at: "T".into(),
            done: Vec::new(),
            drill: false,
        };
        assert!(!t.is_done("promote"));
        t.mark_done("promote");
        t.mark_done("fence");
        t.mark_done("promote");
        assert!(t.is_done("promote") && t.is_done("fence") && !t.is_done("dns"));
        assert_eq!(
            t.done,
            ["promote", "fence"],
            "a resumed run does not list a phase twice"
        );
    }

    #[test]
    fn a_damaged_posture_is_an_error_naming_what_is_wrong() {
        let good = serde_json::to_value(Posture::initial("us-east-1", "us-west-2")).unwrap();
        let unreadable = state_with(serde_json::json!({"active_region": 7}));
        let e = Posture::of(&unreadable, "us-east-1", "us-west-2").unwrap_err();
        assert!(e.contains("unreadable"), "{e}");

        let e = Posture::of(&state_with(good.clone()), "us-east-1", "eu-west-1").unwrap_err();
        assert!(e.contains("not the environment's regions"), "{e}");

        let mut bad_region = good.clone();
        bad_region["db"]["writer"]["region"] = "Mars 1".into();
        let e = Posture::of(&state_with(bad_region), "us-east-1", "us-west-2").unwrap_err();
        assert!(e.contains("\"Mars 1\""), "{e}");

        let mut bad_name = good;
        bad_name["db"]["replica"]["name"] = "app db/2".into();
        let e = Posture::of(&state_with(bad_name), "us-east-1", "us-west-2").unwrap_err();
        assert!(e.contains("invalid") && e.contains("app db/2"), "{e}");
    }
}
