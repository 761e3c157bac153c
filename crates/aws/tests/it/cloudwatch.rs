use tandem_aws::cloudwatch::AlarmProvider;
use tandem_core::{ResourceDecl, Value, map};
use tandem_engine::provider::Provider;
use tandem_schema::cloudwatch::Alarm;

use crate::{
    clients, ctx_for, delete_for_good, reads_back, unique, update_reads_back, us_west_2,
    validate_and_create,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_lifecycle_and_drift() {
    let p = AlarmProvider::new(clients());
    let name = unique("alarm");
    let decl: ResourceDecl = Alarm::new(&us_west_2(), "replica-lag")
        .unwrap()
        .alarm_name(name.as_str())
        .namespace("AWS/RDS")
        .metric_name("ReplicaLag")
        .dimensions(map([("DBInstanceIdentifier", "app-db-replica")]))
        .statistic("Maximum")
        .period(60)
        .evaluation_periods(3)
        .threshold(300)
        .comparison_operator("GreaterThanThreshold")
        .treat_missing_data("breaching")
        .into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    assert!(created.outputs.contains_key("alarm_arn"));
    reads_back(&p, &ctx, &name, &decl.inputs).await;

    let mut new = decl.inputs.clone();
    new.insert("threshold".into(), Value::Int(60));
    update_reads_back(&p, &ctx, &name, &decl.inputs, &new).await;

    // Tags change in place (PutMetricAlarm only tags on creation) and read back from CloudWatch.
    let mut tagged = new.clone();
    tagged.insert("tags".into(), map([("team", "sre"), ("tier", "db")]));
    update_reads_back(&p, &ctx, &name, &new, &tagged).await;
    let mut retagged = new.clone();
    retagged.insert("tags".into(), map([("team", "platform")]));
    update_reads_back(&p, &ctx, &name, &tagged, &retagged).await;
    // Tags changed behind the tool's back show as drift.
    let arn = created
        .outputs
        .get("alarm_arn")
        .and_then(|v| v.as_str())
        .unwrap()
        .to_string();
    clients()
        .cloudwatch("us-west-2")
        .await
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let read = p.read(&ctx, &name, &retagged).await.unwrap().unwrap();
    assert_eq!(
        read.inputs.get("tags"),
        Some(&map([] as [(&str, &str); 0])),
        "{read:?}"
    );
    let new = retagged;

    // Drift: the threshold raised behind the tool's back.
    let cw = clients().cloudwatch("us-west-2").await;
    cw.put_metric_alarm()
        .alarm_name(&name)
        .namespace("AWS/RDS")
        .metric_name("ReplicaLag")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(60)
        .evaluation_periods(3)
        .threshold(900.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    let read = p.read(&ctx, &name, &new).await.unwrap().unwrap();
    assert_eq!(read.inputs.get("threshold"), Some(&Value::Float(900.0)));

    delete_for_good(&p, &ctx, &name, &new).await;
}
