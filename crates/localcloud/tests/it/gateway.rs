//! The region gateway in front of a real moto: forwarding and each fault.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use tandem_localcloud::{BlackholeMode, Fault, GLOBAL, Gateway, GatewayConfig, HEALTH_PATH};

use crate::support::{self, gateway, must, rds, s3, send, serve, sigv4, unique};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

async fn health(
    gw: &tandem_localcloud::RunningGateway,
    region: &str,
    within: Duration,
) -> std::io::Result<support::Reply> {
    let base = gw.region_endpoint(region).unwrap();
    send(&base, "GET", HEALTH_PATH, &[], b"", within).await
}

/// The status of the region's health endpoint, which must answer within 5 s.
async fn health_status(gw: &tandem_localcloud::RunningGateway, region: &str) -> u16 {
    health(gw, region, Duration::from_secs(5))
        .await
        .unwrap()
        .status
}

fn assert_body_has(reply: &support::Reply, text: &str) {
    assert!(reply.body.contains(text), "{}", reply.body);
}

/// What `work` gives, and how long it took.
async fn timed<T>(work: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = work.await;
    (out, started.elapsed())
}

#[tokio::test]
async fn requests_reach_moto_through_every_port() {
    let gw = gateway(&[EAST, WEST]).await;
    serve(&gw, &[EAST]).await;
    let east = gw.region_endpoint(EAST).unwrap();
    let west = gw.region_endpoint(WEST).unwrap();

    let bucket = unique("tandem-it-east");
    let created = s3(&east, EAST, "PUT", &format!("/{bucket}"), b"")
        .await
        .unwrap();
    assert_eq!(created.status, 200, "{created:?}");

    // A body and a query reach moto: a bucket in us-west-2 needs its location constraint.
    let west_bucket = unique("tandem-it-west");
    let constraint = format!(
        "<CreateBucketConfiguration><LocationConstraint>{WEST}</LocationConstraint></CreateBucketConfiguration>"
    );
    let created = s3(
        &west,
        WEST,
        "PUT",
        &format!("/{west_bucket}"),
        constraint.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 200, "{created:?}");
    let location = s3(&west, WEST, "GET", &format!("/{west_bucket}?location"), b"")
        .await
        .unwrap();
    assert!(location.body.contains(WEST), "{location:?}");

    // The other ports see the same moto.
    for base in [west.as_str(), gw.global_endpoint().as_str()] {
        let listed = s3(base, EAST, "GET", "/", b"").await.unwrap();
        assert_eq!(listed.status, 200);
        assert!(
            listed.body.contains(&bucket),
            "{} lacks {bucket}: {}",
            base,
            listed.body
        );
    }

    // A chunked upload is de-chunked on the way; HEAD keeps its length and has no body.
    let auth = sigv4(EAST, "s3");
    let chunked = must(
        &east,
        "PUT",
        &format!("/{bucket}/greeting"),
        &[("Authorization", &auth), ("Transfer-Encoding", "chunked")],
        b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(chunked.status, 200, "{chunked:?}");
    let object = s3(&east, EAST, "GET", &format!("/{bucket}/greeting"), b"")
        .await
        .unwrap();
    assert_eq!(object.body, "hello world");
    let head = s3(&east, EAST, "HEAD", &format!("/{bucket}/greeting"), b"")
        .await
        .unwrap();
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("11"))
    );
    assert_eq!(head.body, "");

    // RDS (query protocol) answers through the gateway too.
    let described = rds(&west, WEST).await.unwrap();
    assert_eq!(described.status, 200, "{described:?}");
    assert!(described.body.contains("DescribeDBInstancesResponse"));

    let ok = health(&gw, EAST, Duration::from_secs(5)).await.unwrap();
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok\n"));
    gw.shutdown().await;
}

#[tokio::test]
async fn refuse_fails_fast_and_takes_health_down_until_restored() {
    let gw = gateway(&[EAST, WEST]).await;
    serve(&gw, &[EAST, WEST]).await;
    let control = gw.control();
    let east = gw.region_endpoint(EAST).unwrap();
    control
        .blackhole(EAST, BlackholeMode::Refuse)
        .await
        .unwrap();

    let (refused, took) = timed(s3(&east, EAST, "GET", "/", b"")).await;
    let refused = refused.unwrap_err();
    assert!(took < Duration::from_millis(900), "{took:?}");
    assert!(
        matches!(
            refused.kind(),
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
                | ErrorKind::InvalidData
        ),
        "{refused:?}"
    );
    assert!(health(&gw, EAST, Duration::from_secs(1)).await.is_err());
    // The other region is untouched.
    assert_eq!(health_status(&gw, WEST).await, 200);
    assert_eq!(
        s3(&gw.region_endpoint(WEST).unwrap(), WEST, "GET", "/", b"")
            .await
            .unwrap()
            .status,
        200
    );

    control.restore(EAST).await.unwrap();
    assert_eq!(health_status(&gw, EAST).await, 200);
    assert_eq!(s3(&east, EAST, "GET", "/", b"").await.unwrap().status, 200);
}

