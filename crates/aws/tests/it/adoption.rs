//! A resource made by a run whose journal or state was lost is found by a later run (another
//! token), by what identifies its kind: names, tags, the stack-set instance's set and region.

use tandem_aws::cloudformation::{StackInstanceProvider, StackSetLocks, StackSetProvider};
use tandem_aws::cloudwatch::AlarmProvider;
use tandem_aws::rds_params::DbParameterGroupProvider;
use tandem_aws::route53::{HealthCheckProvider, HostedZoneProvider};
use tandem_aws::s3::BucketProvider;
use tandem_aws::secretsmanager::DatabaseSecretProvider;
use tandem_core::{Region, ResourceDecl, map};
use tandem_engine::provider::Provider;
use tandem_schema::cloudformation::StackInstance;
use tandem_schema::cloudwatch::Alarm;
use tandem_schema::route53::{HealthCheck, HostedZone};
use tandem_schema::s3::Bucket;

use crate::cloudformation::stack_set;
use crate::rds_network::tls_group;
use crate::secretsmanager::{secret, secret_name};
use crate::{clients, ctx_for, unique, us_west_2, validate_and_create};

/// What a later run finds of `decl`'s resource, made as `made` by an earlier one.
async fn found_by_a_later_run(p: &dyn Provider, decl: &ResourceDecl, made: &str) {
    assert!(
        p.identity().findable_by_any_run(),
        "{} is found only by its create's token",
        p.kind()
    );
    let later = ctx_for(decl);
    let found = p
        .find(&later, &decl.inputs)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{} made by an earlier run is not found", p.kind()));
    assert_eq!(found.id, made);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_instance_made_by_a_lost_run_is_found_and_a_second_create_adopts_it() {
    let locks = StackSetLocks::new();
    let sets = StackSetProvider::new(clients(), locks.clone());
    let instances = StackInstanceProvider::new(clients(), locks);
    let name = unique("adopt-ss");
    let set = stack_set(&name);
    let set_obs = validate_and_create(&sets, &set).await.unwrap();

    let instance: ResourceDecl = StackInstance::new(&us_west_2(), "app")
        .unwrap()
        .stack_set_name(name.as_str())
        .admin_region("us-east-1")
        .parameter_overrides(map([("Cidr", "10.4.0.0/16")]))
        .region_concurrency("SEQUENTIAL")
        .into();
    // The run that made it was killed before recording it.
    let made = validate_and_create(&instances, &instance).await.unwrap();

    // The next run's create (another token) adopts it: no AlreadyExistsException, one instance.
    let again = instances
        .create(&ctx_for(&instance), &instance.inputs)
        .await
        .unwrap_or_else(|e| panic!("a second create fails: {e}"));
    assert_eq!(again.id, made.id);
    assert_eq!(again.outputs.get("VpcId"), made.outputs.get("VpcId"));
    found_by_a_later_run(&instances, &instance, &made.id).await;
    found_by_a_later_run(&sets, &set, &set_obs.id).await;

    // Its overrides changed since: adopted, then brought to the program's.
    let mut changed = instance.inputs.clone();
    changed.insert("parameter_overrides".into(), map([("Cidr", "10.5.0.0/16")]));
    let updated = instances
        .create(&ctx_for(&instance), &changed)
        .await
        .unwrap();
    assert_eq!(
        updated.inputs.get("parameter_overrides"),
        changed.get("parameter_overrides")
    );

    let ctx = ctx_for(&instance);
    instances.delete(&ctx, &made.id, &changed).await.unwrap();
    assert!(instances.find(&ctx, &changed).await.unwrap().is_none());
    sets.delete(&ctx_for(&set), &name, &set.inputs)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_zones_and_health_checks_made_by_a_lost_run_are_found() {
    let zones = HostedZoneProvider::new(clients());
    let domain = format!("{}.example.com", unique("adopt-hz"));
    let zone: ResourceDecl = HostedZone::new(&Region::Global, "main")
        .unwrap()
        .domain(domain.as_str())
        .into();
    let z = validate_and_create(&zones, &zone).await.unwrap();
    found_by_a_later_run(&zones, &zone, &z.id).await;

    let checks = HealthCheckProvider::new(clients());
    let check: ResourceDecl = HealthCheck::new(&Region::Global, &unique("adopthc"))
        .unwrap()
        .check_type("HTTPS")
        .fqdn(format!("app.{domain}").as_str())
        .resource_path("/health")
        .request_interval(10)
        .failure_threshold(2)
        .into();
    let hc = validate_and_create(&checks, &check).await.unwrap();
    // Another token: found by its tandem tags, not by the CallerReference of its create.
    found_by_a_later_run(&checks, &check, &hc.id).await;

    checks
        .delete(&ctx_for(&check), &hc.id, &check.inputs)
        .await
        .unwrap();
    zones
        .delete(&ctx_for(&zone), &z.id, &zone.inputs)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_made_by_a_lost_run_is_found_by_its_name() {
    let buckets = BucketProvider::new(clients());
    let name = unique("adopt-b");
    let bucket: ResourceDecl = Bucket::new(&us_west_2(), "assets")
        .unwrap()
        .bucket(name.as_str())
        .versioning(true)
        .into();
    let made = validate_and_create(&buckets, &bucket).await.unwrap();
    found_by_a_later_run(&buckets, &bucket, &made.id).await;
    buckets
        .delete(&ctx_for(&bucket), &made.id, &bucket.inputs)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_a_parameter_group_and_a_secret_made_by_a_lost_run_are_found_by_their_names() {
    let alarms = AlarmProvider::new(clients());
    let alarm: ResourceDecl = Alarm::new(&us_west_2(), "replica-lag")
        .unwrap()
        .alarm_name(unique("adopt-alarm").as_str())
        .namespace("AWS/RDS")
        .metric_name("ReplicaLag")
        .statistic("Maximum")
        .period(60)
        .evaluation_periods(3)
        .threshold(300)
        .comparison_operator("GreaterThanThreshold")
        .into();
    let a = validate_and_create(&alarms, &alarm).await.unwrap();
    found_by_a_later_run(&alarms, &alarm, &a.id).await;

    let groups = DbParameterGroupProvider::new(clients());
    let group: ResourceDecl = tls_group(&us_west_2(), &unique("adopt-pg")).into();
    let g = validate_and_create(&groups, &group).await.unwrap();
    found_by_a_later_run(&groups, &group, &g.id).await;

    let secrets = DatabaseSecretProvider::new(clients());
    let db_secret: ResourceDecl = secret(&secret_name("adopt-sec")).into();
    let s = validate_and_create(&secrets, &db_secret).await.unwrap();
    found_by_a_later_run(&secrets, &db_secret, &s.id).await;

    alarms
        .delete(&ctx_for(&alarm), &a.id, &alarm.inputs)
        .await
        .unwrap();
    groups
        .delete(&ctx_for(&group), &g.id, &group.inputs)
        .await
        .unwrap();
    secrets
        .delete(&ctx_for(&db_secret), &s.id, &db_secret.inputs)
        .await
        .unwrap();
}
