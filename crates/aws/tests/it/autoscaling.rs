use tandem_aws::autoscaling::GroupCapacityProvider;
use tandem_core::{ResourceDecl, Value};
use tandem_engine::provider::{ErrorClass, Provider};
use tandem_schema::autoscaling::GroupCapacity;

use crate::{
    assert_gone, clients, ctx_for, reads_back, unique, update_reads_back, us_west_2,
    validate_and_create,
};

/// An Auto Scaling group made directly (as a stack would), in us-west-2: min 1, max 4, desired 1.
async fn group(name: &str) {
    let asg = clients().autoscaling("us-west-2").await;
    let lc = format!("{name}-lc");
    asg.create_launch_configuration()
        .launch_configuration_name(&lc)
        .image_id("ami-12345678")
        .instance_type("t3.micro")
        .send()
        .await
        .unwrap();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(&lc)
        .min_size(1)
        .max_size(4)
        .desired_capacity(1)
        .availability_zones("us-west-2a")
        .send()
        .await
        .unwrap();
}

async fn live(name: &str) -> (i32, i32, i32) {
    let asg = clients().autoscaling("us-west-2").await;
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .unwrap();
    let g = &out.auto_scaling_groups()[0];
    (
        g.min_size().unwrap(),
        g.desired_capacity().unwrap(),
        g.max_size().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_capacity_scales_through_the_regional_api() {
    let p = GroupCapacityProvider::new(clients());
    let name = unique("asg");
    group(&name).await;
    let decl: ResourceDecl = GroupCapacity::new(&us_west_2(), "standby-web")
        .unwrap()
        .group_name(name.as_str())
        .desired_capacity(3)
        .into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    assert_eq!(created.id, name);
    assert_eq!(created.inputs, decl.inputs);
    assert_eq!(live(&name).await, (1, 3, 4));
    let read = reads_back(&p, &ctx, &name, &decl.inputs).await;
    assert_eq!(read.outputs.get("max_size"), Some(&Value::Int(4)));

    // Above the group's maximum: the maximum is raised so that AWS accepts it.
    let mut bigger = decl.inputs.clone();
    bigger.insert("desired_capacity".into(), Value::Int(6));
    update_reads_back(&p, &ctx, &name, &decl.inputs, &bigger).await;
    assert_eq!(live(&name).await, (1, 6, 6));

    // Scaled in to zero with a named minimum, read back in the same vocabulary.
    let mut zero = bigger.clone();
    zero.insert("desired_capacity".into(), Value::Int(0));
    zero.insert("min_size".into(), Value::Int(0));
    p.validate(&decl.addr, &zero).unwrap();
    update_reads_back(&p, &ctx, &name, &bigger, &zero).await;
    assert_eq!(live(&name).await, (0, 0, 6));
    assert_eq!(p.find(&ctx, &zero).await.unwrap().unwrap().id, name);

    // Delete leaves the group (it belongs to its stack) as it is.
    p.delete(&ctx, &name, &zero).await.unwrap();
    assert_eq!(live(&name).await, (0, 0, 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_capacity_of_a_missing_group_is_refused() {
    let p = GroupCapacityProvider::new(clients());
    let name = unique("asg-missing");
    let decl: ResourceDecl = GroupCapacity::new(&us_west_2(), "nothing")
        .unwrap()
        .group_name(name.as_str())
        .desired_capacity(2)
        .into();
    let ctx = ctx_for(&decl);
    let e = p.create(&ctx, &decl.inputs).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Invalid, "{e}");
    assert!(
        e.message.contains("autoscaling:DescribeAutoScalingGroups"),
        "{e}"
    );
    assert!(e.message.contains("does not exist in us-west-2"), "{e}");
    assert_gone(&p, &ctx, &name, &decl.inputs).await;
    assert!(p.find(&ctx, &decl.inputs).await.unwrap().is_none());
}
