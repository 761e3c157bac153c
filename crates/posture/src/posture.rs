//! The posture: which region is active, where each database lives and what it does, what a
//! failover had to defer, and the history. It is kept with the stack's state (the `posture`
//! extension) and read by the stack program, so that after a failover the desired graph already
//! describes the failed-over world and a plain `plan` shows no changes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The key of the posture in the state's extensions.
pub const POSTURE_KEY: &str = "posture";

/// Failover (unplanned: the active region is lost) or failback (planned: back to the primary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    Failover,
    Failback,
}

impl TransitionKind {
    /// The command that runs (and resumes) it.
    pub fn command(self) -> &'static str {
        match self {
            TransitionKind::Failover => "failover",
            TransitionKind::Failback => "failback",
        }
    }
}

impl fmt::Display for TransitionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.command())
    }
}

/// A control plane a change waits for: Route 53's (global, in us-east-1) or a region's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ControlPlane {
    /// Route 53's control plane (record and health-check changes); `global` in texts and files.
    Route53,
    Region(String),
}

impl ControlPlane {
    /// `global` for Route 53, else the region's name (as in resource addresses).
    pub fn as_str(&self) -> &str {
        match self {
            ControlPlane::Route53 => "global",
            ControlPlane::Region(r) => r,
        }
    }

    /// The control plane that changes to resources in `region` (`global` included) need.
    pub fn of(region: &str) -> ControlPlane {
        if region == "global" {
            ControlPlane::Route53
        } else {
            ControlPlane::Region(region.to_string())
        }
    }
}

impl fmt::Display for ControlPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlPlane::Route53 => f.write_str("Route 53's control plane"),
            ControlPlane::Region(r) => f.write_str(r),
        }
    }
}

impl Serialize for ControlPlane {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ControlPlane {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ControlPlane, D::Error> {
        Ok(ControlPlane::of(&String::deserialize(d)?))
    }
}

/// What happened, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostureEvent {
    pub kind: TransitionKind,
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
    /// The failover's other changes in a region that did not answer.
    Converge,
}

impl Aspect {
    pub fn describe(self) -> &'static str {
        match self {
            Aspect::Fence => "fence the old primary database",
            Aspect::Dns => "swap the failover records' roles",
            Aspect::Replication => "reverse S3 replication",
            Aspect::ScaleDown => "scale the old active region down to standby",
            Aspect::Converge => "apply the failover's remaining changes",
        }
    }

    /// The phase that completes this aspect.
    pub fn phase(self) -> Phase {
        match self {
            Aspect::Fence => Phase::Fence,
            Aspect::Dns => Phase::Dns,
            Aspect::Replication => Phase::Replication,
            Aspect::ScaleDown => Phase::Scale,
            Aspect::Converge => Phase::Converge,
        }
    }
}

/// A phase of a failover or failback. Recorded in [`Transition::done`] as it completes, so that a
/// run killed at any point resumes after the last completed phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Failback: a new read replica of the writer in the region failed back to.
    #[serde(rename = "rebuild-replica")]
    RebuildReplica,
    /// Failback: the region failed back to raised to the primary's capacity.
    #[serde(rename = "scale-up")]
    ScaleUp,
    /// Failback: the active region's application scaled to zero, so that writes stop.
    #[serde(rename = "quiesce")]
    Quiesce,
    /// Promote the replica to a standalone writer (and wait until the cloud says it is one).
    #[serde(rename = "promote")]
    Promote,
    /// Stop the former writer taking writes.
    #[serde(rename = "fence")]
    Fence,
    /// Capacities follow the new roles.
    #[serde(rename = "scale")]
    Scale,
    /// Swap the failover records' roles (best effort: deferred when Route 53 does not answer).
    #[serde(rename = "dns")]
    Dns,
    /// S3 replication from the new active region.
    #[serde(rename = "replication")]
    Replication,
    /// Everything else the new posture declares.
    #[serde(rename = "converge")]
    Converge,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::RebuildReplica => "rebuild-replica",
            Phase::ScaleUp => "scale-up",
            Phase::Quiesce => "quiesce",
            Phase::Promote => "promote",
            Phase::Fence => "fence",
            Phase::Scale => "scale",
            Phase::Dns => "dns",
            Phase::Replication => "replication",
            Phase::Converge => "converge",
        }
    }

    /// The deferrable aspect this phase completes, if its changes may wait for a control plane.
    pub fn aspect(self) -> Option<Aspect> {
        match self {
            Phase::Fence => Some(Aspect::Fence),
            Phase::Scale => Some(Aspect::ScaleDown),
            Phase::Dns => Some(Aspect::Dns),
            Phase::Replication => Some(Aspect::Replication),
            Phase::Converge => Some(Aspect::Converge),
            Phase::RebuildReplica | Phase::ScaleUp | Phase::Quiesce | Phase::Promote => None,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A deferred aspect, the region it waits for, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferred {
    pub aspect: Aspect,
    /// The control plane that must answer.
    pub waits_for: ControlPlane,
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
    pub kind: TransitionKind,
    pub from: String,
    pub to: String,
    pub started_at: String,
    /// Phases completed, in order.
    pub done: Vec<Phase>,
    pub drill: bool,
}

impl Transition {
    pub fn new(kind: TransitionKind, from: &str, to: &str, now: &str, drill: bool) -> Transition {
        Transition {
            kind,
            from: from.to_string(),
            to: to.to_string(),
            started_at: now.to_string(),
            done: Vec::new(),
            drill,
        }
    }

    /// Whether `phase` completed.
    pub fn is_done(&self, phase: Phase) -> bool {
        self.done.contains(&phase)
    }

    /// Records `phase` as completed, once.
    pub fn mark_done(&mut self, phase: Phase) {
        if !self.is_done(phase) {
            self.done.push(phase);
        }
    }
}

/// How a drill ended against its objectives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillOutcome {
    /// Every objective measured and met, every check passed.
    Met,
    /// An objective measured and missed, or a check failed.
    Missed,
    /// Nothing missed, but an objective or a check could not be measured here.
    Unverified,
}

impl DrillOutcome {
    pub fn describe(self) -> &'static str {
        match self {
            DrillOutcome::Met => "objectives met",
            DrillOutcome::Missed => "objective missed",
            DrillOutcome::Unverified => "unverified",
        }
    }
}

