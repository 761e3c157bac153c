//! The region gateway: a fault-injecting reverse proxy in front of one moto server.
//!
//! Listeners, all on 127.0.0.1:
//! - one per region: that region's APIs, and its application health endpoint [`HEALTH_PATH`]
//!   (200 while the region has capacity, see there);
//! - one for the global services (Route 53, IAM, STS), which obey the faults of [`GLOBAL`] and of
//!   `us-east-1`, where their control planes live;
//! - one control listener with the JSON control API (see [`crate::GatewayControl`]).
//!
//! # Guarantees
//! - A request that no fault hits reaches moto with its method, target, headers (Host included) and
//!   body unchanged, and its response comes back unchanged but for the framing headers.
//! - A fault set through the control API applies to every request read after the answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::calls::CallLog;
use crate::capacity::{Capacity, region_capacity};
use crate::error::{Error, Result};
use crate::fault::{
    BlackholeMode, CONTROL_PLANE_REGION, Fault, FaultBook, GLOBAL, Outcome, entropy_seed,
};
use crate::http1::{Connection, ReadError, Request, Response};
use crate::protocol::{credential_scope, error_shape, internal_error, throttling};

/// The path of each region's simulated application health endpoint.
///
/// `GET` (or bodiless `HEAD`) answers 200 `ok` while the region has capacity: at least one of its
/// Auto Scaling groups has a desired capacity above 0, as moto says at the time of the request (as
/// on AWS, where a load balancer without targets is unhealthy to Route 53). Otherwise 503 with the
/// reason: `no capacity: no Auto Scaling group in REGION`, `no capacity: every Auto Scaling group
/// in REGION has desired capacity 0 (N groups)`, or `health unknown: ...` when moto cannot be
/// read within [`CAPACITY_TIMEOUT`] (never 200 by default). The region's faults come first: a
/// blackholed region refuses or hangs, and throttling, 500s and latency (those of the service
/// `health` included) apply before moto is asked.
pub const HEALTH_PATH: &str = "/_tandem/health";

/// How long the health endpoint may wait for moto's Auto Scaling groups, all pages together: short
/// of the 2 s Route 53's checkers allow for a response, so that a probe hears the 503.
pub const CAPACITY_TIMEOUT: Duration = Duration::from_millis(1500);

/// How the health endpoint's answer starts when moto could not be read.
pub(crate) const HEALTH_UNKNOWN: &str = "health unknown:";

/// How long the start-up warm-up may wait for moto: its first Auto Scaling request in a process
/// loads moto's Auto Scaling and EC2 code, which takes seconds (about 4 on an idle machine).
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long moto may take to answer one forwarded request.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Where the gateway listens and what it forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// The moto server, e.g. `http://127.0.0.1:5000`.
    pub moto_url: String,
    /// The regions, each with its own listener.
    pub regions: Vec<String>,
    /// The global services' port; 0 picks a free one.
    pub global_port: u16,
    /// One port per region, in the order of `regions`; empty picks free ports for all.
    pub region_ports: Vec<u16>,
    /// The control API's port; 0 picks a free one.
    pub control_port: u16,
    /// Seed of the random source behind the fault rates; `None` seeds from the clock.
    pub seed: Option<u64>,
}

impl GatewayConfig {
    /// A configuration on free ports, seeded from the clock.
    pub fn new(moto_url: impl Into<String>, regions: Vec<String>) -> Self {
        GatewayConfig {
            moto_url: moto_url.into(),
            regions,
            global_port: 0,
            region_ports: Vec::new(),
            control_port: 0,
            seed: None,
        }
    }

