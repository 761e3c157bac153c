//! The local cloud: one moto server behind a fault-injecting *region gateway*.
//!
//! moto serves every region from one process and never fails, throttles or slows down. A failover
//! drill needs regions that can go dark one at a time, so this crate puts a small HTTP/1.1 reverse
//! proxy in front of moto:
//!
//! - [`Gateway`] listens on one loopback port per region, one for the global services (Route 53,
//!   IAM, STS) and one control port. It forwards every request to the one moto unchanged (Host
//!   header included, so SigV4 requests stay intact) and injects the faults set for the region and
//!   the request's service: blackhole (refuse or hang), latency, throttling and 500s. Each region
//!   port also serves the region's simulated application health endpoint
//!   ([`HEALTH_PATH`]), so an outage takes a region's API and its application down together. The
//!   endpoint tells the truth about capacity: it answers 200 only while moto, asked at the time of
//!   the request, shows an Auto Scaling group of the region with a desired capacity above 0, and
//!   503 with the reason otherwise (no group, every group at 0, or moto unreadable within
//!   [`CAPACITY_TIMEOUT`]).
//!   [`Gateway::start`] returns a [`RunningGateway`] that runs on tokio tasks. It also keeps a
//!   log of the API actions the signed requests ask for ([`RecordedCall`], `GET /calls`), which
//!   the CLI's IAM coverage test checks against `tandem iam-policy`.
//! - [`GatewayControl`] is the typed client of the control API ([`Fault`], [`BlackholeMode`],
//!   [`FaultTable`]).
//! - [`LocalCloud`] manages the background daemons behind `tandem local up|down|status`: it
//!   installs moto when missing, starts moto and the gateway detached, records them in
//!   `STATE_DIR/local-cloud.json` ([`LocalCloudRecord`]) and stops them again.
//!   [`serve_gateway_from_state`] is what the gateway daemon process runs.
//!
//! # Architecture invariants
//! - Everything listens on 127.0.0.1 only. The control API answers only requests whose `Host` is
//!   `127.0.0.1:PORT` or `localhost:PORT` (its own port); any other gets 403 and changes nothing,
//!   so that a page in a browser cannot reach it through a rebound DNS name.
//! - The crate knows HTTP and SigV4 credential scopes, never an AWS SDK.
//! - Which faults apply to a request is decided by pure code ([`Fault`] tables and a seedable
//!   random source), so a drill with a fixed seed is reproducible.

mod calls;
mod capacity;
mod control;
mod daemon;
mod error;
mod fault;
mod gateway;
mod http1;
mod outage;
mod process;
mod protocol;

pub use calls::{CallLogSnapshot, FaultStats, MAX_ENTRIES as MAX_CALL_LOG_ENTRIES, RecordedCall};
pub use control::GatewayControl;
pub use daemon::{
    DaemonRecord, DownOutcome, EndpointStatus, LocalCloud, LocalCloudConfig, LocalCloudRecord,
    LocalCloudStatus, ProcessStatus, RECORD_FILE, port_holder, serve_gateway_from_state,
};
pub use error::{Error, Result};
pub use fault::{BlackholeMode, Fault, FaultTable, GLOBAL};
pub use gateway::{CAPACITY_TIMEOUT, Gateway, GatewayConfig, HEALTH_PATH, RunningGateway};
pub use outage::GatewayOutage;
