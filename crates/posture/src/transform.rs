//! Failover and failback as transforms of the posture, and so of the desired graph: the stack
//! program declares its databases, failover records, capacities and replication from the posture,
//! so each transform below is a mutation of the graph that the engine plans and applies.

use crate::posture::{
    Aspect, ControlPlane, DbKind, DbMember, Posture, PostureEvent, TransitionKind,
};

/// What cannot be reached when a failover starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unreachable {
    /// The region failed away from: its control plane does not answer.
    pub old_region: bool,
    /// Route 53's control plane does not answer.
    pub route53: bool,
}

/// Why a transform does not apply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransformError {
    #[error("{0} is already the active region")]
    AlreadyActive(String),
    #[error("{to} is not a region of this stack (active {active}, standby {standby})")]
    UnknownRegion {
        to: String,
        active: String,
        standby: String,
    },
    #[error("there is no read replica in {0} to promote")]
    NoReplica(String),
    #[error(
        "deferred work must complete first ({0}): run `tandem failover --resume` once the region answers"
    )]
    Deferred(String),
    #[error("the stack is not failed over: {0} is already the environment's primary and active")]
    NotFailedOver(String),
    #[error("failback needs a caught-up replica in {0}: run `tandem failback` to rebuild it first")]
    ReplicaNotReady(String),
}

/// The posture after failing over to `to`, the standby region.
///
/// The replica there is promoted and becomes the writer; the old writer is fenced and retired;
/// the records, capacities and replication follow the new roles, except the parts that need an
/// unreachable control plane, which are deferred (the program keeps declaring them as they were).
pub fn fail_over(
    p: &Posture,
    to: &str,
    unreachable: Unreachable,
    old_writer_arn: Option<String>,
    now: &str,
    drill: bool,
) -> Result<Posture, TransformError> {
    if to == p.active_region {
        return Err(TransformError::AlreadyActive(to.to_string()));
    }
    if to != p.standby_region {
        return Err(TransformError::UnknownRegion {
            to: to.to_string(),
            active: p.active_region.clone(),
            standby: p.standby_region.clone(),
        });
    }
    let replica = match &p.db.replica {
        Some(r) if r.region == to && !r.promoted => r.clone(),
        _ => return Err(TransformError::NoReplica(to.to_string())),
    };
    let from = p.active_region.clone();
    let mut next = p.clone();
    next.active_region = to.to_string();
    next.standby_region = from.clone();
    next.generation += 1;
    let mut old_writer = p.db.writer.clone();
    old_writer.fenced = !unreachable.old_region;
    next.db.writer = DbMember {
        promoted: true,
        source: None,
        source_arn: old_writer_arn.or(replica.source_arn.clone()),
        ..replica
    };
    next.db.replica = None;
    next.db.retired.push(old_writer);
    // An unplanned failover ends a failback that was draining the old region.
    next.quiesced = None;
    let old_plane = ControlPlane::Region(from.clone());
    next.deferred
        .retain(|d| d.waits_for != old_plane && d.waits_for != ControlPlane::Route53);
    if unreachable.old_region {
        for aspect in [Aspect::Fence, Aspect::ScaleDown, Aspect::Replication] {
            next.defer(aspect, old_plane.clone(), format!("{from} does not answer"));
        }
    }
    if unreachable.route53 {
        next.defer(
            Aspect::Dns,
            ControlPlane::Route53,
            "Route 53's control plane does not answer; the pre-built failover records already move traffic",
        );
    }
    next.history.push(PostureEvent {
        kind: TransitionKind::Failover,
        from,
        to: to.to_string(),
        at: now.to_string(),
        drill,
    });
    Ok(next)
}

/// Marks deferred aspects done; fencing the retired writer when its region answers again.
pub fn complete_deferred(p: &Posture, aspects: &[Aspect]) -> Posture {
    let mut next = p.clone();
    next.deferred.retain(|d| !aspects.contains(&d.aspect));
    if aspects.contains(&Aspect::Fence) {
        for r in &mut next.db.retired {
            r.fenced = true;
        }
    }
    next
}