    fn validate(&self) -> Result<(String, Vec<u16>)> {
        let bad = |reason: String| Err(Error::Config(reason));
        if self.regions.is_empty() {
            return bad("the gateway needs at least one region".into());
        }
        for (i, region) in self.regions.iter().enumerate() {
            let valid = !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid || region == GLOBAL {
                return bad(format!("{region:?} is not a region name"));
            }
            if self.regions[..i].contains(region) {
                return bad(format!("region {region} is listed twice"));
            }
        }
        let region_ports = if self.region_ports.is_empty() {
            vec![0; self.regions.len()]
        } else if self.region_ports.len() == self.regions.len() {
            self.region_ports.clone()
        } else {
            return bad(format!(
                "{} region ports for {} regions ({})",
                self.region_ports.len(),
                self.regions.len(),
                self.regions.join(", ")
            ));
        };
        let mut fixed: Vec<u16> = region_ports
            .iter()
            .chain([&self.global_port, &self.control_port])
            .copied()
            .filter(|p| *p != 0)
            .collect();
        fixed.sort_unstable();
        if let Some(pair) = fixed.windows(2).find(|w| w[0] == w[1]) {
            return bad(format!("port {} is given twice", pair[0]));
        }
        let base = self.moto_url.trim_end_matches('/').to_owned();
        let uri: hyper::Uri = base
            .parse()
            .map_err(|_| Error::Config(format!("moto url {:?} is not a URL", self.moto_url)))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return bad(format!(
                "moto url {:?} must be http://HOST:PORT",
                self.moto_url
            ));
        }
        Ok((base, region_ports))
    }
}

/// The region gateway. Start one with [`Gateway::start`].
#[derive(Debug)]
pub struct Gateway;

/// A gateway running on tokio tasks. Dropping it stops it too; [`RunningGateway::shutdown`] also
/// waits for the listeners to close.
#[derive(Debug)]
pub struct RunningGateway {
    regions: Vec<(String, SocketAddr)>,
    global: SocketAddr,
    control: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// What a listener serves.
#[derive(Debug, Clone)]
enum Role {
    Region(String),
    Global,
    Control,
}

impl Role {
    fn fault_keys(&self) -> Vec<&str> {
        match self {
            Role::Region(region) => vec![region.as_str()],
            Role::Global => vec![GLOBAL, CONTROL_PLANE_REGION],
            Role::Control => Vec::new(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Role::Region(region) => format!("gateway region {region}"),
            Role::Global => "gateway global services".to_owned(),
            Role::Control => "gateway control".to_owned(),
        }
    }
}

/// State shared by every connection of one gateway.
struct Shared {
    faults: Mutex<FaultBook>,
    upstream: Client<HttpConnector, Full<Bytes>>,
    moto_base: String,
    endpoints: serde_json::Value,
    next_request_id: AtomicU64,
    /// Every signed request's (service, action, region): `GET /calls`.
    calls: Mutex<CallLog>,
}

impl Shared {
    fn faults(&self) -> MutexGuard<'_, FaultBook> {
        // A panic while holding the lock cannot leave the book half-written (every update is a
        // single map operation), so a poisoned lock is still usable.
        self.faults
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn calls(&self) -> MutexGuard<'_, CallLog> {
        self.calls
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn request_id(&self) -> String {
        let n = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        format!("tandem-gw-{n:016x}")
    }
}

impl Gateway {
    /// Binds every listener, then serves them on tokio tasks until the returned gateway is shut
    /// down or dropped.
    ///
    /// # Errors
    /// [`Error::Config`] for an inconsistent configuration, [`Error::PortInUse`] /
    /// [`Error::Bind`] naming the port that could not be bound.
    pub async fn start(config: GatewayConfig) -> Result<RunningGateway> {
        let (moto_base, region_ports) = config.validate()?;
        let mut listeners = Vec::new();
        for (region, port) in config.regions.iter().zip(&region_ports) {
            let role = Role::Region(region.clone());
            listeners.push((bind(*port, &role).await?, role));
        }
        listeners.push((bind(config.global_port, &Role::Global).await?, Role::Global));
        listeners.push((
            bind(config.control_port, &Role::Control).await?,
            Role::Control,
        ));
        let addr_of = |i: usize| {
            listeners[i].0.local_addr().map_err(|source| Error::Bind {
                port: 0,
                purpose: listeners[i].1.describe(),
                source,
            })
        };
        let mut regions = Vec::new();
        for (i, region) in config.regions.iter().enumerate() {
            regions.push((region.clone(), addr_of(i)?));
        }
        let global = addr_of(config.regions.len())?;
        let control = addr_of(config.regions.len() + 1)?;

        let mut endpoints = serde_json::Map::new();
        for (region, addr) in &regions {
            endpoints.insert(region.clone(), json!(format!("http://{addr}")));
        }
        let shared = Arc::new(Shared {
            faults: Mutex::new(FaultBook::new(
                &config.regions,
                config.seed.unwrap_or_else(entropy_seed),
            )),
            upstream: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(10))
                .build_http(),
            endpoints: json!({
                "moto": moto_base,
                "global": format!("http://{global}"),
                "control": format!("http://{control}"),
                "regions": endpoints,
            }),
            moto_base,
            next_request_id: AtomicU64::new(1),
            calls: Mutex::new(CallLog::default()),
        });
        let (shutdown, _) = watch::channel(false);
        let mut tasks: Vec<JoinHandle<()>> = listeners
            .into_iter()
            .map(|(listener, role)| {
                tokio::spawn(accept_loop(
                    listener,
                    role,
                    Arc::clone(&shared),
                    shutdown.subscribe(),
                ))
            })
            .collect();
        tasks.push(tokio::spawn(warm_up(
            config.regions.clone(),
            Arc::clone(&shared),
            shutdown.subscribe(),
        )));
        tracing::info!(%control, %global, moto = %shared.moto_base, "region gateway started");
        Ok(RunningGateway {
            regions,
            global,
            control,
            shutdown,
            tasks,
        })
    }
}

async fn bind(port: u16, role: &Role) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                Error::PortInUse {
                    port,
                    purpose: role.describe(),
                    holder: crate::daemon::port_holder(port),
                }
            } else {
                Error::Bind {
                    port,
                    purpose: role.describe(),
                    source,
                }
            }
        })
}

