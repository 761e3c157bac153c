//! Faults and the pure decision of which ones hit a request.
//!
//! A [`Fault`] belongs to a region (or to [`GLOBAL`]) and a service (a SigV4 signing name such as
//! `s3`, `rds`, `route53`, `monitoring`; `*` for all; `health` for the simulated application health
//! endpoint). The gateway asks [`FaultBook::decide`] for every request; the only state it touches is
//! the seedable random source, so a fixed seed and a fixed request order give fixed answers.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The fault key of the global listener's own faults (Route 53, IAM, STS).
///
/// The global listener also obeys the faults of `us-east-1`, where those services keep their
/// control plane: an outage of `us-east-1` takes Route 53 record edits down with it, as in AWS.
pub const GLOBAL: &str = "global";

/// The region whose faults also hit the global services.
pub(crate) const CONTROL_PLANE_REGION: &str = "us-east-1";

/// The service name of every service.
pub const ALL_SERVICES: &str = "*";

/// How a blackholed endpoint behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlackholeMode {
    /// Drop the connection at once with a TCP reset: clients fail fast.
    Refuse,
    /// Accept and never answer: clients wait until their own timeout.
    Hang,
}

/// One fault of one region and one service. The default fault does nothing.
///
/// In JSON: `{"service":"rds","throttle_rate":0.5}`; missing fields take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// A SigV4 signing name (`s3`, `rds`, ...), `*` for all services, `health` for the application
    /// health endpoint. `cloudwatch` is accepted for `monitoring`, `elbv2` for
    /// `elasticloadbalancing`.
    #[serde(default = "all_services")]
    pub service: String,
    /// Drop or hang every matching request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blackhole: Option<BlackholeMode>,
    /// Delay added before a matching request is answered or forwarded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub latency_ms: u64,
    /// Share of matching requests delayed by `latency_ms` (0.0–1.0); `None`: every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_rate: Option<f64>,
    /// Share of matching requests answered with the service's throttling error (0.0–1.0).
    #[serde(default, skip_serializing_if = "is_zero_rate")]
    pub throttle_rate: f64,
    /// Share of matching requests answered with HTTP 500 `InternalError` (0.0–1.0).
    #[serde(default, skip_serializing_if = "is_zero_rate")]
    pub error_rate: f64,
}

fn all_services() -> String {
    ALL_SERVICES.to_owned()
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn is_zero_rate(value: &f64) -> bool {
    *value == 0.0
}

impl Default for Fault {
    fn default() -> Self {
        Fault {
            service: all_services(),
            blackhole: None,
            latency_ms: 0,
            latency_rate: None,
            throttle_rate: 0.0,
            error_rate: 0.0,
        }
    }
}

impl Fault {
    /// A fault for one service (or `*`) that does nothing yet; set fields on the result.
    pub fn for_service(service: impl Into<String>) -> Self {
        Fault {
            service: service.into(),
            ..Fault::default()
        }
    }

    /// A blackhole of every service of a region.
    pub fn blackhole(mode: BlackholeMode) -> Self {
        Fault {
            blackhole: Some(mode),
            ..Fault::default()
        }
    }

    /// Whether this fault changes nothing (setting it removes the entry).
    pub fn is_noop(&self) -> bool {
        self.blackhole.is_none()
            && self.latency_ms == 0
            && self.throttle_rate == 0.0
            && self.error_rate == 0.0
    }

    /// Checks the rates and normalises the service name (aliases, case).
    pub(crate) fn validated(mut self, region: &str) -> Result<Fault> {
        let invalid = |reason: String| Error::InvalidFault {
            region: region.to_owned(),
            reason,
        };
        self.service = canonical_service(&self.service);
        if self.service.is_empty() {
            return Err(invalid("the service is empty (use \"*\" for all)".into()));
        }
        for (name, rate) in [
            ("throttle_rate", self.throttle_rate),
            ("error_rate", self.error_rate),
            ("latency_rate", self.latency_rate.unwrap_or(1.0)),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(invalid(format!("{name} {rate} is not within 0.0..=1.0")));
            }
        }
        Ok(self)
    }
}

/// The SigV4 signing name for a service name a user may type.
pub(crate) fn canonical_service(service: &str) -> String {
    let lower = service.trim().to_ascii_lowercase();
    match lower.as_str() {
        "cloudwatch" => "monitoring".to_owned(),
        "elbv2" | "elb" => "elasticloadbalancing".to_owned(),
        "route 53" | "route-53" => "route53".to_owned(),
        _ => lower,
    }
}

