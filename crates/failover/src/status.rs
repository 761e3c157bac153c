//! `status`: where the stack stands, each line read from the cloud or saying why not — the
//! regions' health, the writer's role, fenced former writers (AWS restarts a stopped instance
//! after seven days: one running again is shown), the replica's lag, the replication's direction.

use std::time::SystemTime;

use tandem_engine::State;
use tandem_posture::{DbMember, Posture, Role};

use crate::context::{Cloud, read_live};
use crate::health::{HealthReport, check_health};
use crate::report::Check;
use crate::signals::{LagSample, Reading, Source};
use crate::verify::{fence_check, writer_check};

/// A fenced former writer, and whether the cloud says it still is.
#[derive(Clone, Debug, PartialEq)]
pub struct FencedWriter {
    pub member: DbMember,
    pub check: Check,
}

/// Where the stack stands.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusReport {
    pub posture: Posture,
    pub health: HealthReport,
    /// The writer's role, read from the cloud.
    pub writer: Check,
    pub fenced: Vec<FencedWriter>,
    pub replica_lag: Option<Reading<LagSample>>,
    /// The region replication runs from and to, read from the cloud (S3's replication
    /// configuration), or why not.
    pub replication: Reading<(String, String)>,
}

/// Reads where the stack stands.
pub async fn status(
    cloud: &Cloud<'_>,
    state: &State,
    posture: &Posture,
    regions: &[String; 2],
) -> StatusReport {
    let lag = async {
        match &posture.db.replica {
            Some(r) => {
                let id = cloud.topology.database_identifier(r);
                Some(
                    cloud
                        .signals
                        .replica_lag(&r.region, &id, SystemTime::now())
                        .await,
                )
            }
            None => None,
        }
    };
    let fenced = async {
        let mut out = Vec::new();
        for m in posture.db.retired.iter().filter(|m| m.fenced) {
            out.push(FencedWriter {
                member: m.clone(),
                check: fence_check(cloud, m).await,
            });
        }
        out
    };
    let (health, writer, fenced, replica_lag, replication) = tokio::join!(
        check_health(cloud, state, posture, regions, 1),
        writer_check(cloud, &posture.db.writer),
        fenced,
        lag,
        replication(cloud, state, regions)
    );
    StatusReport {
        posture: posture.clone(),
        health,
        writer,
        fenced,
        replica_lag,
        replication,
    }
}

/// The replication's direction as S3 has it: the region of the replication resource the state
/// records, with its destination bucket read back through its provider.
async fn replication(
    cloud: &Cloud<'_>,
    state: &State,
    regions: &[String; 2],
) -> Reading<(String, String)> {
    let Some(addr) = state
        .resources
        .keys()
        .find(|a| cloud.topology.role(a) == Some(Role::Replication))
    else {
        return Reading::NotMeasured {
            why: "no replication is deployed".into(),
        };
    };
    let source = Source::new("s3:GetBucketReplication", addr.region_str());
    match read_live(cloud.providers, state, addr).await {
        Ok(Some(o)) => {
            let destination = o
                .inputs
                .get("destination_bucket_arn")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            // The destination bucket's name ends with its region's name and a short digest.
            let to = regions
                .iter()
                .find(|r| destination.contains(&format!("-{r}-")))
                .cloned()
                .unwrap_or(destination);
            Reading::read((addr.region_str().to_string(), to), source)
        }
        Ok(None) => Reading::read((addr.region_str().to_string(), "nothing".into()), source),
        Err(e) => Reading::Failed {
            error: e.to_string(),
            source,
        },
    }
}
