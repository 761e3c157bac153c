use tandem_aws::cloudformation::{
    StackInstanceProvider, StackProvider, StackSetLocks, StackSetProvider,
};
use tandem_core::{ResourceDecl, map};
use tandem_engine::provider::Provider;
use tandem_schema::cloudformation::{Stack, StackInstance, StackSet};

use crate::{
    assert_gone, clients, ctx_for, delete_for_good, reads_back, str_prop, unique, us_east_1,
    us_west_2, validate_and_create,
};

/// A stack set named `name` of [`TEMPLATE`] in us-east-1, with the default roles.
pub fn stack_set(name: &str) -> ResourceDecl {
    StackSet::new(&us_east_1(), "app")
        .unwrap()
        .stack_set_name(name)
        .template_body(TEMPLATE)
        .administration_role_arn(
            "arn:aws:iam::123456789012:role/AWSCloudFormationStackSetAdministrationRole",
        )
        .execution_role_name("AWSCloudFormationStackSetExecutionRole")
        .into()
}

const TEMPLATE: &str = r#"{
  "Parameters": {"Cidr": {"Type": "String", "Default": "10.0.0.0/16"}},
  "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "Cidr"}}}},
  "Outputs": {"VpcId": {"Value": {"Ref": "Vpc"}}, "Cidr": {"Value": {"Ref": "Cidr"}}}
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_lifecycle_with_outputs() {
    let p = StackProvider::new(clients());
    let name = unique("st");
    let decl: ResourceDecl = Stack::new(&us_east_1(), "net")
        .unwrap()
        .stack_name(name.as_str())
        .template_body(TEMPLATE)
        .parameters(map([("Cidr", "10.9.0.0/16")]))
        .into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    assert_eq!(str_prop(&created.outputs, "Cidr"), "10.9.0.0/16");
    assert!(str_prop(&created.outputs, "VpcId").starts_with("vpc-"));
    reads_back(&p, &ctx, &name, &decl.inputs).await;

    let mut new = decl.inputs.clone();
    new.insert("parameters".into(), map([("Cidr", "10.8.0.0/16")]));
    let updated = p.update(&ctx, &name, &decl.inputs, &new).await.unwrap();
    assert_eq!(updated.inputs.get("parameters"), new.get("parameters"));

    delete_for_good(&p, &ctx, &name, &new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_set_with_instances_in_both_regions() {
    let locks = StackSetLocks::new();
    let sets = StackSetProvider::new(clients(), locks.clone());
    let instances = StackInstanceProvider::new(clients(), locks);
    let name = unique("ss");
    let set = stack_set(&name);
    let set_ctx = ctx_for(&set);
    let created = validate_and_create(&sets, &set).await.unwrap();
    assert_eq!(str_prop(&created.outputs, "admin_region"), "us-east-1");
    reads_back(&sets, &set_ctx, &name, &set.inputs).await;

    let instance = |region: &tandem_core::Region, cidr: &str| -> ResourceDecl {
        StackInstance::new(region, "app")
            .unwrap()
            .stack_set_name(name.as_str())
            .admin_region("us-east-1")
            .parameter_overrides(map([("Cidr", cidr)]))
            .region_concurrency("SEQUENTIAL")
            .into()
    };
    let primary = instance(&us_east_1(), "10.1.0.0/16");
    let secondary = instance(&us_west_2(), "10.2.0.0/16");
    let p_obs = validate_and_create(&instances, &primary).await.unwrap();
    let s_obs = validate_and_create(&instances, &secondary).await.unwrap();
    // Each region's stack got its own override, and its outputs are the resource's outputs.
    assert_eq!(str_prop(&p_obs.outputs, "Cidr"), "10.1.0.0/16");
    assert_eq!(str_prop(&s_obs.outputs, "Cidr"), "10.2.0.0/16");
    assert!(str_prop(&s_obs.outputs, "VpcId").starts_with("vpc-"));
    assert_ne!(
        str_prop(&p_obs.outputs, "VpcId"),
        str_prop(&s_obs.outputs, "VpcId")
    );
    assert!(p_obs.id.ends_with("/us-east-1") && s_obs.id.ends_with("/us-west-2"));
    let s_ctx = ctx_for(&secondary);
    reads_back(&instances, &s_ctx, &s_obs.id, &secondary.inputs).await;

    // A per-region override changes in place.
    let mut new = secondary.inputs.clone();
    new.insert("parameter_overrides".into(), map([("Cidr", "10.3.0.0/16")]));
    instances
        .update(&s_ctx, &s_obs.id, &secondary.inputs, &new)
        .await
        .unwrap();
    let read = instances
        .read(&s_ctx, &s_obs.id, &new)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.inputs.get("parameter_overrides"),
        new.get("parameter_overrides")
    );

    // The set cannot go while it has instances: a clear error.
    let e = sets.delete(&set_ctx, &name, &set.inputs).await.unwrap_err();
    assert!(e.message.contains("cloudformation:DeleteStackSet"), "{e}");

    instances.delete(&s_ctx, &s_obs.id, &new).await.unwrap();
    instances
        .delete(&ctx_for(&primary), &p_obs.id, &primary.inputs)
        .await
        .unwrap();
    assert_gone(&instances, &s_ctx, &s_obs.id, &new).await;
    instances.delete(&s_ctx, &s_obs.id, &new).await.unwrap();
    sets.delete(&set_ctx, &name, &set.inputs).await.unwrap();
    assert_gone(&sets, &set_ctx, &name, &set.inputs).await;
}