/// The summary of the last drill, kept with the posture (the full report is in its files).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DrillRecord {
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub finished_at: String,
    pub from: String,
    pub to: String,
    pub rto_seconds: Option<f64>,
    /// `None`: not measured (the cloud reported no replica lag).
    pub rpo_seconds: Option<f64>,
    pub outcome: DrillOutcome,
}

impl<'de> Deserialize<'de> for DrillRecord {
    /// Also reads the summaries earlier versions kept (`objectives_met`, which counted an
    /// unmeasured RPO as met: such a record now reads as unverified).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DrillRecord, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            #[serde(default)]
            finished_at: String,
            #[serde(default)]
            from: String,
            #[serde(default)]
            to: String,
            #[serde(default)]
            rto_seconds: Option<f64>,
            #[serde(default)]
            rpo_seconds: Option<f64>,
            #[serde(default)]
            outcome: Option<DrillOutcome>,
            #[serde(default)]
            objectives_met: Option<bool>,
        }
        let s = Stored::deserialize(d)?;
        let outcome = match (s.outcome, s.objectives_met) {
            (Some(o), _) => o,
            (None, Some(true)) if s.rpo_seconds.is_some() => DrillOutcome::Met,
            (None, Some(true)) => DrillOutcome::Unverified,
            (None, _) => DrillOutcome::Missed,
        };
        Ok(DrillRecord {
            finished_at: s.finished_at,
            from: s.from,
            to: s.to,
            rto_seconds: s.rto_seconds,
            rpo_seconds: s.rpo_seconds,
            outcome,
        })
    }
}