/// The first half of a failback: a new read replica of the writer in the standby (original)
/// region; the retired, fenced writers there are deleted (their data is stale; each leaves a final
/// snapshot) — unless the environment protects its databases (`protected`): then they are kept,
/// fenced, and the failback's report names them.
pub fn failback_rebuild(p: &Posture, protected: bool) -> Result<Posture, TransformError> {
    if let Some(d) = p.deferred.first() {
        return Err(TransformError::Deferred(d.aspect.describe().to_string()));
    }
    let back_to = p.standby_region.clone();
    if p.db.replica.as_ref().is_some_and(|r| r.region == back_to) {
        return Ok(p.clone());
    }
    let mut next = p.clone();
    next.generation += 1;
    if !protected {
        next.db.retired.retain(|r| r.region != back_to);
    }
    next.db.replica = Some(DbMember {
        region: back_to,
        name: format!("app-db-g{}", next.generation),
        kind: DbKind::Replica,
        source: Some(p.db.writer.name.clone()),
        source_arn: None,
        promoted: false,
        fenced: false,
    });
    Ok(next)
}

/// Between the two halves of a failback, once the new replica has caught up: the region failed
/// back to is raised to the primary's capacity and the active region's application is scaled to
/// zero, so that nothing writes to the database any more while its replica drains the last
/// changes (the planned switchover's RPO is then zero). Traffic reaches the region failed back to
/// through the failover records as soon as the quiesced region fails its health check.
pub fn failback_quiesce(p: &Posture) -> Result<Posture, TransformError> {
    let back_to = p.standby_region.clone();
    match &p.db.replica {
        Some(r) if r.region == back_to && !r.promoted => {}
        _ => return Err(TransformError::ReplicaNotReady(back_to)),
    }
    let mut next = p.clone();
    next.quiesced = Some(p.active_region.clone());
    Ok(next)
}

/// The second half of a failback, once the new replica has caught up: promote it, fence the
/// writer failed back from (kept, stopped, until [`failback_retire`]), send traffic back, and
/// rebuild a replica in the region failed back from. Planned, so nothing is deferred.
pub fn failback_switch(
    p: &Posture,
    writer_arn: Option<String>,
    now: &str,
) -> Result<Posture, TransformError> {
    let back_to = p.standby_region.clone();
    let replica = match &p.db.replica {
        Some(r) if r.region == back_to && !r.promoted => r.clone(),
        _ => return Err(TransformError::ReplicaNotReady(back_to)),
    };
    let from = p.active_region.clone();
    let mut next = p.clone();
    next.generation += 1;
    next.active_region = back_to.clone();
    next.standby_region = from.clone();
    next.db.writer = DbMember {
        promoted: true,
        source: None,
        source_arn: writer_arn,
        ..replica
    };
    next.db.replica = Some(DbMember {
        region: from.clone(),
        name: format!("app-db-g{}", next.generation),
        kind: DbKind::Replica,
        source: Some(next.db.writer.name.clone()),
        source_arn: None,
        promoted: false,
        fenced: false,
    });
    // The writer failed back from takes no writes once its successor is promoted (AWS does not
    // stop an instance that still has a read replica, so it is fenced after the promotion).
    next.db.retired.push(DbMember {
        fenced: true,
        ..p.db.writer.clone()
    });
    next.history.push(PostureEvent {
        kind: TransitionKind::Failback,
        from,
        to: back_to,
        at: now.to_string(),
        drill: false,
    });
    Ok(next)
}