impl RunningGateway {
    fn region_addr(&self, region: &str) -> Result<SocketAddr> {
        self.regions
            .iter()
            .find(|(name, _)| name == region)
            .map(|(_, addr)| *addr)
            .ok_or_else(|| Error::UnknownRegion {
                region: region.to_owned(),
                known: self
                    .regions
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The endpoint URL of a region's APIs, e.g. `http://127.0.0.1:45011`.
    pub fn region_endpoint(&self, region: &str) -> Result<String> {
        Ok(format!("http://{}", self.region_addr(region)?))
    }

    /// The port of a region's listener.
    pub fn region_port(&self, region: &str) -> Result<u16> {
        Ok(self.region_addr(region)?.port())
    }

    /// The URL of a region's simulated application health endpoint.
    pub fn app_health_url(&self, region: &str) -> Result<String> {
        Ok(format!("http://{}{HEALTH_PATH}", self.region_addr(region)?))
    }

    /// The endpoint URL of the global services (Route 53, IAM, STS).
    pub fn global_endpoint(&self) -> String {
        format!("http://{}", self.global)
    }

    /// The base URL of the control API.
    pub fn control_url(&self) -> String {
        format!("http://{}", self.control)
    }

    /// A control client for this gateway.
    pub fn control(&self) -> crate::GatewayControl {
        crate::GatewayControl::new(self.control_url())
    }

    /// The regions, in configuration order.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.regions.iter().map(|(name, _)| name.as_str())
    }

    /// Stops accepting, drops every open connection and waits for the listeners to close.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        tracing::info!(control = %self.control, "region gateway stopped");
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    role: Role,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let role = role.clone();
                    let shared = Arc::clone(&shared);
                    connections.spawn(serve_connection(stream, role, shared));
                }
                Err(err) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(listener = %role.describe(), error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = stopped(&mut shutdown) => break,
        }
    }
    // Dropping the set aborts the open connections, hung ones included.
    connections.abort_all();
}