#[tokio::test]
async fn hang_makes_clients_time_out_until_restored() {
    let gw = gateway(&[EAST, WEST]).await;
    serve(&gw, &[EAST]).await;
    let control = gw.control();
    let east = gw.region_endpoint(EAST).unwrap();
    control.blackhole(EAST, BlackholeMode::Hang).await.unwrap();

    let started = Instant::now();
    let hung = send(
        &east,
        "GET",
        "/",
        &[("Authorization", &sigv4(EAST, "s3"))],
        b"",
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert_eq!(hung.kind(), ErrorKind::TimedOut);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let health_hung = health(&gw, EAST, Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(health_hung.kind(), ErrorKind::TimedOut);

    control.restore_all().await.unwrap();
    assert_eq!(health_status(&gw, EAST).await, 200);
    assert_eq!(s3(&east, EAST, "GET", "/", b"").await.unwrap().status, 200);
}

#[tokio::test]
async fn throttling_speaks_each_protocol() {
    let gw = gateway(&[EAST]).await;
    let east = gw.region_endpoint(EAST).unwrap();
    gw.control()
        .set_fault(
            EAST,
            Fault {
                throttle_rate: 1.0,
                ..Fault::default()
            },
        )
        .await
        .unwrap();

    let slow_down = s3(&east, EAST, "GET", "/", b"").await.unwrap();
    assert_eq!(slow_down.status, 503);
    assert_body_has(&slow_down, "<Error><Code>SlowDown</Code>");

    let query = rds(&east, EAST).await.unwrap();
    assert_eq!(query.status, 400);
    assert!(
        query.body.contains("<ErrorResponse><Error>")
            && query.body.contains("<Code>Throttling</Code>"),
        "{}",
        query.body
    );

    let auth = sigv4(EAST, "monitoring");
    let json = must(
        &east,
        "POST",
        "/",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-amz-json-1.0"),
            (
                "X-Amz-Target",
                "GraniteServiceVersion20100801.DescribeAlarms",
            ),
        ],
        b"{}",
    )
    .await;
    assert_eq!(json.status, 400);
    assert_eq!(json.header("x-amzn-errortype"), Some("ThrottlingException"));
    let body: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(body["__type"], "ThrottlingException");
}

#[tokio::test]
async fn error_rate_one_answers_500() {
    let gw = gateway(&[EAST]).await;
    let east = gw.region_endpoint(EAST).unwrap();
    gw.control()
        .set_fault(
            EAST,
            Fault {
                error_rate: 1.0,
                ..Fault::for_service("s3")
            },
        )
        .await
        .unwrap();
    let failed = s3(&east, EAST, "GET", "/", b"").await.unwrap();
    assert_eq!(failed.status, 500);
    assert_body_has(&failed, "<Code>InternalError</Code>");
    let query = rds(&east, EAST).await.unwrap();
    assert_eq!(query.status, 200, "only s3 fails: {query:?}");
}

#[tokio::test]
async fn latency_delays_by_at_least_the_latency() {
    let gw = gateway(&[EAST, WEST]).await;
    serve(&gw, &[EAST, WEST]).await;
    gw.control()
        .set_fault(
            EAST,
            Fault {
                latency_ms: 400,
                ..Fault::default()
            },
        )
        .await
        .unwrap();
    let latency = Duration::from_millis(400);
    let (status, took) = timed(health_status(&gw, EAST)).await;
    assert_eq!(status, 200);
    assert!(took >= latency, "{took:?}");
    let east = gw.region_endpoint(EAST).unwrap();
    let (listed, took) = timed(s3(&east, EAST, "GET", "/", b"")).await;
    assert_eq!(listed.unwrap().status, 200);
    assert!(took >= latency, "{took:?}");
    let (status, took) = timed(health_status(&gw, WEST)).await;
    assert_eq!(status, 200);
    assert!(took < latency, "{took:?}");
}

#[tokio::test]
async fn per_service_faults_leave_other_services_alone() {
    let gw = gateway(&[EAST]).await;
    serve(&gw, &[EAST]).await;
    let east = gw.region_endpoint(EAST).unwrap();
    let control = gw.control();
    control
        .set_fault(
            EAST,
            Fault {
                blackhole: Some(BlackholeMode::Refuse),
                ..Fault::for_service("rds")
            },
        )
        .await
        .unwrap();
    assert!(rds(&east, EAST).await.is_err(), "rds is blackholed");
    assert_eq!(s3(&east, EAST, "GET", "/", b"").await.unwrap().status, 200);
    assert_eq!(health_status(&gw, EAST).await, 200);

    // The application alone can fail while the region's APIs answer.
    control.restore(EAST).await.unwrap();
    control
        .set_fault(
            EAST,
            Fault {
                error_rate: 1.0,
                ..Fault::for_service("health")
            },
        )
        .await
        .unwrap();
    assert_eq!(health_status(&gw, EAST).await, 500);
    assert_eq!(rds(&east, EAST).await.unwrap().status, 200);
}

#[tokio::test]
async fn global_services_go_down_with_us_east_1_or_global() {
    let gw = gateway(&[EAST, WEST]).await;
    let global = gw.global_endpoint();
    let control = gw.control();
    let auth = sigv4(EAST, "route53");
    let headers = [("Authorization", auth.as_str())];
    let list_zones = || {
        send(
            &global,
            "GET",
            "/2013-04-01/hostedzone",
            &headers,
            b"",
            Duration::from_secs(5),
        )
    };
    assert_eq!(list_zones().await.unwrap().status, 200);

    control
        .blackhole(EAST, BlackholeMode::Refuse)
        .await
        .unwrap();
    assert!(
        list_zones().await.is_err(),
        "Route 53's control plane is in us-east-1"
    );
    control.restore(EAST).await.unwrap();

    control
        .blackhole(WEST, BlackholeMode::Refuse)
        .await
        .unwrap();
    assert_eq!(list_zones().await.unwrap().status, 200);

    control
        .set_fault(
            GLOBAL,
            Fault {
                throttle_rate: 1.0,
                ..Fault::for_service("route53")
            },
        )
        .await
        .unwrap();
    let throttled = list_zones().await.unwrap();
    assert_eq!(throttled.status, 400);
    assert_body_has(&throttled, "<Code>Throttling</Code>");
}

#[tokio::test]
async fn same_seed_same_faults() {
    let moto = tokio::task::spawn_blocking(support::moto_url)
        .await
        .unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut config = GatewayConfig::new(moto, vec![EAST.to_owned()]);
        config.seed = Some(42);
        let gw = Gateway::start(config).await.unwrap();
        serve(&gw, &[EAST]).await;
        gw.control()
            .set_fault(
                EAST,
                Fault {
                    throttle_rate: 0.5,
                    ..Fault::default()
                },
            )
            .await
            .unwrap();
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(health_status(&gw, EAST).await);
        }
        runs.push(statuses);
        gw.shutdown().await;
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&200) && runs[0].contains(&503),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn shutdown_closes_every_port() {
    let gw = gateway(&[EAST]).await;
    let ports = [
        gw.region_endpoint(EAST).unwrap(),
        gw.global_endpoint(),
        gw.control_url(),
    ];
    gw.shutdown().await;
    for base in ports {
        let addr = base.trim_start_matches("http://");
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{base} still open"
        );
    }
}

