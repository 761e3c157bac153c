//! Test support: one moto per test binary (behind a watchdog), a raw HTTP/1.1 client.

use std::io;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use tandem_localcloud::{Gateway, GatewayConfig, RunningGateway};

/// A free loopback port (bound and released: a short race, fine for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `sh -c script` detached from our stdio; the script's `$1`.. are `args`. A thread reaps it
/// should it end while this process lives.
pub fn watchdog(script: &str, args: &[String]) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("watchdog")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh starts");
    std::thread::spawn(move || child.wait());
}

/// The URL of this test binary's moto, started on first use on a free port.
///
/// moto runs under a `sh` watchdog that kills it (and removes its log) once this process is gone:
/// statics are never dropped, so nothing else would.
pub fn moto_url() -> &'static str {
    static MOTO: OnceLock<String> = OnceLock::new();
    MOTO.get_or_init(|| {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("tandem-localcloud-it-moto-{port}.log"));
        let script = r#"
            moto_server -H 127.0.0.1 -p "$1" >"$3" 2>&1 &
            moto=$!
            while kill -0 "$2" 2>/dev/null && kill -0 "$moto" 2>/dev/null; do sleep 0.5; done
            kill "$moto" 2>/dev/null; sleep 2; kill -9 "$moto" 2>/dev/null; rm -f "$3"
        "#;
        watchdog(
            script,
            &[
                port.to_string(),
                std::process::id().to_string(),
                log.display().to_string(),
            ],
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        format!("http://127.0.0.1:{port}")
    })
}

/// A gateway in front of the shared moto for these regions, with a fixed seed.
pub async fn gateway(regions: &[&str]) -> RunningGateway {
    let moto = tokio::task::spawn_blocking(moto_url).await.expect("moto");
    let mut config = GatewayConfig::new(moto, regions.iter().map(|r| r.to_string()).collect());
    config.seed = Some(1);
    Gateway::start(config).await.expect("the gateway starts")
}

/// A SigV4-looking `Authorization` header (moto does not check signatures).
pub fn sigv4(region: &str, service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDTESTING/20250101/{region}/{service}/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0000"
    )
}

/// A unique name for test resources in the shared moto.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`), answered within `within`.
pub async fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    within: Duration,
) -> io::Result<Reply> {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let exchange = async {
        let mut stream = TcpStream::connect(authority).await?;
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        let chunked = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
        if !chunked && (!body.is_empty() || method == "PUT" || method == "POST") {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("no head in {text:?}"))
        })?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad head {head:?}"))
            })?;
        Ok(Reply {
            status,
            head: head.to_owned(),
            body: body.to_owned(),
        })
    };
    tokio::time::timeout(within, exchange)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// `send` with a 10 s limit, for requests that must be answered.
pub async fn must(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    send(base, method, path, headers, body, Duration::from_secs(10))
        .await
        .unwrap_or_else(|err| panic!("{method} {base}{path}: {err}"))
}

/// An S3 request signed for `region`.
pub async fn s3(
    base: &str,
    region: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> io::Result<Reply> {
    let auth = sigv4(region, "s3");
    send(
        base,
        method,
        path,
        &[
            ("Authorization", &auth),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        body,
        Duration::from_secs(10),
    )
    .await
}

/// An RDS (query protocol) DescribeDBInstances signed for `region`.
pub async fn rds(base: &str, region: &str) -> io::Result<Reply> {
    let auth = sigv4(region, "rds");
    send(
        base,
        "POST",
        "/",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"Action=DescribeDBInstances&Version=2014-10-31",
        Duration::from_secs(10),
    )
    .await
}

/// An Auto Scaling request (query protocol) signed for `region`. The parameter values must need no
/// form encoding (the names `unique` makes do not).
pub async fn autoscaling(
    base: &str,
    region: &str,
    action: &str,
    params: &[(&str, &str)],
) -> io::Result<Reply> {
    let auth = sigv4(region, "autoscaling");
    let mut form = format!("Action={action}&Version=2011-01-01");
    for (name, value) in params {
        form.push_str(&format!("&{name}={value}"));
    }
    send(
        base,
        "POST",
        "/",
        &[
            ("Authorization", &auth),
            ("X-Amz-Date", "20250101T000000Z"),
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ],
        form.as_bytes(),
        Duration::from_secs(10),
    )
    .await
}

async fn autoscaling_ok(base: &str, region: &str, action: &str, params: &[(&str, &str)]) {
    let reply = autoscaling(base, region, action, params)
        .await
        .unwrap_or_else(|err| panic!("{action} in {region} through {base}: {err}"));
    assert_eq!(reply.status, 200, "{action} in {region}: {reply:?}");
}

/// Creates, through `base` (a region listener, or moto), a launch configuration and an Auto
/// Scaling group of `desired` instances in `region`; returns the group's name.
pub async fn create_group(base: &str, region: &str, desired: u32) -> String {
    let name = unique("tandem-it-asg");
    autoscaling_ok(
        base,
        region,
        "CreateLaunchConfiguration",
        &[
            ("LaunchConfigurationName", &name),
            ("ImageId", "ami-12c6146b"),
            ("InstanceType", "t2.micro"),
        ],
    )
    .await;
    autoscaling_ok(
        base,
        region,
        "CreateAutoScalingGroup",
        &[
            ("AutoScalingGroupName", &name),
            ("LaunchConfigurationName", &name),
            ("MinSize", "0"),
            ("MaxSize", "4"),
            ("DesiredCapacity", &desired.to_string()),
            ("AvailabilityZones.member.1", &format!("{region}a")),
        ],
    )
    .await;
    name
}

/// Sets the desired capacity of the group `name` of `region`, through `base`.
pub async fn set_desired(base: &str, region: &str, name: &str, desired: u32) {
    autoscaling_ok(
        base,
        region,
        "SetDesiredCapacity",
        &[
            ("AutoScalingGroupName", name),
            ("DesiredCapacity", &desired.to_string()),
        ],
    )
    .await;
}

/// Gives each region of `gw` an Auto Scaling group with capacity, so that its health endpoint
/// answers 200 (the regions the capacity tests use never get one this way).
pub async fn serve(gw: &RunningGateway, regions: &[&str]) {
    for region in regions {
        let base = gw.region_endpoint(region).expect("a region of the gateway");
        create_group(&base, region, 1).await;
    }
}