/// Every region's faults, as `GET /faults` answers: region (and [`GLOBAL`]) to its faults, sorted
/// by service. Regions without faults are listed with an empty list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultTable {
    /// Region name to its faults.
    pub regions: BTreeMap<String, Vec<Fault>>,
}

impl FaultTable {
    /// The faults of one region; empty when it has none or is unknown.
    pub fn region(&self, region: &str) -> &[Fault] {
        self.regions.get(region).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether no region has any fault.
    pub fn is_clear(&self) -> bool {
        self.regions.values().all(Vec::is_empty)
    }
}

/// What the gateway does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answer normally (forward to moto, or serve health).
    Pass,
    /// Answer with the service's throttling error.
    Throttle,
    /// Answer with HTTP 500.
    Fail,
}

/// The faults that hit one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub blackhole: Option<BlackholeMode>,
    pub latency: Duration,
    pub outcome: Outcome,
}

/// The gateway's mutable fault state: the table and the random source.
#[derive(Debug)]
pub(crate) struct FaultBook {
    /// Region (or [`GLOBAL`]) to service to fault.
    faults: BTreeMap<String, BTreeMap<String, Fault>>,
    rng: SplitMix64,
}

impl FaultBook {
    /// A book without faults for these regions (plus [`GLOBAL`]).
    pub fn new(regions: &[String], seed: u64) -> Self {
        let mut faults = BTreeMap::new();
        for region in regions.iter().map(String::as_str).chain([GLOBAL]) {
            faults.insert(region.to_owned(), BTreeMap::new());
        }
        FaultBook {
            faults,
            rng: SplitMix64(seed),
        }
    }

    fn known(&self) -> String {
        self.faults.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    fn region_mut(&mut self, region: &str) -> Result<&mut BTreeMap<String, Fault>> {
        let known = self.known();
        self.faults
            .get_mut(region)
            .ok_or_else(|| Error::UnknownRegion {
                region: region.to_owned(),
                known,
            })
    }

    /// Sets (replaces) the fault of `fault.service` in `region`; a no-op fault removes it.
    pub fn set(&mut self, region: &str, fault: Fault) -> Result<()> {
        let fault = fault.validated(region)?;
        let services = self.region_mut(region)?;
        if fault.is_noop() {
            services.remove(&fault.service);
        } else {
            services.insert(fault.service.clone(), fault);
        }
        Ok(())
    }

    /// Removes every fault of one region.
    pub fn restore(&mut self, region: &str) -> Result<()> {
        self.region_mut(region)?.clear();
        Ok(())
    }

    /// Removes every fault.
    pub fn restore_all(&mut self) {
        self.faults.values_mut().for_each(BTreeMap::clear);
    }

    /// Reseeds the random source.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = SplitMix64(seed);
    }

    pub fn table(&self) -> FaultTable {
        FaultTable {
            regions: self
                .faults
                .iter()
                .map(|(region, services)| (region.clone(), services.values().cloned().collect()))
                .collect(),
        }
    }

    /// The faults of `keys` (a listener's regions, most specific first) for `service`.
    ///
    /// Blackhole: the first one found (exact service before `*`, in key order). Latency and rates:
    /// the largest. Each non-zero rate draws one random number, throttling first; a latency whose
    /// rate is below 1 draws last.
    pub fn decide(&mut self, keys: &[&str], service: &str) -> Decision {
        let mut blackhole = None;
        let mut latency_ms = 0;
        let mut latency_rate: f64 = 0.0;
        let mut throttle_rate: f64 = 0.0;
        let mut error_rate: f64 = 0.0;
        for key in keys {
            let Some(services) = self.faults.get(*key) else {
                continue;
            };
            let exact = (!service.is_empty() && service != ALL_SERVICES)
                .then(|| services.get(service))
                .flatten();
            for fault in exact.into_iter().chain(services.get(ALL_SERVICES)) {
                blackhole = blackhole.or(fault.blackhole);
                latency_ms = latency_ms.max(fault.latency_ms);
                if fault.latency_ms > 0 {
                    latency_rate = latency_rate.max(fault.latency_rate.unwrap_or(1.0));
                }
                throttle_rate = throttle_rate.max(fault.throttle_rate);
                error_rate = error_rate.max(fault.error_rate);
            }
        }
        let outcome = if throttle_rate > 0.0 && self.rng.next_f64() < throttle_rate {
            Outcome::Throttle
        } else if error_rate > 0.0 && self.rng.next_f64() < error_rate {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        let delayed = latency_ms > 0 && (latency_rate >= 1.0 || self.rng.next_f64() < latency_rate);
        Decision {
            blackhole,
            latency: Duration::from_millis(if delayed { latency_ms } else { 0 }),
            outcome,
        }
    }

    /// The blackhole of every service of `keys`, checked when a connection is accepted.
    pub fn connection_blackhole(&self, keys: &[&str]) -> Option<BlackholeMode> {
        keys.iter()
            .filter_map(|key| self.faults.get(*key)?.get(ALL_SERVICES)?.blackhole)
            .next()
    }
}

/// A small, fast, seedable random source (SplitMix64): plenty for fault rates, and its sequence
/// never changes with a dependency upgrade.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seed that differs between runs, for gateways started without one.
pub(crate) fn entropy_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    nanos ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> FaultBook {
        FaultBook::new(&["us-east-1".into(), "us-west-2".into()], 7)
    }