/// Asks moto once for each region's Auto Scaling groups, so that the health endpoint's first
/// answers do not pay for moto loading its code (more than [`CAPACITY_TIMEOUT`]).
async fn warm_up(regions: Vec<String>, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let all = async {
        for region in &regions {
            let read =
                region_capacity(&shared.upstream, &shared.moto_base, region, WARM_UP_TIMEOUT).await;
            match read {
                Ok(capacity) => tracing::debug!(region, ?capacity, "moto's Auto Scaling warmed up"),
                Err(reason) => {
                    tracing::debug!(region, %reason, "moto's Auto Scaling did not warm up");
                }
            }
        }
    };
    tokio::select! {
        () = all => {}
        () = stopped(&mut shutdown) => {}
    }
}

/// Resolves once the gateway is told to stop (or its handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here, inside this future.
    let _ = shutdown.wait_for(|stop| *stop).await.map(drop);
}

async fn serve_connection(stream: TcpStream, role: Role, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let local_port = stream.local_addr().map_or(0, |a| a.port());
    let mut conn = Connection::new(stream);
    if let Role::Control = role {
        return serve_control(conn, &shared, local_port).await;
    }
    let keys = role.fault_keys();
    let at_accept = shared.faults().connection_blackhole(&keys);
    if at_accept.is_some() {
        shared.calls().count_blackholed_connection();
    }
    match at_accept {
        Some(BlackholeMode::Refuse) => return conn.reset(),
        Some(BlackholeMode::Hang) => return conn.hang().await,
        None => {}
    }
    loop {
        let Some(request) = read_or_answer(&mut conn).await else {
            return;
        };
        let keep_alive = request.keep_alive();
        let health_of = match &role {
            Role::Region(region) if request.path() == HEALTH_PATH => Some(region.as_str()),
            _ => None,
        };
        let scope = health_of
            .is_none()
            .then(|| credential_scope(&request))
            .flatten();
        if let Some(scope) = &scope {
            shared.calls().record(scope, &request);
        }
        let service = match (health_of, scope) {
            (Some(_), _) => "health".to_owned(),
            (None, scope) => scope.map(|scope| scope.service).unwrap_or_default(),
        };
        let decision = shared.faults().decide(&keys, &service);
        shared.calls().count(&decision);
        match decision.blackhole {
            Some(BlackholeMode::Refuse) => return conn.reset(),
            Some(BlackholeMode::Hang) => return conn.hang().await,
            None => {}
        }
        if !decision.latency.is_zero() {
            tokio::time::sleep(decision.latency).await;
        }
        let response = match decision.outcome {
            Outcome::Throttle => throttling(&error_shape(&service, &request), &shared.request_id()),
            Outcome::Fail => internal_error(&error_shape(&service, &request), &shared.request_id()),
            Outcome::Pass => match health_of {
                Some(region) => health(&shared, region, &request).await,
                None => forward(&shared, request).await,
            },
        };
        if conn.write_response(&response, keep_alive).await.is_err() || !keep_alive {
            return;
        }
    }
}

/// Reads the next request; answers unreadable ones itself. `None`: close the connection.
async fn read_or_answer(conn: &mut Connection) -> Option<Request> {
    let answer = match conn.read_request().await {
        Ok(request) => return request,
        Err(ReadError::Io(err)) => {
            tracing::debug!(error = %err, "connection closed mid-request");
            return None;
        }
        Err(ReadError::Malformed(reason)) => {
            Response::text(400, &format!("malformed request: {reason}\n"))
        }
        Err(ReadError::TooLarge(status)) => Response::text(status, "request too large\n"),
    };
    let _ = conn.write_response(&answer, false).await;
    None
}

