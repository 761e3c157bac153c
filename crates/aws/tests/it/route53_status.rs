//! `health_check_status`: Route 53's own verdict on a health check, against moto and against a
//! cloud that lacks the call.
//!
//! What moto 5.2 does: `GetHealthCheckStatus` of an existing check answers one fixed observation
//! (us-east-1, `127.0.13.37`, `Success: HTTP Status Code: 200. ...`) whatever the endpoint does,
//! and `NoSuchHealthCheck` (HTTP 404) for an unknown id. It stores `Inverted` and `Disabled`.

use std::io::{Read, Write};
use std::net::TcpListener;

use tandem_aws::route53::{HealthCheckProvider, route53_verdict};
use tandem_aws::{AwsError, HealthCheckStatus, health_check_status};
use tandem_core::{Region, ResourceDecl};
use tandem_engine::provider::{ErrorClass, Provider};
use tandem_schema::route53::HealthCheck;

use crate::{clients, clients_at, ctx_for, local_clients, unique, validate_and_create};

fn check(name: &str, inverted: bool, disabled: bool) -> ResourceDecl {
    HealthCheck::new(&Region::Global, name)
        .unwrap()
        .check_type("HTTP")
        .fqdn(format!("{}.example.com", unique("hcs")))
        .resource_path("/health")
        .request_interval(10)
        .failure_threshold(3)
        .inverted(inverted)
        .disabled(disabled)
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_answers_one_fixed_success_and_inversion_is_applied() {
    let c = clients();
    let p = HealthCheckProvider::new(c.clone());
    let plain = check("status-plain", false, false);
    let inverted = check("status-inverted", true, false);
    let disabled = check("status-disabled", true, true);
    let mut ids = Vec::new();
    for decl in [&plain, &inverted, &disabled] {
        ids.push(validate_and_create(&p, decl).await.unwrap().id);
    }

    let HealthCheckStatus::Reported(r) = health_check_status(&c, &ids[0]).await.unwrap() else {
        panic!("moto 5.2 implements GetHealthCheckStatus");
    };
    assert_eq!((r.observations, r.reporting_healthy), (1, 1), "{r:?}");
    assert_eq!(r.healthy, Some(true), "{r:?}");
    assert!(!r.inverted && !r.disabled, "{r:?}");
    let latest = r.latest_status.as_deref().unwrap_or_default();
    assert!(
        latest.starts_with("Success: HTTP Status Code: 200"),
        "{r:?}"
    );
    assert_eq!(r.latest_region.as_deref(), Some("us-east-1"), "{r:?}");
    assert!(r.latest_checked.is_some(), "{r:?}");

    // The same fixed success, read through an inverted check: Route 53 calls it unhealthy.
    let HealthCheckStatus::Reported(r) = health_check_status(&c, &ids[1]).await.unwrap() else {
        panic!("reported");
    };
    assert_eq!((r.observations, r.reporting_healthy), (1, 1), "{r:?}");
    assert!(r.inverted, "{r:?}");
    assert_eq!(r.healthy, Some(false), "{r:?}");

    // Disabled: healthy whatever the checkers say.
    let HealthCheckStatus::Reported(r) = health_check_status(&c, &ids[2]).await.unwrap() else {
        panic!("reported");
    };
    assert!(r.disabled, "{r:?}");
    assert_eq!(r.healthy, Some(true), "{r:?}");

    for (decl, id) in [&plain, &inverted, &disabled].into_iter().zip(&ids) {
        p.delete(&ctx_for(decl), id, &decl.inputs).await.unwrap();
    }
    assert_eq!(
        health_check_status(&c, &ids[0]).await.unwrap(),
        HealthCheckStatus::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_check_is_not_found() {
    assert_eq!(
        health_check_status(&clients(), "00000000-0000-0000-0000-000000000000")
            .await
            .unwrap(),
        HealthCheckStatus::NotFound
    );
}

/// Known to be the local cloud: moto's fixed answer is not passed off as a status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_cloud_does_not_provide_it() {
    let c = local_clients();
    let decl = check("status-local", false, false);
    let p = HealthCheckProvider::new(c.clone());
    let id = validate_and_create(&p, &decl).await.unwrap().id;
    match health_check_status(&c, &id).await.unwrap() {
        HealthCheckStatus::NotProvided(why) => assert!(why.contains("moto"), "{why}"),
        other => panic!("expected NotProvided, got {other:?}"),
    }
    p.delete(&ctx_for(&decl), &id, &decl.inputs).await.unwrap();
}

/// A one-thread HTTP server answering every request with `status` and a Route 53 error body.
fn fake_cloud(status: u16, code: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 8192];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let body = format!(
                "<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Sender</Type>\
                 <Code>{code}</Code><Message>not here</Message></Error>\
                 <RequestId>fake</RequestId></ErrorResponse>"
            );
            let _ = write!(
                s,
                "HTTP/1.1 {status} Whatever\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_without_the_call_is_told_from_a_failing_one() {
    let c = clients_at(&fake_cloud(501, "NotImplemented"));
    match health_check_status(&c, "abc").await.unwrap() {
        HealthCheckStatus::NotProvided(why) => assert!(why.contains("NotImplemented"), "{why}"),
        other => panic!("expected NotProvided, got {other:?}"),
    }
    // A 404 that is not about the health check: the path is not routed.
    let c = clients_at(&fake_cloud(404, "NoSuchBucket"));
    assert!(matches!(
        health_check_status(&c, "abc").await.unwrap(),
        HealthCheckStatus::NotProvided(_)
    ));

    // Real failures stay errors.
    let c = clients_at(&fake_cloud(403, "AccessDenied"));
    let e = health_check_status(&c, "abc").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::AccessDenied, "{e}");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = clients_at(&format!("http://127.0.0.1:{port}"));
    let e = health_check_status(&c, "abc").await.unwrap_err();
    assert!(
        matches!(&e, AwsError::Call(c) if c.class == ErrorClass::Retryable),
        "{e}"
    );
    assert!(e.to_string().contains("route53:GetHealthCheck"), "{e}");
}

#[test]
fn the_verdict_is_route53s_eighteen_percent() {
    assert_eq!(route53_verdict(16, 3, false, false), Some(true));
    assert_eq!(route53_verdict(16, 2, false, false), Some(false));
}
