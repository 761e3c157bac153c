//! Each region's application health endpoint tells the truth about capacity: 200 only while moto
//! shows an Auto Scaling group of the region with a desired capacity above 0.
//!
//! The regions of these tests are theirs alone: the other tests give `us-east-1` and `us-west-2`
//! capacity in the shared moto, and a region's health depends on every group in it.

use std::time::{Duration, Instant};

use tandem_localcloud::{
    BlackholeMode, CAPACITY_TIMEOUT, Fault, Gateway, GatewayConfig, HEALTH_PATH, RunningGateway,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{
    Reply, autoscaling, create_group, free_port, gateway, must, send, set_desired,
};

/// Only this file's capacity test uses these two.
const IRELAND: &str = "eu-west-1";
const FRANKFURT: &str = "eu-central-1";

async fn get(gw: &RunningGateway, region: &str) -> Reply {
    must(
        &gw.region_endpoint(region).unwrap(),
        "GET",
        HEALTH_PATH,
        &[],
        b"",
    )
    .await
}

async fn head(gw: &RunningGateway, region: &str) -> Reply {
    must(
        &gw.region_endpoint(region).unwrap(),
        "HEAD",
        HEALTH_PATH,
        &[],
        b"",
    )
    .await
}

fn assert_answer(reply: &Reply, status: u16, body: &str) {
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (status, body),
        "{reply:?}"
    );
}

#[tokio::test]
async fn health_follows_the_regions_auto_scaling_capacity() {
    let gw = gateway(&[IRELAND, FRANKFURT]).await;
    let ireland = gw.region_endpoint(IRELAND).unwrap();
    let frankfurt = gw.region_endpoint(FRANKFURT).unwrap();
    // moto's first Auto Scaling request loads its code for seconds, longer than the health
    // endpoint waits: have it done (the gateway also asks once when it starts, in the background).
    for (base, region) in [(&ireland, IRELAND), (&frankfurt, FRANKFURT)] {
        let described = autoscaling(base, region, "DescribeAutoScalingGroups", &[])
            .await
            .unwrap();
        assert_eq!(described.status, 200, "{described:?}");
    }

    // No group: no capacity, in either region.
    for region in [IRELAND, FRANKFURT] {
        let reply = get(&gw, region).await;
        assert_answer(
            &reply,
            503,
            &format!("no capacity: no Auto Scaling group in {region}\n"),
        );
    }
    let bodiless = head(&gw, IRELAND).await;
    assert_eq!(bodiless.status, 503);
    assert_eq!(bodiless.body, "");
    let expected_length = "no capacity: no Auto Scaling group in eu-west-1\n"
        .len()
        .to_string();
    assert_eq!(
        bodiless.header("content-length"),
        Some(expected_length.as_str())
    );

    // A group of 2 in Ireland (created through the region's own listener): Ireland serves,
    // Frankfurt still has nothing.
    let group = create_group(&ireland, IRELAND, 2).await;
    assert_answer(&get(&gw, IRELAND).await, 200, "ok\n");
    let ok_head = head(&gw, IRELAND).await;
    assert_eq!(
        (
            ok_head.status,
            ok_head.header("content-length"),
            ok_head.body.as_str()
        ),
        (200, Some("3"), "")
    );
    assert_answer(
        &get(&gw, FRANKFURT).await,
        503,
        "no capacity: no Auto Scaling group in eu-central-1\n",
    );

    // Frankfurt gets a group of 1; then Ireland is scaled to zero, as a failback quiesces the
    // active region: Ireland is down, Frankfurt unaffected.
    create_group(&frankfurt, FRANKFURT, 1).await;
    assert_answer(&get(&gw, FRANKFURT).await, 200, "ok\n");
    set_desired(&ireland, IRELAND, &group, 0).await;
    assert_answer(
        &get(&gw, IRELAND).await,
        503,
        "no capacity: every Auto Scaling group in eu-west-1 has desired capacity 0 (1 group)\n",
    );
    assert_answer(&get(&gw, FRANKFURT).await, 200, "ok\n");

    // Every group counts: a second group at 0 changes nothing, one above 0 brings Ireland back.
    let idle = create_group(&ireland, IRELAND, 0).await;
    assert_answer(
        &get(&gw, IRELAND).await,
        503,
        "no capacity: every Auto Scaling group in eu-west-1 has desired capacity 0 (2 groups)\n",
    );
    set_desired(&ireland, IRELAND, &idle, 1).await;
    assert_answer(&get(&gw, IRELAND).await, 200, "ok\n");
    set_desired(&ireland, IRELAND, &idle, 0).await;
    assert_eq!(get(&gw, IRELAND).await.status, 503, "no stale answer");

    // Faults keep their precedence over capacity, whichever way capacity points.
    let control = gw.control();
    control
        .set_fault(
            FRANKFURT,
            Fault {
                error_rate: 1.0,
                ..Fault::for_service("health")
            },
        )
        .await
        .unwrap();
    let failed = get(&gw, FRANKFURT).await;
    assert_eq!(failed.status, 500, "{failed:?}");
    assert!(failed.body.contains("injected"), "{failed:?}");
    control
        .blackhole(IRELAND, BlackholeMode::Refuse)
        .await
        .unwrap();
    let refused = send(
        &ireland,
        "GET",
        HEALTH_PATH,
        &[],
        b"",
        Duration::from_secs(2),
    )
    .await;
    assert!(refused.is_err(), "a blackholed region answers: {refused:?}");
    control.restore_all().await.unwrap();
    assert_eq!(get(&gw, FRANKFURT).await.status, 200);
    assert_eq!(get(&gw, IRELAND).await.status, 503);

    // Only GET and HEAD; moto is not asked for anything else.
    let post = must(&ireland, "POST", HEALTH_PATH, &[], b"").await;
    assert_eq!(
        (post.status, post.header("allow")),
        (405, Some("GET, HEAD"))
    );
}