/// The end of a failback: the fenced former writers in the region failed back from are deleted
/// (a new replica there replaces them; each leaves a final snapshot), unless the environment
/// protects its databases (`protected`): then they are kept, fenced.
pub fn failback_retire(p: &Posture, protected: bool) -> Posture {
    let mut next = p.clone();
    if !protected {
        next.db.retired.retain(|r| r.region != p.standby_region);
    }
    // The region failed back from serves as the standby again.
    next.quiesced = None;
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::Phase;

    #[test]
    fn failover_promotes_the_replica_and_defers_what_needs_the_dead_region() {
        let p = Posture::initial("us-east-1", "us-west-2");
        let dead = Unreachable {
            old_region: true,
            route53: false,
        };
        let f = fail_over(&p, "us-west-2", dead, Some("arn:old".into()), "T", true).unwrap();
        assert_eq!(f.active_region, "us-west-2");
        assert_eq!(f.db.writer.name, "app-db-replica");
        assert!(f.db.writer.promoted);
        assert_eq!(f.db.writer.source_arn.as_deref(), Some("arn:old"));
        assert!(f.db.replica.is_none());
        assert_eq!(f.db.retired[0].name, "app-db");
        assert!(!f.db.retired[0].fenced, "fencing waits for the dead region");
        assert!(
            f.is_deferred(Aspect::Fence)
                && f.is_deferred(Aspect::ScaleDown)
                && f.is_deferred(Aspect::Replication)
        );
        assert!(!f.is_deferred(Aspect::Dns));
        assert_eq!(f.dns_primary(), "us-west-2");
        assert_eq!(f.replication_source(), "us-east-1");
        assert!(f.serves("us-east-1") && f.serves("us-west-2"));
        let done = complete_deferred(&f, &[Aspect::Fence, Aspect::ScaleDown, Aspect::Replication]);
        assert!(done.db.retired[0].fenced);
        assert_eq!(done.replication_source(), "us-west-2");
        assert!(!done.serves("us-east-1"));
        assert_eq!(
            fail_over(&done, "us-west-2", Unreachable::default(), None, "T", false),
            Err(TransformError::AlreadyActive("us-west-2".into()))
        );
    }

    #[test]
    fn failback_rebuilds_then_switches() {
        let p = Posture::initial("us-east-1", "us-west-2");
        let f = fail_over(&p, "us-west-2", Unreachable::default(), None, "T1", false).unwrap();
        let r = failback_rebuild(&f, false).unwrap();
        let replica = r.db.replica.clone().unwrap();
        assert_eq!(
            (replica.region.as_str(), replica.name.as_str()),
            ("us-east-1", "app-db-g2")
        );
        assert_eq!(replica.source.as_deref(), Some("app-db-replica"));
        assert!(r.db.retired.is_empty(), "the stale old writer is deleted");
        assert_eq!(
            failback_rebuild(&r, false).unwrap(),
            r,
            "rebuilding twice changes nothing"
        );
        assert!(r.serves("us-west-2") && !r.serves("us-east-1"));
        let q = failback_quiesce(&r).unwrap();
        assert!(
            q.is_quiesced("us-west-2") && !q.serves("us-west-2") && q.serves("us-east-1"),
            "the active region stops writing; the region failed back to takes the traffic"
        );
        assert_eq!(
            failback_quiesce(&f),
            Err(TransformError::ReplicaNotReady("us-east-1".into()))
        );
        let s = failback_switch(&q, Some("arn:w".into()), "T2").unwrap();
        assert!(
            s.is_quiesced("us-west-2"),
            "until the old writer is retired"
        );
        assert_eq!(s.active_region, "us-east-1");
        assert_eq!(s.db.writer.name, "app-db-g2");
        assert!(s.db.writer.promoted);
        let again = s.db.replica.clone().unwrap();
        assert_eq!(
            (again.region.as_str(), again.source.as_deref()),
            ("us-west-2", Some("app-db-g2"))
        );
        assert_eq!(s.history.len(), 2);
        let fenced = &s.db.retired[0];
        assert_eq!(
            (fenced.name.as_str(), fenced.region.as_str(), fenced.fenced),
            ("app-db-replica", "us-west-2", true),
            "the writer failed back from is fenced, not yet deleted"
        );
        let done = failback_retire(&s, false);
        assert!(done.db.retired.is_empty());
        assert!(done.quiesced.is_none() && !done.serves("us-west-2"));
    }

    #[test]
    fn a_protected_environment_keeps_its_former_writers() {
        let p = Posture::initial("us-east-1", "us-west-2");
        let f = fail_over(&p, "us-west-2", Unreachable::default(), None, "T1", false).unwrap();
        let r = failback_rebuild(&f, true).unwrap();
        assert_eq!(r.db.retired.len(), 1, "the stale writer is kept, fenced");
        assert_eq!(r.db.retired[0].name, "app-db");
        let q = failback_quiesce(&r).unwrap();
        let s = failback_switch(&q, None, "T2").unwrap();
        let done = failback_retire(&s, true);
        let kept: Vec<&str> = done.db.retired.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            kept,
            ["app-db", "app-db-replica"],
            "the writer failed back from is kept too"
        );
        assert!(done.db.retired.iter().all(|m| m.fenced));
    }

    #[test]
    fn the_region_failed_away_from_keeps_its_capacity_until_dns_moves() {
        let p = Posture::initial("us-east-1", "us-west-2");
        let mut f = fail_over(&p, "us-west-2", Unreachable::default(), None, "T", false).unwrap();
        let mut t = crate::posture::Transition::new(
            TransitionKind::Failover,
            "us-east-1",
            "us-west-2",
            "T",
            false,
        );
        t.done = vec![Phase::Promote, Phase::Fence, Phase::Scale];
        f.transition = Some(t);
        assert!(f.serves("us-east-1") && f.serves("us-west-2"));
        f.transition.as_mut().unwrap().mark_done(Phase::Dns);
        assert!(!f.serves("us-east-1") && f.serves("us-west-2"));
    }
}