/// The application health endpoint of `region` (see [`HEALTH_PATH`]).
async fn health(shared: &Shared, region: &str, request: &Request) -> Response {
    let head = match request.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return Response::text(405, "method not allowed\n").with_header("allow", "GET, HEAD");
        }
    };
    let capacity = region_capacity(
        &shared.upstream,
        &shared.moto_base,
        region,
        CAPACITY_TIMEOUT,
    )
    .await;
    let (status, body) = match capacity {
        Ok(Capacity::Serving) => (200, "ok\n".to_owned()),
        Ok(Capacity::NoGroup) => (
            503,
            format!("no capacity: no Auto Scaling group in {region}\n"),
        ),
        Ok(Capacity::AllZero { groups }) => (
            503,
            format!(
                "no capacity: every Auto Scaling group in {region} has desired capacity 0 \
                 ({groups} group{})\n",
                if groups == 1 { "" } else { "s" }
            ),
        ),
        Err(reason) => {
            tracing::debug!(region, %reason, "the health endpoint cannot read the capacity");
            (
                503,
                format!(
                    "{HEALTH_UNKNOWN} cannot read the Auto Scaling groups of {region} from moto \
                     at {}: {reason}\n",
                    shared.moto_base
                ),
            )
        }
    };
    let length = body.len().to_string();
    let response = Response::text(status, &body);
    if head {
        Response {
            bodiless: true,
            ..response.with_header("content-length", &length)
        }
    } else {
        response
    }
}

async fn forward(shared: &Shared, request: Request) -> Response {
    let head = request.method.eq_ignore_ascii_case("HEAD");
    let framed = request.header("content-length").is_some()
        || request.header("transfer-encoding").is_some()
        || !request.body.is_empty();
    let uri = format!("{}{}", shared.moto_base, request.path_and_query());
    let mut builder = hyper::Request::builder()
        .method(request.method.as_str())
        .uri(&uri);
    for (name, value) in &request.headers {
        let skip = HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
            || name.eq_ignore_ascii_case("content-length");
        if !skip {
            builder = builder.header(name.as_str(), value.as_slice());
        }
    }
    if framed {
        builder = builder.header("content-length", request.body.len());
    }
    let upstream_request = match builder.body(Full::new(request.body)) {
        Ok(r) => r,
        Err(err) => return Response::text(400, &format!("cannot forward this request: {err}\n")),
    };
    let answered = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
        let response = shared.upstream.request(upstream_request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((parts, body))
    })
    .await;
    match answered {
        Ok(Ok((parts, body))) => {
            let status = parts.status.as_u16();
            Response {
                status,
                headers: parts
                    .headers
                    .iter()
                    .filter(|(name, _)| name.as_str() != "keep-alive")
                    .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
                    .collect(),
                body,
                bodiless: head || status == 204 || status == 304 || (100..200).contains(&status),
            }
        }
        Ok(Err(err)) => Response::text(
            502,
            &format!(
                "the tandem gateway cannot reach moto at {}: {err}\n",
                shared.moto_base
            ),
        ),
        Err(_) => Response::text(
            504,
            &format!(
                "moto at {} did not answer within {} s\n",
                shared.moto_base,
                UPSTREAM_TIMEOUT.as_secs()
            ),
        ),
    }
}

/// The control API, on `port`: it answers only requests addressed to it by a loopback name
/// ([`foreign_host`]); any other gets 403 and changes nothing.
async fn serve_control(mut conn: Connection, shared: &Shared, port: u16) {
    loop {
        let Some(request) = read_or_answer(&mut conn).await else {
            return;
        };
        let keep_alive = request.keep_alive();
        let response = match foreign_host(request.header("host"), port) {
            Some(reason) => {
                tracing::warn!(host = ?request.header("host"), "control request refused: {reason}");
                Response::json(403, &json!({ "error": reason }))
            }
            None => control_response(shared, &request),
        };
        if conn.write_response(&response, keep_alive).await.is_err() || !keep_alive {
            return;
        }
    }
}

