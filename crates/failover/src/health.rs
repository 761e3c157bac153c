//! Health as Route 53 sees it: each region's application probed as its checkers do (a verdict
//! flips only after `threshold` consecutive disagreeing probes), and Route 53's own verdict on the
//! region's health check where the cloud gives one.

use std::collections::BTreeMap;
use std::time::Duration;

use tandem_core::Value;
use tandem_engine::State;
use tandem_posture::Posture;

use crate::context::Cloud;
use crate::signals::{Probe, Reading};

/// A checker's verdict over time: it changes after `threshold` consecutive disagreeing probes.
#[derive(Clone, Debug, PartialEq)]
pub struct Streak {
    pub healthy: bool,
    streak: u32,
    threshold: u32,
}

impl Streak {
    /// Starts healthy, as Route 53 does for a new check.
    pub fn new(threshold: u32) -> Streak {
        Streak {
            healthy: true,
            streak: 0,
            threshold: threshold.max(1),
        }
    }

    /// Records a probe; returns true when the verdict changed.
    pub fn record(&mut self, probe_healthy: bool) -> bool {
        if probe_healthy == self.healthy {
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        if self.streak >= self.threshold {
            self.healthy = probe_healthy;
            self.streak = 0;
            return true;
        }
        false
    }
}

/// One region's application, probed `probes` times as Route 53's checkers do.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionProbes {
    pub region: String,
    pub active: bool,
    /// The health endpoint probed (`None`: the region is not deployed).
    pub url: Option<String>,
    /// The probes' verdict after the threshold (false when nothing could be probed).
    pub healthy: bool,
    pub probes: Vec<Probe>,
}

/// Route 53's verdict on a region's health check, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub struct Route53View {
    pub health_check_id: Option<String>,
    pub verdict: Reading<bool>,
}

/// A region's health: the probes, and Route 53's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionHealth {
    pub probes: RegionProbes,
    pub route53: Route53View,
}

impl RegionHealth {
    /// Healthy by the probes, and not unhealthy by Route 53 where it gives a verdict.
    pub fn healthy(&self) -> bool {
        self.probes.healthy && self.route53.verdict.value() != Some(&false)
    }
}

/// Both regions' health.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthReport {
    pub active_region: String,
    pub regions: Vec<RegionHealth>,
}

impl HealthReport {
    /// Whether the active region is healthy: by the probes, and by Route 53 when it gives a
    /// verdict.
    pub fn active_is_healthy(&self) -> bool {
        self.regions.iter().any(|r| r.probes.active && r.healthy())
    }
}

/// Probes `url` `probes` times, `interval` apart; the verdict after `threshold` consecutive
/// failures, as Route 53's checkers.
pub async fn probe_url(
    cloud: &Cloud<'_>,
    url: Option<&str>,
    probes: u32,
    interval: Duration,
    threshold: u32,
) -> (bool, Vec<Probe>) {
    let Some(url) = url else {
        return (false, Vec::new());
    };
    let mut verdict = Streak::new(threshold);
    let mut out = Vec::new();
    for i in 0..probes {
        let p = cloud.probe.probe(url).await;
        verdict.record(p.healthy);
        out.push(p);
        if i + 1 < probes {
            tokio::time::sleep(interval).await;
        }
    }
    (verdict.healthy, out)
}

/// The id of the health check the stack deployed for `region`, from the state.
pub fn deployed_health_check(cloud: &Cloud<'_>, state: &State, region: &str) -> Option<String> {
    let addr = cloud.topology.health_check(region);
    let r = state.resources.get(&addr)?;
    Some(
        r.outputs
            .get("health_check_id")
            .and_then(|v| v.as_str())
            .map_or_else(|| r.id.clone(), str::to_string),
    )
}

/// How long Route 53's answer about one health check is waited for.
const ROUTE53_TIMEOUT: Duration = Duration::from_secs(10);

/// What Route 53 says of `region`'s health check, waiting at most 10 s.
pub async fn route53_view(cloud: &Cloud<'_>, state: &State, region: &str) -> Route53View {
    let Some(id) = deployed_health_check(cloud, state, region) else {
        return Route53View {
            health_check_id: None,
            verdict: Reading::NotMeasured {
                why: format!("no health check of {region} is deployed"),
            },
        };
    };
    let verdict = tokio::time::timeout(ROUTE53_TIMEOUT, cloud.signals.route53_health(&id))
        .await
        .unwrap_or_else(|_| Reading::NotMeasured {
            why: format!(
                "Route 53 did not answer within {} s",
                ROUTE53_TIMEOUT.as_secs()
            ),
        });
    Route53View {
        health_check_id: Some(id),
        verdict,
    }
}

/// Both regions' health: `probes` probes each (300 ms apart, the verdict after all of them),
/// and Route 53's verdict asked for while they run.
pub async fn check_health(
    cloud: &Cloud<'_>,
    state: &State,
    posture: &Posture,
    regions: &[String; 2],
    probes: u32,
) -> HealthReport {
    let one = |region: String| async move {
        let url = cloud.topology.health_url(&region, &state.outputs);
        let ((healthy, p), route53) = tokio::join!(
            probe_url(
                cloud,
                url.as_deref(),
                probes,
                Duration::from_millis(300),
                probes
            ),
            route53_view(cloud, state, &region)
        );
        RegionHealth {
            probes: RegionProbes {
                active: region == posture.active_region,
                region,
                url,
                healthy,
                probes: p,
            },
            route53,
        }
    };
    let (a, b) = tokio::join!(one(regions[0].clone()), one(regions[1].clone()));
    HealthReport {
        active_region: posture.active_region.clone(),
        regions: vec![a, b],
    }
}

/// `region`'s health as the failover records see it, and what said so: Route 53's verdict where
/// the cloud gives one (it decides where the records send traffic), else one probe of the
/// application as Route 53's checkers do.
pub async fn routing_health(
    cloud: &Cloud<'_>,
    state: &State,
    outputs: &BTreeMap<String, Value>,
    region: &str,
) -> (bool, String) {
    if let Some(healthy) = route53_view(cloud, state, region).await.verdict.value() {
        return (*healthy, format!("Route 53's health check of {region}"));
    }
    let url = cloud.topology.health_url(region, outputs);
    let (healthy, _) = probe_url(cloud, url.as_deref(), 1, Duration::ZERO, 1).await;
    (
        healthy,
        url.map_or_else(
            || "no health endpoint".into(),
            |u| format!("a probe of {u}"),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_needs_threshold_consecutive_disagreeing_probes() {
        let mut v = Streak::new(3);
        assert!(!v.record(false));
        assert!(!v.record(false));
        assert!(!v.record(true)); // streak broken
        assert!(!v.record(false));
        assert!(!v.record(false));
        assert!(v.record(false));
        assert!(!v.healthy);
        assert!(!v.record(true));
        assert!(!v.record(true));
        assert!(v.record(true));
        assert!(v.healthy);
    }
}