/// The active/standby roles of a stack's two regions and its database layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// The summary of the last drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<DrillRecord>,
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

    /// The posture once the whole stack is destroyed: the initial one, so that the next deploy
    /// builds the initial layout (not the databases of the last failover), keeping the history,
    /// the last drill and a simulated outage still in force (its restore must still find it).
    pub fn after_destroy(&self, primary: &str, secondary: &str) -> Posture {
        Posture {
            simulated_outage: self.simulated_outage.clone(),
            history: self.history.clone(),
            last_drill: self.last_drill.clone(),
            ..Posture::initial(primary, secondary)
        }
    }

    /// The posture recorded in a state's [`POSTURE_KEY`] extension, or the initial one when there
    /// is none. A recorded posture must be about the environment's two regions, and name its
    /// databases as resource addresses can.
    pub fn from_extension(
        extension: Option<&serde_json::Value>,
        primary: &str,
        secondary: &str,
    ) -> Result<Posture, String> {
        match extension {
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

    /// The posture as the state's [`POSTURE_KEY`] extension holds it.
    pub fn to_extension(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a posture serializes: strings, numbers and enums only")
    }

    /// The deferred aspect waiting for `plane`, if any.
    pub fn deferred_for(&self, aspect: Aspect) -> Option<&Deferred> {
        self.deferred.iter().find(|d| d.aspect == aspect)
    }

    /// Records that `aspect` waits for `plane` (once per aspect).
    pub fn defer(&mut self, aspect: Aspect, plane: ControlPlane, why: impl Into<String>) {
        if !self.is_deferred(aspect) {
            self.deferred.push(Deferred {
                aspect,
                waits_for: plane,
                why: why.into(),
            });
        }
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
                .is_some_and(|t| t.from == region && !t.is_done(Phase::Dns))
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

    fn read(posture: serde_json::Value, secondary: &str) -> Result<Posture, String> {
        Posture::from_extension(Some(&posture), "us-east-1", secondary)
    }

    #[test]
    fn a_recorded_posture_round_trips() {
        assert_eq!(
            Posture::from_extension(None, "us-east-1", "us-west-2"),
            Ok(Posture::initial("us-east-1", "us-west-2"))
        );
        let mut p = Posture::initial("us-east-1", "us-west-2");
        p.generation = 3;
        p.defer(Aspect::Dns, ControlPlane::Route53, "down");
        p.defer(
            Aspect::Fence,
            ControlPlane::Region("us-east-1".into()),
            "down",
        );
        p.transition = Some(Transition::new(
            TransitionKind::Failover,
            "us-east-1",
            "us-west-2",
            "T",
            true,
        ));
        let j = p.to_extension();
        assert_eq!(j["deferred"][0]["waits_for"], "global");
        assert_eq!(j["deferred"][1]["waits_for"], "us-east-1");
        assert_eq!(j["transition"]["kind"], "failover");
        assert_eq!(read(j, "us-west-2"), Ok(p));
    }

    #[test]
    fn phases_keep_the_names_earlier_states_recorded() {
        let recorded = serde_json::json!({
            "kind": "failback", "from": "us-west-2", "to": "us-east-1", "started_at": "T",
            "done": ["scale", "promote", "fence", "dns", "replication", "rebuild-replica", "scale-up", "quiesce", "converge"],
            "drill": false
        });
        let t: Transition = serde_json::from_value(recorded.clone()).unwrap();
        assert_eq!(t.kind, TransitionKind::Failback);
        assert_eq!(t.done[0], Phase::Scale);
        assert_eq!(serde_json::to_value(&t).unwrap(), recorded);
        for phase in &t.done {
            assert_eq!(serde_json::to_value(phase).unwrap(), phase.name());
        }
    }

    #[test]
    fn a_phase_is_recorded_done_once() {
        let mut t = Transition::new(
            TransitionKind::Failover,
            "us-east-1",
            "us-west-2",
            "T",
            false,
        );
        assert!(!t.is_done(Phase::Promote));
        t.mark_done(Phase::Promote);
        t.mark_done(Phase::Fence);
        t.mark_done(Phase::Promote);
        assert!(t.is_done(Phase::Promote) && t.is_done(Phase::Fence) && !t.is_done(Phase::Dns));
        assert_eq!(
            t.done,
            [Phase::Promote, Phase::Fence],
            "a resumed run does not list a phase twice"
        );
    }

    #[test]
    fn an_earlier_drill_summary_that_counted_an_unmeasured_rpo_as_met_reads_as_unverified() {
        let old = serde_json::json!({
            "finished_at": "2026-11-01T10:00:00Z", "from": "us-east-1", "to": "us-west-2",
            "rto_seconds": 2.2, "rpo_seconds": null, "objectives_met": true, "phases": []
        });
        let r: DrillRecord = serde_json::from_value(old).unwrap();
        assert_eq!(r.outcome, DrillOutcome::Unverified);
        let measured =
            serde_json::json!({"rto_seconds": 2.0, "rpo_seconds": 0.5, "objectives_met": true});
        let r: DrillRecord = serde_json::from_value(measured).unwrap();
        assert_eq!(r.outcome, DrillOutcome::Met);
        let missed = serde_json::json!({"rto_seconds": 2.0, "objectives_met": false});
        let r: DrillRecord = serde_json::from_value(missed).unwrap();
        assert_eq!(r.outcome, DrillOutcome::Missed);
        let new = serde_json::to_value(&r).unwrap();
        assert_eq!(new["outcome"], "missed");
        assert_eq!(serde_json::from_value::<DrillRecord>(new).unwrap(), r);
    }

    #[test]
    fn a_damaged_posture_is_an_error_naming_what_is_wrong() {
        let good = Posture::initial("us-east-1", "us-west-2").to_extension();
        let e = read(serde_json::json!({"active_region": 7}), "us-west-2").unwrap_err();
        assert!(e.contains("unreadable"), "{e}");

        let e = read(good.clone(), "eu-west-1").unwrap_err();
        assert!(e.contains("not the environment's regions"), "{e}");

        let mut bad_region = good.clone();
        bad_region["db"]["writer"]["region"] = "Mars 1".into();
        let e = read(bad_region, "us-west-2").unwrap_err();
        assert!(e.contains("\"Mars 1\""), "{e}");

        let mut bad_name = good;
        bad_name["db"]["replica"]["name"] = "app db/2".into();
        let e = read(bad_name, "us-west-2").unwrap_err();
        assert!(e.contains("invalid") && e.contains("app db/2"), "{e}");
    }
}
