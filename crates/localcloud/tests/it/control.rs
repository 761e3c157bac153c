//! The control API and its typed client.

use std::time::Duration;

use tandem_localcloud::{BlackholeMode, Fault, FaultTable, GLOBAL, GatewayControl};

use crate::support::{gateway, send};

#[tokio::test]
async fn the_client_round_trips_the_fault_table() {
    let gw = gateway(&["us-east-1", "us-west-2"]).await;
    let control = GatewayControl::new(gw.control_url());

    let clear = control.faults().await.unwrap();
    assert!(clear.is_clear());
    let regions: Vec<&str> = clear.regions.keys().map(String::as_str).collect();
    assert_eq!(regions, [GLOBAL, "us-east-1", "us-west-2"]);

    control
        .blackhole("us-east-1", BlackholeMode::Hang)
        .await
        .unwrap();
    let rds = Fault {
        latency_ms: 250,
        throttle_rate: 0.25,
        ..Fault::for_service("rds")
    };
    control.set_fault("us-west-2", rds.clone()).await.unwrap();
    let cloudwatch = Fault {
        error_rate: 0.5,
        ..Fault::for_service("cloudwatch")
    };
    let table = control.set_fault("us-west-2", cloudwatch).await.unwrap();
    assert_eq!(table, control.faults().await.unwrap());
    assert_eq!(
        table.region("us-east-1"),
        [Fault::blackhole(BlackholeMode::Hang)]
    );
    let west = table.region("us-west-2");
    assert_eq!(west.len(), 2);
    assert_eq!(west[0].service, "monitoring", "aliases are normalised");
    assert_eq!(west[1], rds);

    // Setting a service again replaces its fault; a fault that does nothing removes it.
    let table = control
        .set_fault("us-west-2", Fault::for_service("monitoring"))
        .await
        .unwrap();
    assert_eq!(table.region("us-west-2"), [rds]);

    let table = control.restore("us-west-2").await.unwrap();
    assert!(table.region("us-west-2").is_empty());
    assert_eq!(table.region("us-east-1").len(), 1);
    assert!(control.restore_all().await.unwrap().is_clear());

    let endpoints = control.health().await.unwrap();
    assert_eq!(
        endpoints["regions"]["us-west-2"],
        gw.region_endpoint("us-west-2").unwrap()
    );
    assert_eq!(endpoints["global"], gw.global_endpoint());
}

#[tokio::test]
async fn bad_requests_are_errors_naming_what_is_wrong() {
    let gw = gateway(&["us-east-1"]).await;
    let control = gw.control();

    let unknown = control
        .blackhole("eu-central-1", BlackholeMode::Refuse)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("eu-central-1") && unknown.contains("404"),
        "{unknown}"
    );

    let bad_rate = control
        .set_fault(
            "us-east-1",
            Fault {
                throttle_rate: 2.0,
                ..Fault::default()
            },
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        bad_rate.contains("throttle_rate") && bad_rate.contains("us-east-1"),
        "{bad_rate}"
    );
    assert_eq!(
        control.faults().await.unwrap(),
        FaultTable {
            regions: [
                (GLOBAL.to_owned(), vec![]),
                ("us-east-1".to_owned(), vec![])
            ]
            .into(),
        }
    );

    let base = gw.control_url();
    let within = Duration::from_secs(5);
    let typo = send(
        &base,
        "PUT",
        "/faults/us-east-1",
        &[],
        br#"{"blackhole":"sometimes"}"#,
        within,
    )
    .await
    .unwrap();
    assert_eq!(typo.status, 400, "{typo:?}");
    let garbage = send(&base, "PUT", "/faults/us-east-1", &[], b"not json", within)
        .await
        .unwrap();
    assert_eq!(garbage.status, 400);
    assert_eq!(
        send(&base, "POST", "/faults", &[], b"", within)
            .await
            .unwrap()
            .status,
        405
    );
    assert_eq!(
        send(&base, "GET", "/nothing", &[], b"", within)
            .await
            .unwrap()
            .status,
        404
    );
    assert_eq!(
        send(&base, "GET", "/health", &[], b"", within)
            .await
            .unwrap()
            .status,
        200
    );

    // A gateway that is gone is an error naming its URL.
    let url = gw.control_url();
    gw.shutdown().await;
    let gone = GatewayControl::new(&url)
        .faults()
        .await
        .unwrap_err()
        .to_string();
    assert!(gone.contains(&url), "{gone}");
}