#[tokio::test]
async fn a_taken_port_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut config = GatewayConfig::new("http://127.0.0.1:1", vec![EAST.to_owned()]);
    config.region_ports = vec![port];
    let err = Gateway::start(config).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&port.to_string()) && message.contains(EAST),
        "{message}"
    );

    let bad = GatewayConfig::new("ftp://nowhere", vec![EAST.to_owned()]);
    assert!(
        Gateway::start(bad)
            .await
            .unwrap_err()
            .to_string()
            .contains("ftp://nowhere")
    );
    let gw = gateway(&[EAST]).await;
    assert!(
        gw.region_endpoint("eu-west-1")
            .unwrap_err()
            .to_string()
            .contains("eu-west-1")
    );
}

/// Writes raw bytes on a new connection, waiting for some answer after each step but the last,
/// then reads until the server closes.
async fn raw_exchange(base: &str, steps: &[&[u8]]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut answer = Vec::new();
    let within = Duration::from_secs(5);
    for (i, step) in steps.iter().enumerate() {
        stream.write_all(step).await.unwrap();
        if i + 1 < steps.len() {
            let mut buf = [0u8; 4096];
            let read = tokio::time::timeout(within, stream.read(&mut buf))
                .await
                .expect("an answer")
                .unwrap();
            answer.extend_from_slice(&buf[..read]);
        }
    }
    tokio::time::timeout(within, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn malformed_requests_get_400_and_expect_continue_is_honoured() {
    let gw = gateway(&[EAST]).await;
    let east = gw.region_endpoint(EAST).unwrap();
    let garbage = raw_exchange(&east, &[b"NOT HTTP AT ALL\r\n\r\n"]).await;
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    let bad_length =
        raw_exchange(&east, &[b"PUT / HTTP/1.1\r\nContent-Length: lots\r\n\r\n"]).await;
    assert!(bad_length.starts_with("HTTP/1.1 400"), "{bad_length}");

    // The client waits for `100 Continue` before it sends the body.
    let bucket = unique("tandem-it-continue");
    let auth = sigv4(EAST, "s3");
    let head = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 0\r\n\r\n\
         PUT /{bucket}/k HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nExpect: 100-continue\r\n\
         Content-Length: 5\r\nConnection: close\r\n\r\n"
    );
    let answer = raw_exchange(&east, &[head.as_bytes(), b"hello"]).await;
    assert!(answer.contains("HTTP/1.1 100 Continue"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");
    let object = s3(&east, EAST, "GET", &format!("/{bucket}/k"), b"")
        .await
        .unwrap();
    assert_eq!(object.body, "hello");
}