    #[test]
    fn exact_service_and_wildcard_merge() {
        let mut book = book();
        book.set(
            "us-west-2",
            Fault {
                latency_ms: 50,
                ..Fault::for_service("rds")
            },
        )
        .unwrap();
        book.set(
            "us-west-2",
            Fault {
                latency_ms: 10,
                error_rate: 1.0,
                ..Fault::default()
            },
        )
        .unwrap();
        let rds = book.decide(&["us-west-2"], "rds");
        assert_eq!(rds.latency, Duration::from_millis(50));
        assert_eq!(rds.outcome, Outcome::Fail);
        let s3 = book.decide(&["us-west-2"], "s3");
        assert_eq!(s3.latency, Duration::from_millis(10));
        let other_region = book.decide(&["us-east-1"], "rds");
        assert_eq!(other_region.outcome, Outcome::Pass);
        assert_eq!(other_region.latency, Duration::ZERO);
    }

    #[test]
    fn noop_fault_removes_the_entry_and_aliases_normalise() {
        let mut book = book();
        book.set(
            "us-east-1",
            Fault {
                throttle_rate: 1.0,
                ..Fault::for_service("CloudWatch")
            },
        )
        .unwrap();
        assert_eq!(book.table().region("us-east-1")[0].service, "monitoring");
        book.set("us-east-1", Fault::for_service("monitoring"))
            .unwrap();
        assert!(book.table().is_clear());
    }

    #[test]
    fn bad_input_is_an_error_naming_the_region() {
        let mut book = book();
        let err = book
            .set(
                "us-east-1",
                Fault {
                    throttle_rate: 1.5,
                    ..Fault::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("us-east-1"), "{err}");
        let err = book
            .set(
                "us-east-1",
                Fault {
                    error_rate: f64::NAN,
                    ..Fault::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("error_rate"), "{err}");
        let err = book.restore("mars-north-1").unwrap_err();
        assert!(err.to_string().contains("mars-north-1"), "{err}");
    }

    #[test]
    fn same_seed_same_sequence() {
        let run = |seed| {
            let mut book = FaultBook::new(&["r".into()], seed);
            book.set(
                "r",
                Fault {
                    throttle_rate: 0.5,
                    ..Fault::default()
                },
            )
            .unwrap();
            (0..64)
                .map(|_| book.decide(&["r"], "s3").outcome == Outcome::Throttle)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        let throttled = run(42).into_iter().filter(|t| *t).count();
        assert!((16..=48).contains(&throttled), "{throttled}");
    }

    #[test]
    fn a_latency_rate_delays_that_share_of_requests() {
        let mut book = book();
        book.set(
            "us-east-1",
            Fault {
                latency_ms: 30,
                latency_rate: Some(0.2),
                ..Fault::default()
            },
        )
        .unwrap();
        let delayed = (0..1000)
            .filter(|_| !book.decide(&["us-east-1"], "s3").latency.is_zero())
            .count();
        assert!((150..=250).contains(&delayed), "{delayed}");
        let err = book
            .set(
                "us-east-1",
                Fault {
                    latency_ms: 30,
                    latency_rate: Some(2.0),
                    ..Fault::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("latency_rate"), "{err}");
    }

    #[test]
    fn json_shape() {
        let fault: Fault = serde_json::from_str(r#"{"blackhole":"hang"}"#).unwrap();
        assert_eq!(fault, Fault::blackhole(BlackholeMode::Hang));
        assert_eq!(
            serde_json::to_string(&fault).unwrap(),
            r#"{"service":"*","blackhole":"hang"}"#
        );
        assert!(serde_json::from_str::<Fault>(r#"{"throttle":0.5}"#).is_err());
    }
}