/// Why a control request's `Host` is refused, or `None` when it is `127.0.0.1:PORT` or
/// `localhost:PORT` (`port`: the control listener's). A page in a browser can reach a loopback
/// port through a name of its own that it re-points there (DNS rebinding); its requests then
/// carry that name as their `Host`. The region and global listeners do not check: SDK requests
/// carry their endpoint's host, signed.
pub(crate) fn foreign_host(host: Option<&str>, port: u16) -> Option<String> {
    let allowed = [format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    match host {
        Some(h) if allowed.iter().any(|a| a.eq_ignore_ascii_case(h)) => None,
        Some(h) => Some(format!(
            "Host {h:?} refused: the control API answers only Host {} or {}",
            allowed[0], allowed[1]
        )),
        None => Some(format!(
            "a request without a Host header is refused: the control API answers only Host {} or {}",
            allowed[0], allowed[1]
        )),
    }
}

fn control_error(err: &Error) -> Response {
    let status = match err {
        Error::UnknownRegion { .. } => 404,
        _ => 400,
    };
    Response::json(status, &json!({ "error": err.to_string() }))
}

fn table_response(shared: &Shared) -> Response {
    match serde_json::to_value(shared.faults().table()) {
        Ok(table) => Response::json(200, &table),
        Err(err) => Response::json(500, &json!({ "error": err.to_string() })),
    }
}

/// The control API: `GET /health`, `GET /faults`, `PUT /faults/{region}`,
/// `DELETE /faults/{region}`, `DELETE /faults`, `PUT /seed`, `GET /calls` (the call log since the
/// start or the last `DELETE /calls`, see [`crate::calls`]), `GET /stats` (what the faults did
/// since then, [`crate::FaultStats`]).
fn control_response(shared: &Shared, request: &Request) -> Response {
    let segments: Vec<&str> = request
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let method = request.method.as_str();
    match (method, segments.as_slice()) {
        ("GET", ["health"]) => Response::json(
            200,
            &json!({ "status": "ok", "endpoints": shared.endpoints }),
        ),
        ("GET", ["faults"]) => table_response(shared),
        ("GET", ["calls"]) => match serde_json::to_value(shared.calls().snapshot()) {
            Ok(log) => Response::json(200, &log),
            Err(err) => Response::json(500, &json!({ "error": err.to_string() })),
        },
        ("GET", ["stats"]) => match serde_json::to_value(shared.calls().stats()) {
            Ok(stats) => Response::json(200, &stats),
            Err(err) => Response::json(500, &json!({ "error": err.to_string() })),
        },
        ("DELETE", ["calls"]) => {
            shared.calls().clear();
            Response::json(200, &json!({ "calls": [], "dropped": 0 }))
        }
        ("DELETE", ["faults"]) => {
            shared.faults().restore_all();
            tracing::info!("all faults cleared");
            table_response(shared)
        }
        ("PUT", ["faults", region]) => {
            let fault: Fault = match serde_json::from_slice(&request.body) {
                Ok(fault) => fault,
                Err(err) => {
                    return control_error(&Error::InvalidFault {
                        region: (*region).to_owned(),
                        reason: format!("the body is not a fault: {err}"),
                    });
                }
            };
            tracing::info!(region, ?fault, "fault set");
            match shared.faults().set(region, fault) {
                Ok(()) => {}
                Err(err) => return control_error(&err),
            }
            table_response(shared)
        }
        ("DELETE", ["faults", region]) => {
            if let Err(err) = shared.faults().restore(region) {
                return control_error(&err);
            }
            tracing::info!(region, "faults cleared");
            table_response(shared)
        }
        ("PUT", ["seed"]) => {
            let seed = serde_json::from_slice::<serde_json::Value>(&request.body)
                .ok()
                .and_then(|v| v.get("seed").and_then(serde_json::Value::as_u64));
            match seed {
                Some(seed) => {
                    shared.faults().reseed(seed);
                    Response::json(200, &json!({ "seed": seed }))
                }
                None => Response::json(400, &json!({ "error": "expected {\"seed\": <u64>}" })),
            }
        }
        (_, ["health"] | ["faults"] | ["faults", _] | ["seed"] | ["calls"]) => Response::json(
            405,
            &json!({ "error": format!("method {method} not allowed on {}", request.path()) }),
        ),
        _ => Response::json(
            404,
            &json!({ "error": format!("no control resource at {}", request.path()) }),
        ),
    }
}