/// A gateway for `us-east-1` whose moto is at `moto`.
async fn gateway_to(moto: String) -> RunningGateway {
    let mut config = GatewayConfig::new(moto, vec!["us-east-1".to_owned()]);
    config.seed = Some(1);
    Gateway::start(config).await.expect("the gateway starts")
}

/// A stand-in for moto on a free port: `answer` gives the raw HTTP answer to each request's form
/// body, or `None` to never answer.
async fn fake_moto(answer: fn(&str) -> Option<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    // One request: the head, then Content-Length bytes of form.
                    let form = loop {
                        let text = String::from_utf8_lossy(&raw).into_owned();
                        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                            let length: usize = head
                                .lines()
                                .find_map(|l| {
                                    let (n, v) = l.split_once(':')?;
                                    n.eq_ignore_ascii_case("content-length")
                                        .then(|| v.trim().parse().ok())?
                                })
                                .unwrap_or(0);
                            if rest.len() >= length {
                                raw.drain(..head.len() + 4 + length);
                                break rest[..length].to_owned();
                            }
                        }
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => raw.extend_from_slice(&buf[..n]),
                        }
                    };
                    match answer(&form) {
                        Some(reply) => {
                            if stream.write_all(reply.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        None => {
                            let _ = stream.read(&mut buf).await;
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

/// A `DescribeAutoScalingGroups` answer of groups with these desired capacities.
fn page(desired: &[u32], next_token: Option<&str>) -> String {
    let members: String = desired
        .iter()
        .enumerate()
        .map(|(i, d)| {
            format!(
                "<member><AutoScalingGroupName>g{i}</AutoScalingGroupName>\
                 <DesiredCapacity>{d}</DesiredCapacity></member>"
            )
        })
        .collect();
    let next = next_token.map_or(String::new(), |t| format!("<NextToken>{t}</NextToken>"));
    let body = format!(
        "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>\
         <AutoScalingGroups>{members}</AutoScalingGroups>{next}</DescribeAutoScalingGroupsResult>\
         </DescribeAutoScalingGroupsResponse>"
    );
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn health_reads_every_page_of_groups() {
    // Two groups at 0, then (after the token, decoded and sent back) one with capacity.
    let gw = gateway_to(
        fake_moto(|form| {
            Some(if form.contains("&NextToken=a%26b%2Fc") {
                page(&[1], None)
            } else {
                page(&[0, 0], Some("a&amp;b/c"))
            })
        })
        .await,
    )
    .await;
    assert_answer(&get(&gw, "us-east-1").await, 200, "ok\n");
    gw.shutdown().await;

    // Three pages, all at 0: every group is counted.
    let gw = gateway_to(
        fake_moto(|form| {
            Some(if form.contains("NextToken=second") {
                page(&[0], None)
            } else if form.contains("NextToken=first") {
                page(&[0, 0], Some("second"))
            } else {
                page(&[0, 0], Some("first"))
            })
        })
        .await,
    )
    .await;
    assert_answer(
        &get(&gw, "us-east-1").await,
        503,
        "no capacity: every Auto Scaling group in us-east-1 has desired capacity 0 (5 groups)\n",
    );
    gw.shutdown().await;

    // A server that repeats its token is an error, not a loop.
    let gw = gateway_to(fake_moto(|_| Some(page(&[0], Some("again")))).await).await;
    let looping = get(&gw, "us-east-1").await;
    assert_eq!(looping.status, 503, "{looping:?}");
    assert!(
        looping.body.contains("NextToken \"again\" twice"),
        "{looping:?}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn health_without_moto_is_503_with_the_reason() {
    // Nothing listens: moto is down.
    let gw = gateway_to(format!("http://127.0.0.1:{}", free_port())).await;
    let down = get(&gw, "us-east-1").await;
    assert_eq!(down.status, 503, "{down:?}");
    assert!(
        down.body.starts_with(
            "health unknown: cannot read the Auto Scaling groups of us-east-1 from moto at"
        ) && down.body.contains("cannot reach moto"),
        "{down:?}"
    );
    gw.shutdown().await;

    // moto answers an error.
    let gw = gateway_to(
        fake_moto(|_| {
            Some(
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n\
                 Content-Length: 25\r\n\r\n<h1>Internal Error</h1>\n\n"
                    .to_owned(),
            )
        })
        .await,
    )
    .await;
    let failed = get(&gw, "us-east-1").await;
    assert_eq!(failed.status, 503, "{failed:?}");
    assert!(
        failed
            .body
            .contains("moto answered 500 to DescribeAutoScalingGroups: <h1>Internal Error</h1>"),
        "{failed:?}"
    );
    gw.shutdown().await;

    // moto accepts and never answers: the endpoint still answers, within the lookup's bound, so
    // that a probe allowing 2 s for the response hears the 503.
    let gw = gateway_to(fake_moto(|_| None).await).await;
    let started = Instant::now();
    let hung = get(&gw, "us-east-1").await;
    let took = started.elapsed();
    assert_eq!(hung.status, 503, "{hung:?}");
    assert!(
        hung.body.contains(&format!(
            "no answer within {} ms",
            CAPACITY_TIMEOUT.as_millis()
        )),
        "{hung:?}"
    );
    assert!(
        took >= CAPACITY_TIMEOUT && took < Duration::from_secs(2),
        "{took:?}"
    );
    let bodiless = head(&gw, "us-east-1").await;
    assert_eq!((bodiless.status, bodiless.body.as_str()), (503, ""));
    gw.shutdown().await;
}
