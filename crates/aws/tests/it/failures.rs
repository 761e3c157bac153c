//! Bad input from the cloud's side: each a clear error, nothing reported as created.

use tandem_aws::s3::BucketProvider;
use tandem_aws::{AwsError, preflight};
use tandem_core::ResourceDecl;
use tandem_engine::provider::{ErrorClass, Provider};
use tandem_schema::s3::Bucket;
use tandem_testkit::{MOTO_ACCOUNT_ID, Moto};

use crate::{clients, clients_at, ctx_for, unique, us_east_1};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_names_the_account_and_refuses_another() {
    let me = preflight(&clients(), Some(MOTO_ACCOUNT_ID)).await.unwrap();
    assert_eq!(me.account, MOTO_ACCOUNT_ID);
    let e = preflight(&clients(), Some("999999999999"))
        .await
        .unwrap_err();
    assert!(matches!(e, AwsError::WrongAccount { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("999999999999") && text.contains(MOTO_ACCOUNT_ID),
        "{text}"
    );
}

/// Access denied everywhere, on a private moto (the switch is global to a server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_is_classified_and_nothing_is_created() {
    let moto = Moto::start().expect("a private moto");
    let c = clients_at(&moto.endpoint());
    let p = BucketProvider::new(c.clone());
    let name = unique("tb-denied");
    let decl: ResourceDecl = Bucket::new(&us_east_1(), "denied")
        .unwrap()
        .bucket(name.as_str())
        .into();
    moto.set_auth_denied(true).unwrap();
    let e = p.create(&ctx_for(&decl), &decl.inputs).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::AccessDenied, "{e}");
    assert!(e.message.contains("s3:CreateBucket"), "{e}");
    let e = preflight(&c, None).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::AccessDenied, "{e}");
    moto.set_auth_denied(false).unwrap();
    assert!(
        p.read(&ctx_for(&decl), &name, &decl.inputs)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_retryable_and_bounded() {
    // A port nothing listens on: connection refused, retried a bounded number of times.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = clients_at(&format!("http://127.0.0.1:{port}"));
    let started = std::time::Instant::now();
    let e = preflight(&c, None).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retryable, "{e}");
    assert!(e.to_string().contains("sts:GetCallerIdentity"), "{e}");
    assert!(e.to_string().contains("gave up after 3 attempts"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_register_every_kind() {
    let p = tandem_aws::providers(clients());
    let kinds: Vec<&str> = p.kinds().collect();
    for k in tandem_schema::kinds::ALL {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
}
