use tandem_aws::route53::{
    Failover as Role, FailoverRecordReading, HealthCheckProvider, HostedZoneProvider,
    RecordSetProvider, failover_records,
};
use tandem_core::{Region, ResourceDecl, Value};
use tandem_engine::provider::{ErrorClass, Provider};
use tandem_schema::regions::alb_hosted_zone_id;
use tandem_schema::route53::{Failover, HealthCheck, HostedZone, Record, RecordSet};

use crate::{
    assert_gone, clients, ctx_for, delete_for_good, reads_back, str_prop, unique,
    update_reads_back, validate_and_create,
};

fn zone_decl(name: &str, domain: &str) -> ResourceDecl {
    HostedZone::new(&Region::Global, name)
        .unwrap()
        .domain(domain)
        .comment("made by tests")
        .into()
}

fn health_check(name: &str, fqdn: &str) -> HealthCheck {
    HealthCheck::new(&Region::Global, name)
        .unwrap()
        .check_type("HTTPS")
        .fqdn(fqdn)
        .resource_path("/health")
        .request_interval(10)
        .failure_threshold(2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_zone_lifecycle_and_adoption() {
    let p = HostedZoneProvider::new(clients());
    let domain = format!("{}.example.com", unique("hz"));
    let decl = zone_decl("main", &domain);
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    assert_eq!(str_prop(&created.outputs, "zone_id"), created.id);
    assert!(!created.id.starts_with('/'));
    reads_back(&p, &ctx, &created.id, &decl.inputs).await;

    // A second declaration of the same domain adopts the zone instead of making a twin.
    let again = zone_decl("again", &format!("{domain}."));
    let adopted = validate_and_create(&p, &again).await.unwrap();
    assert_eq!(adopted.id, created.id);
    assert_eq!(
        p.find(&ctx, &decl.inputs).await.unwrap().unwrap().id,
        created.id
    );

    let mut new = decl.inputs.clone();
    new.insert("comment".into(), Value::str("changed"));
    update_reads_back(&p, &ctx, &created.id, &decl.inputs, &new).await;

    delete_for_good(&p, &ctx, &created.id, &new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_lifecycle_drift_and_find() {
    let p = HealthCheckProvider::new(clients());
    let fqdn = format!("{}.example.com", unique("hc"));
    let decl: ResourceDecl = health_check(&unique("hc"), &fqdn).tag("team", "sre").into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    let id = created.id.clone();
    assert_eq!(str_prop(&created.outputs, "health_check_id"), id);
    reads_back(&p, &ctx, &id, &decl.inputs).await;

    // Adoption after an interrupted create: by token, and by the tandem:addr tag.
    assert_eq!(p.find(&ctx, &decl.inputs).await.unwrap().unwrap().id, id);
    let mut other_token = ctx.clone();
    other_token.token = "tandem-someotherrun".into();
    assert_eq!(
        p.find(&other_token, &decl.inputs)
            .await
            .unwrap()
            .unwrap()
            .id,
        id
    );

    // Update in place: invert (the outage drill switch) and change the threshold.
    let mut new = decl.inputs.clone();
    new.insert("inverted".into(), Value::Bool(true));
    new.insert("failure_threshold".into(), Value::Int(5));
    let updated = update_reads_back(&p, &ctx, &id, &decl.inputs, &new).await;
    assert_eq!(updated.id, id);

    // Drift: disabled behind the tool's back.
    let r53 = clients().route53().await;
    let v = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .unwrap();
    r53.update_health_check()
        .health_check_id(&id)
        .health_check_version(v.health_check().unwrap().health_check_version())
        .disabled(true)
        .send()
        .await
        .unwrap();
    let read = p.read(&ctx, &id, &new).await.unwrap().unwrap();
    assert_eq!(read.inputs.get("disabled"), Some(&Value::Bool(true)));

    delete_for_good(&p, &ctx, &id, &new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_health_check_settings_are_refused_before_any_call() {
    let p = HealthCheckProvider::new(clients());
    let fqdn = format!("{}.example.com", unique("badhc"));
    for (decl, expect) in [
        (
            health_check("bad-interval", &fqdn).request_interval(15),
            "10 or 30",
        ),
        (
            health_check("bad-threshold", &fqdn).failure_threshold(11),
            "between 1 and 10",
        ),
        (
            health_check("bad-type", &fqdn).check_type("PING"),
            "must be one of",
        ),
    ] {
        let decl: ResourceDecl = decl.into();
        let e = validate_and_create(&p, &decl).await.unwrap_err();
        assert!(e.contains(expect), "{e}");
        assert!(
            p.find(&ctx_for(&decl), &decl.inputs)
                .await
                .unwrap()
                .is_none(),
            "nothing created"
        );
    }
    // Nothing in the cloud probes this name.
    let r53 = clients().route53().await;
    let all = r53.list_health_checks().send().await.unwrap();
    assert!(all.health_checks().iter().all(|h| {
        h.health_check_config()
            .and_then(|c| c.fully_qualified_domain_name())
            != Some(fqdn.as_str())
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_alias_pair_in_one_record_set() {
    let zones = HostedZoneProvider::new(clients());
    let checks = HealthCheckProvider::new(clients());
    let records = RecordSetProvider::new(clients());
    let domain = format!("{}.example.com", unique("fo"));
    let zone = validate_and_create(&zones, &zone_decl("fo", &domain))
        .await
        .unwrap();
    let app = format!("app.{domain}");
    let hc1 = validate_and_create(
        &checks,
        &health_check("fo-primary", &format!("p.{domain}")).into(),
    )
    .await
    .unwrap();

    // A neighbour with the same record type and its own set identifiers must not be touched.
    let other: ResourceDecl = RecordSet::new(&Region::Global, "www")
        .unwrap()
        .zone_id(zone.id.as_str())
        .name(format!("www.{domain}"))
        .record_type("A")
        .record(Record::simple(60, vec![Value::str("192.0.2.10")]))
        .into();
    validate_and_create(&records, &other).await.unwrap();

    // The primary half, health-checked: the record set of `app` with it alone.
    let primary_only = || {
        RecordSet::new(&Region::Global, "app")
            .unwrap()
            .zone_id(zone.id.as_str())
            .name(app.as_str())
            .record_type("A")
            .record(
                Record::failover_alias(
                    Failover::Primary,
                    "app-primary",
                    alb_hosted_zone_id("us-east-1").unwrap(),
                    "primary-alb-1.us-east-1.elb.amazonaws.com",
                )
                .health_check_id(hc1.id.as_str()),
            )
    };
    let pair = |secondary_dns: &str| -> ResourceDecl {
        primary_only()
            .record(Record::failover_alias(
                Failover::Secondary,
                "app-secondary",
                alb_hosted_zone_id("us-west-2").unwrap(),
                secondary_dns,
            ))
            .into()
    };
    let decl = pair("secondary-alb-1.us-west-2.elb.amazonaws.com");
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&records, &decl).await.unwrap();
    assert_eq!(
        created.inputs, decl.inputs,
        "both halves read back as declared"
    );

    let new = pair("secondary-alb-2.us-west-2.elb.amazonaws.com");
    update_reads_back(&records, &ctx, &created.id, &decl.inputs, &new.inputs).await;

    // Drop the secondary: only that record is deleted.
    let single: ResourceDecl = primary_only().into();
    update_reads_back(&records, &ctx, &created.id, &new.inputs, &single.inputs).await;

    records
        .delete(&ctx, &created.id, &single.inputs)
        .await
        .unwrap();
    assert_gone(&records, &ctx, &created.id, &single.inputs).await;
    let www = records
        .read(&ctx_for(&other), "", &other.inputs)
        .await
        .unwrap();
    assert!(www.is_some(), "the neighbouring record survived");
    records
        .delete(&ctx_for(&other), "", &other.inputs)
        .await
        .unwrap();
    checks
        .delete(&ctx, &hc1.id, &Default::default())
        .await
        .unwrap();
    zones
        .delete(&ctx, &zone.id, &Default::default())
        .await
        .unwrap();
    assert_gone(&zones, &ctx, &zone.id, &Default::default()).await;
}

/// The role swap of a failover pair, as a failover and a failback make it, three times over on
/// the local cloud (the emulator's batch shape, `BatchShape::Emulator`: moto refuses the third
/// DELETE + CREATE of the AWS shape and its DELETE would take a neighbour sharing a set
/// identifier). The AWS shape is checked by the `contracts` tests, which the emulator cannot judge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_roles_swap_back_and_forth() {
    let zones = HostedZoneProvider::new(clients());
    let records = RecordSetProvider::new(clients());
    let domain = format!("{}.example.com", unique("swap"));
    let zone = validate_and_create(&zones, &zone_decl("swap", &domain))
        .await
        .unwrap();
    let alias = |role, r: &str| {
        Record::failover_alias(
            role,
            format!("app-{r}"),
            alb_hosted_zone_id(r).unwrap(),
            format!("alb-1.{r}.elb.amazonaws.com"),
        )
    };
    let pair = |name: &str, primary: &str, secondary: &str| -> ResourceDecl {
        RecordSet::new(&Region::Global, name)
            .unwrap()
            .zone_id(zone.id.as_str())
            .name(format!("{name}.{domain}"))
            .record_type("A")
            .record(alias(Failover::Primary, primary))
            .record(alias(Failover::Secondary, secondary))
            .into()
    };
    // A neighbour of another name with the same set identifiers.
    let api = pair("api", "us-east-1", "us-west-2");
    validate_and_create(&records, &api).await.unwrap();
    let first = pair("app", "us-east-1", "us-west-2");
    let ctx = ctx_for(&first);
    let created = validate_and_create(&records, &first).await.unwrap();
    let c = clients();
    let mut last = first.inputs.clone();
    for (i, (primary, secondary)) in [
        ("us-west-2", "us-east-1"),
        ("us-east-1", "us-west-2"),
        ("us-west-2", "us-east-1"),
    ]
    .into_iter()
    .enumerate()
    {
        let next = pair("app", primary, secondary);
        update_reads_back(&records, &ctx, &created.id, &last, &next.inputs).await;
        let mut read = failover_records(&c, &zone.id, &format!("app.{domain}"))
            .await
            .unwrap();
        read.sort_by_key(|r| r.set_identifier.clone());
        let roles: Vec<(&str, Role)> = read
            .iter()
            .map(|r| (r.set_identifier.as_str(), r.role))
            .collect();
        let role = |r: &str| {
            if r == primary {
                Role::Primary
            } else {
                Role::Secondary
            }
        };
        assert_eq!(
            roles,
            [
                ("app-us-east-1", role("us-east-1")),
                ("app-us-west-2", role("us-west-2"))
            ],
            "swap {}",
            i + 1
        );
        last = next.inputs;
    }
    assert_eq!(
        failover_records(&c, &zone.id, &format!("api.{domain}"))
            .await
            .unwrap()
            .len(),
        2,
        "the neighbour sharing the set identifiers survived"
    );
    records.delete(&ctx, &created.id, &last).await.unwrap();
    records
        .delete(&ctx_for(&api), "", &api.inputs)
        .await
        .unwrap();
    zones
        .delete(&ctx, &zone.id, &Default::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_set_in_a_missing_zone_is_a_clear_error() {
    let records = RecordSetProvider::new(clients());
    let decl: ResourceDecl = RecordSet::new(&Region::Global, "ghost")
        .unwrap()
        .zone_id("ZNOSUCHZONE000")
        .name("ghost.example.com")
        .record_type("A")
        .record(Record::simple(60, vec![Value::str("192.0.2.1")]))
        .into();
    records.validate(&decl.addr, &decl.inputs).unwrap();
    let e = records
        .create(&ctx_for(&decl), &decl.inputs)
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Invalid, "{e}");
    assert!(
        e.message.contains("route53:ChangeResourceRecordSets"),
        "{e}"
    );
    assert!(e.message.contains("ZNOSUCHZONE000"), "{e}");
    assert_gone(&records, &ctx_for(&decl), "", &decl.inputs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_records_read_back_from_route53() {
    let zones = HostedZoneProvider::new(clients());
    let checks = HealthCheckProvider::new(clients());
    let records = RecordSetProvider::new(clients());
    let domain = format!("{}.example.com", unique("forr"));
    let zone = validate_and_create(&zones, &zone_decl("forr", &domain))
        .await
        .unwrap();
    let hc = validate_and_create(
        &checks,
        &health_check("forr-primary", &format!("p.{domain}")).into(),
    )
    .await
    .unwrap();
    let primary_dns = "primary-alb-1.us-east-1.elb.amazonaws.com";
    let secondary_dns = "secondary-alb-1.us-west-2.elb.amazonaws.com";
    // As the stack declares them: set identifiers `app-<region>`, the primary health-checked.
    let pair: ResourceDecl = RecordSet::new(&Region::Global, "app")
        .unwrap()
        .zone_id(zone.id.as_str())
        .name(domain.as_str())
        .record_type("A")
        .record(
            Record::failover_alias(
                Failover::Primary,
                "app-us-east-1",
                alb_hosted_zone_id("us-east-1").unwrap(),
                primary_dns,
            )
            .health_check_id(hc.id.as_str()),
        )
        .record(Record::failover_alias(
            Failover::Secondary,
            "app-us-west-2",
            alb_hosted_zone_id("us-west-2").unwrap(),
            secondary_dns,
        ))
        .into();
    validate_and_create(&records, &pair).await.unwrap();
    // Records of the same name that are not failover records, and of another name, are left out.
    let txt: ResourceDecl = RecordSet::new(&Region::Global, "txt")
        .unwrap()
        .zone_id(zone.id.as_str())
        .name(domain.as_str())
        .record_type("TXT")
        .record(Record::simple(60, vec![Value::str("\"v=spf1 -all\"")]))
        .into();
    validate_and_create(&records, &txt).await.unwrap();
    let www: ResourceDecl = RecordSet::new(&Region::Global, "www")
        .unwrap()
        .zone_id(zone.id.as_str())
        .name(format!("www.{domain}"))
        .record_type("A")
        .record(Record::simple(60, vec![Value::str("192.0.2.10")]))
        .into();
    validate_and_create(&records, &www).await.unwrap();

    let c = clients();
    // The name compares without case, with or without the trailing dot.
    let read = failover_records(&c, &zone.id, &format!("{}.", domain.to_uppercase()))
        .await
        .unwrap();
    let mut read = read;
    read.sort_by_key(|r| r.set_identifier.clone());
    let same_dns = |a: &Option<String>, b: &str| {
        a.as_deref()
            .is_some_and(|a| a.trim_end_matches('.').eq_ignore_ascii_case(b))
    };
    assert_eq!(read.len(), 2, "{read:?}");
    let (p, s) = (&read[0], &read[1]);
    assert_eq!(
        (p.set_identifier.as_str(), p.role, p.record_type.as_str()),
        ("app-us-east-1", Role::Primary, "A")
    );
    assert!(same_dns(&p.alias_dns_name, primary_dns), "{p:?}");
    assert_eq!(p.health_check_id.as_deref(), Some(hc.id.as_str()));
    assert!(p.evaluate_target_health);
    assert_eq!(
        (s.set_identifier.as_str(), s.role),
        ("app-us-west-2", Role::Secondary)
    );
    assert!(same_dns(&s.alias_dns_name, secondary_dns), "{s:?}");
    assert_eq!(s.health_check_id, None);
    assert_eq!(
        failover_records(&c, &format!("/hostedzone/{}", zone.id), &domain)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        failover_records(&c, &zone.id, &format!("other.{domain}"))
            .await
            .unwrap()
            .is_empty()
    );

    // The SECONDARY deleted behind the tool's back is absent from the answer.
    let r53 = c.route53().await;
    let listed = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .send()
        .await
        .unwrap();
    let secondary = listed
        .resource_record_sets()
        .iter()
        .find(|r| r.set_identifier() == Some("app-us-west-2"))
        .unwrap()
        .clone();
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Delete)
                        .resource_record_set(secondary)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let read: Vec<FailoverRecordReading> = failover_records(&c, &zone.id, &domain).await.unwrap();
    assert_eq!(read.len(), 1, "{read:?}");
    assert_eq!(read[0].role, Role::Primary);

    // A zone that does not exist is an error naming it, not an empty answer.
    let e = failover_records(&c, "ZNOSUCHZONE000", &domain)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("ZNOSUCHZONE000"), "{e}");

    let ctx = ctx_for(&pair);
    for d in [&pair, &txt, &www] {
        records.delete(&ctx_for(d), "", &d.inputs).await.unwrap();
    }
    checks
        .delete(&ctx, &hc.id, &Default::default())
        .await
        .unwrap();
    zones
        .delete(&ctx, &zone.id, &Default::default())
        .await
        .unwrap();
}

/// A probe of the local cloud, not a test of Tandem: what moto 5.2 does with the batch shape AWS
/// documents for changing a failover record's role (ChangeResourceRecordSets: DELETE of the exact
/// current records, then CREATE of the new ones, in one atomic batch). Prints what it sees and
/// asserts nothing about moto (its wrong answers are not to be relied on). Run it by hand:
/// `cargo test -p tandem-aws --test it route53::probe_moto_role_swap -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a probe of the emulator's behaviour, run by hand"]
async fn probe_moto_role_swap() {
    use aws_sdk_route53::types::{
        AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet,
        ResourceRecordSetFailover, RrType,
    };
    let zones = HostedZoneProvider::new(clients());
    let domain = format!("{}.example.com", unique("probe"));
    let zone = validate_and_create(&zones, &zone_decl("probe", &domain))
        .await
        .unwrap();
    let r53 = clients().route53().await;
    let name = format!("app.{domain}.");
    let rec = |name: &str, sid: &str, role: ResourceRecordSetFailover, dns: &str| {
        ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::A)
            .set_identifier(sid)
            .failover(role)
            .alias_target(
                AliasTarget::builder()
                    .hosted_zone_id("Z35SXDOTRQ7X7K")
                    .dns_name(dns)
                    .evaluate_target_health(true)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let change = |action: ChangeAction, r: ResourceRecordSet| {
        Change::builder()
            .action(action)
            .resource_record_set(r)
            .build()
            .unwrap()
    };
    let send = |changes: Vec<Change>| {
        let r53 = r53.clone();
        let zone = zone.id.clone();
        async move {
            r53.change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(
                    ChangeBatch::builder()
                        .set_changes(Some(changes))
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    format!(
                        "{:?}",
                        aws_sdk_route53::error::ProvideErrorMetadata::meta(&e)
                    )
                })
        }
    };
    let list = || {
        let r53 = r53.clone();
        let zone = zone.id.clone();
        async move {
            let out = r53
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .send()
                .await
                .unwrap();
            out.resource_record_sets()
                .iter()
                .filter(|r| r.set_identifier().is_some())
                .map(|r| {
                    format!(
                        "{} {} {:?}",
                        r.name(),
                        r.set_identifier().unwrap_or_default(),
                        r.failover().map(|f| f.as_str().to_string())
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    use ResourceRecordSetFailover::{Primary as P, Secondary as S};
    let (a, b) = (
        "a.us-east-1.elb.amazonaws.com",
        "b.us-west-2.elb.amazonaws.com",
    );
    // As Tandem creates them today: UPSERT.
    let r = send(vec![
        change(ChangeAction::Upsert, rec(&name, "app-us-east-1", P, a)),
        change(ChangeAction::Upsert, rec(&name, "app-us-west-2", S, b)),
        // A neighbour of another name that happens to use the same set identifier.
        change(
            ChangeAction::Upsert,
            rec(&format!("api.{domain}."), "app-us-east-1", P, a),
        ),
    ])
    .await;
    println!("create (UPSERT x3): {r:?}\n  {:?}", list().await);
    for (i, (p_sid, s_sid)) in [
        ("app-us-west-2", "app-us-east-1"),
        ("app-us-east-1", "app-us-west-2"),
        ("app-us-west-2", "app-us-east-1"),
    ]
    .into_iter()
    .enumerate()
    {
        let dns = |sid: &str| if sid == "app-us-east-1" { a } else { b };
        let r = send(vec![
            change(ChangeAction::Delete, rec(&name, s_sid, P, dns(s_sid))),
            change(ChangeAction::Delete, rec(&name, p_sid, S, dns(p_sid))),
            change(ChangeAction::Create, rec(&name, p_sid, P, dns(p_sid))),
            change(ChangeAction::Create, rec(&name, s_sid, S, dns(s_sid))),
        ])
        .await;
        println!(
            "swap {} (DELETE x2 + CREATE x2): {r:?}\n  {:?}",
            i + 1,
            list().await
        );
    }
}
