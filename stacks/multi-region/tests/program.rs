//! The program declares the seed's architecture, and its graph is valid and ordered by region.

use std::path::Path;

use tandem_core::evaluate;
use tandem_posture::Posture;
use tandem_stack_multi_region::{Environment, MultiRegion};

fn local() -> Environment {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    Environment::load(&dir, "local", &|_| None).unwrap()
}

#[test]
fn the_architecture_is_declared() {
    let env = local();
    let posture = Posture::initial(&env.primary_region, &env.secondary_region);
    let desired = evaluate(&MultiRegion::new(env, posture)).unwrap();
    let addrs: Vec<String> = desired
        .graph
        .in_order()
        .map(|d| d.addr.to_string())
        .collect();
    for expected in [
        "global/cloudformation:StackSet/baseline",
        "us-east-1/cloudformation:StackInstance/baseline",
        "us-west-2/cloudformation:StackInstance/baseline",
        "us-east-1/rds:DbInstance/app-db",
        "us-west-2/rds:DbReadReplica/app-db-replica",
        "us-east-1/s3:Bucket/assets",
        "us-west-2/s3:Bucket/assets",
        "us-east-1/s3:BucketReplication/assets",
        "global/route53:HostedZone/zone",
        "global/route53:HealthCheck/app-us-east-1",
        "global/route53:HealthCheck/app-us-west-2",
        "global/route53:RecordSet/app",
        "us-west-2/cloudwatch:Alarm/replica-lag",
    ] {
        assert!(
            addrs.contains(&expected.to_string()),
            "{expected} missing from {addrs:#?}"
        );
    }
    // The replica refers to the primary's ARN: a dependency across regions.
    let replica = desired
        .graph
        .get(
            &"us-west-2/rds:DbReadReplica/app-db-replica"
                .parse()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        replica
            .dependencies()
            .iter()
            .filter(|d| d.kind() == "rds:DbInstance")
            .count(),
        1
    );
    for key in [
        "app_url",
        "alb_dns_us-east-1",
        "alb_dns_us-west-2",
        "db_primary_endpoint",
        "bucket_us-west-2",
    ] {
        assert!(desired.outputs.contains_key(key), "output {key} missing");
    }
}

#[test]
fn aws_environments_peer_the_two_vpcs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    let env = Environment::load(&dir, "staging", &|_| None).unwrap();
    assert!(env.vpc_peering);
    let posture = Posture::initial(&env.primary_region, &env.secondary_region);
    let desired = evaluate(&MultiRegion::new(env, posture)).unwrap();
    let requester = desired
        .graph
        .get(
            &"us-east-1/cloudformation:Stack/vpc-peering"
                .parse()
                .unwrap(),
        )
        .unwrap();
    let template = requester.inputs["template_body"].as_str().unwrap();
    assert!(template.contains("AWS::EC2::VPCPeeringConnection") && template.contains("PeerRegion"));
    let accepter = desired
        .graph
        .get(
            &"us-west-2/cloudformation:Stack/vpc-peering-routes"
                .parse()
                .unwrap(),
        )
        .unwrap();
    assert!(
        accepter
            .dependencies()
            .iter()
            .any(|d| d.name() == "vpc-peering")
    );
    // The local cloud cannot: no peering there.
    assert!(!local().vpc_peering);
}