#[tokio::test]
async fn the_call_log_names_each_signed_requests_action_until_cleared() {
    use crate::support::{rds, s3, unique};
    let gw = gateway(&["us-east-1", "us-west-2"]).await;
    let control = GatewayControl::new(gw.control_url());
    control.clear_calls().await.unwrap();
    assert!(control.calls().await.unwrap().calls.is_empty());

    let east = gw.region_endpoint("us-east-1").unwrap();
    let west = gw.region_endpoint("us-west-2").unwrap();
    let bucket = unique("tandem-it-calls");
    s3(&east, "us-east-1", "PUT", &format!("/{bucket}"), b"")
        .await
        .unwrap();
    s3(&east, "us-east-1", "HEAD", &format!("/{bucket}"), b"")
        .await
        .unwrap();
    s3(
        &east,
        "us-east-1",
        "GET",
        &format!("/{bucket}?versioning"),
        b"",
    )
    .await
    .unwrap();
    s3(
        &east,
        "us-east-1",
        "PUT",
        &format!("/{bucket}?lifecycle"),
        b"",
    )
    .await
    .unwrap();
    rds(&west, "us-west-2").await.unwrap();
    rds(&west, "us-west-2").await.unwrap();
    // Not AWS calls: the application health endpoint and an unsigned request.
    send(
        &east,
        "GET",
        tandem_localcloud::HEALTH_PATH,
        &[],
        b"",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    send(&west, "GET", "/", &[], b"", Duration::from_secs(5))
        .await
        .unwrap();
    // A fault does not hide a call that was read: on AWS it would have needed the permission.
    // (A connection refused at once is never read, hence never recorded.)
    let failing = Fault {
        error_rate: 1.0,
        ..Fault::for_service("rds")
    };
    control.set_fault("us-west-2", failing).await.unwrap();
    assert_eq!(rds(&west, "us-west-2").await.unwrap().status, 500);
    control.restore_all().await.unwrap();

    let log = control.calls().await.unwrap();
    let seen: Vec<(String, String, u64)> = log
        .calls
        .iter()
        .map(|c| (c.api(), c.region.clone(), c.count))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "rds:DescribeDBInstances".to_string(),
                "us-west-2".to_string(),
                3
            ),
            ("s3:CreateBucket".into(), "us-east-1".into(), 1),
            ("s3:GetBucketVersioning".into(), "us-east-1".into(), 1),
            ("s3:HeadBucket".into(), "us-east-1".into(), 1),
            (format!("s3:UNKNOWN PUT /{bucket}"), "us-east-1".into(), 1),
        ],
        "{log:?}"
    );
    assert_eq!(log.dropped, 0);
    control.clear_calls().await.unwrap();
    assert!(control.calls().await.unwrap().calls.is_empty());
}

/// One request written as it is (its `Host` header, or none), on a new connection; the status
/// and the body of the answer.
async fn raw(base: &str, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// A page in a browser may reach the control port through a name of its own re-pointed at
/// 127.0.0.1 (DNS rebinding): its requests carry that name as `Host`, and are refused.
#[tokio::test]
async fn the_control_api_refuses_a_foreign_host() {
    let gw = gateway(&["us-east-1"]).await;
    let base = gw.control_url();
    let port = base
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let control = GatewayControl::new(base.clone());
    let fault = r#"{"service": "*", "blackhole": "refuse"}"#;
    let put = |host: &str| {
        let header = if host.is_empty() {
            String::new()
        } else {
            format!("Host: {host}\r\n")
        };
        format!(
            "PUT /faults/us-east-1 HTTP/1.1\r\n{header}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{fault}",
            fault.len()
        )
    };
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        "127.0.0.1".to_owned(),
        format!("127.0.0.1:{}", port.parse::<u16>().unwrap() + 1),
        format!("localhost.evil.example:{port}"),
        format!("[::1]:{port}"),
        String::new(),
    ] {
        let (status, body) = raw(&base, &put(&host)).await;
        assert_eq!(status, 403, "Host {host:?}: {body}");
        assert!(
            body.contains("refused") && body.contains(&format!("127.0.0.1:{port}")),
            "{body}"
        );
        assert!(control.faults().await.unwrap().is_clear(), "Host {host:?}");
    }
    // An HTTP/1.0 request without a Host is refused too.
    let (status, _) = raw(&base, "GET /faults HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 403);

    // A fault already set stays set when a foreign request would clear it.
    control
        .blackhole("us-east-1", BlackholeMode::Refuse)
        .await
        .unwrap();
    let (status, _) = raw(
        &base,
        "DELETE /faults HTTP/1.1\r\nHost: rebound.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(control.faults().await.unwrap().region("us-east-1").len(), 1);

    // Addressed by a loopback name and the listener's port, it answers.
    for host in [format!("127.0.0.1:{port}"), format!("LOCALHOST:{port}")] {
        let (status, body) = raw(
            &base,
            &format!("DELETE /faults HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 200, "Host {host:?}: {body}");
    }
    assert!(control.faults().await.unwrap().is_clear());
    let (status, _) = raw(&base, &put(&format!("localhost:{port}"))).await;
    assert_eq!(status, 200);
    assert_eq!(control.faults().await.unwrap().region("us-east-1").len(), 1);
}
