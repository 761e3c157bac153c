//! Databases in their region's VPC: a DB subnet group, security groups and a TLS parameter group,
//! on the writer and on its cross-region replica, checked with `DescribeDBInstances` and
//! `DescribeDBParameters`.

use tandem_aws::cloudformation::StackProvider;
use tandem_aws::rds::{DbInstanceProvider, DbReadReplicaProvider};
use tandem_aws::rds_params::DbParameterGroupProvider;
use tandem_core::{Region, ResourceDecl, Value, map};
use tandem_engine::provider::Provider;
use tandem_schema::cloudformation::Stack;
use tandem_schema::rds::DbParameterGroup;

use crate::rds::{db, replica};
use crate::{
    clients, ctx_for, delete_for_good, reads_back, str_prop, unique, update_reads_back, us_east_1,
    us_west_2, validate_and_create,
};

/// A VPC with two private subnets, a database security group admitting PostgreSQL from the VPC
/// only, and a DB subnet group `subnet_group` over the two subnets (the regional template's shape,
/// small). Through CloudFormation: there is no EC2 SDK crate here.
fn network_template(subnet_group: &str) -> String {
    serde_json::json!({
        "Parameters": {"Cidr": {"Type": "String"}},
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Fn::Sub": "${Cidr}.0.0/16"}}},
            "Subnet1": {"Type": "AWS::EC2::Subnet", "Properties": {
                "VpcId": {"Ref": "Vpc"}, "CidrBlock": {"Fn::Sub": "${Cidr}.10.0/24"},
                "AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}}},
            "Subnet2": {"Type": "AWS::EC2::Subnet", "Properties": {
                "VpcId": {"Ref": "Vpc"}, "CidrBlock": {"Fn::Sub": "${Cidr}.11.0/24"},
                "AvailabilityZone": {"Fn::Select": [1, {"Fn::GetAZs": ""}]}}},
            "DbSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": "database", "VpcId": {"Ref": "Vpc"},
                "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                    "CidrIp": {"Fn::Sub": "${Cidr}.0.0/16"}, "Description": "PostgreSQL from the VPC"}]}},
            "DbSubnetGroup": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
                "DBSubnetGroupName": subnet_group, "DBSubnetGroupDescription": "private subnets",
                "SubnetIds": [{"Ref": "Subnet1"}, {"Ref": "Subnet2"}]}},
        },
        "Outputs": {
            "VpcId": {"Value": {"Ref": "Vpc"}},
            "DbSecurityGroupId": {"Value": {"Ref": "DbSecurityGroup"}},
        }
    })
    .to_string()
}

struct Network {
    decl: ResourceDecl,
    id: String,
    vpc: String,
    db_group: String,
}

async fn network(
    stacks: &StackProvider,
    region: &Region,
    cidr: &str,
    subnet_group: &str,
) -> Network {
    let decl: ResourceDecl = Stack::new(region, "network")
        .unwrap()
        .stack_name(unique("net").as_str())
        .template_body(network_template(subnet_group))
        .parameters(map([("Cidr", cidr)]))
        .into();
    let created = validate_and_create(stacks, &decl).await.unwrap();
    Network {
        vpc: str_prop(&created.outputs, "VpcId").to_string(),
        db_group: str_prop(&created.outputs, "DbSecurityGroupId").to_string(),
        id: created.id,
        decl,
    }
}

pub fn tls_group(region: &Region, name: &str) -> DbParameterGroup {
    DbParameterGroup::new(region, "postgres-tls")
        .unwrap()
        .name(name)
        .family("postgres16")
        .description("TLS required")
        .parameters(map([("rds.force_ssl", "1")]))
}

/// What RDS says of an instance: its subnet group and that group's VPC, its security groups, its
/// parameter group and engine version.
async fn placement(region: &str, id: &str) -> (String, String, Vec<String>, String, String) {
    let rds = clients().rds(region).await;
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap();
    let db = out.db_instances()[0].clone();
    let subnet = db.db_subnet_group().unwrap();
    (
        subnet
            .db_subnet_group_name()
            .unwrap_or_default()
            .to_string(),
        subnet.vpc_id().unwrap_or_default().to_string(),
        db.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect(),
        db.db_parameter_groups()[0]
            .db_parameter_group_name()
            .unwrap_or_default()
            .to_string(),
        db.engine_version().unwrap_or_default().to_string(),
    )
}

/// The parameters set on a parameter group, as RDS lists them.
async fn user_parameters(region: &str, name: &str) -> Vec<(String, String)> {
    let rds = clients().rds(region).await;
    let out = rds
        .describe_db_parameters()
        .db_parameter_group_name(name)
        .source("user")
        .send()
        .await
        .unwrap();
    out.parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_name().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_in_their_regions_vpc_with_tls_required() {
    let stacks = StackProvider::new(clients());
    let groups = DbParameterGroupProvider::new(clients());
    let primary = DbInstanceProvider::new(clients());
    let replicas = DbReadReplicaProvider::new(clients());
    // One subnet group name in both regions, as the regional template makes it.
    let subnet_group = unique("db-net");
    let east = network(&stacks, &us_east_1(), "10.61", &subnet_group).await;
    let west = network(&stacks, &us_west_2(), "10.62", &subnet_group).await;

    // The TLS parameter group of each region, one name in both as the program makes them; and
    // another in the replica's region, so that the replica is seen to be moved into its group
    // after its creation (it starts in the engine's default group on AWS; moto copies its
    // source's, and answers HTTP 500 when the replica's region has no group of that name).
    let pg_name = unique("pg-tls");
    let west_name = unique("pg-tls-west");
    let east_pg: ResourceDecl = tls_group(&us_east_1(), &pg_name).into();
    let west_pg: ResourceDecl = tls_group(&us_west_2(), &pg_name).into();
    let replica_pg: ResourceDecl = tls_group(&us_west_2(), &west_name).into();
    for (decl, name) in [
        (&east_pg, &pg_name),
        (&west_pg, &pg_name),
        (&replica_pg, &west_name),
    ] {
        let created = validate_and_create(&groups, decl).await.unwrap();
        assert_eq!(str_prop(&created.outputs, "name"), name.as_str());
        reads_back(&groups, &ctx_for(decl), &created.id, &decl.inputs).await;
    }
    assert_eq!(
        user_parameters("us-west-2", &west_name).await,
        [("rds.force_ssl".to_string(), "1".to_string())]
    );

    // The writer, in the east network, with the TLS group and a major version only.
    let id = unique("db-vpc");
    let decl: ResourceDecl = db("app-db", &id)
        .skip_final_snapshot(true)
        .engine_version("16")
        .db_subnet_group_name(subnet_group.as_str())
        .vpc_security_group_ids(vec![Value::str(&east.db_group)])
        .db_parameter_group_name(pg_name.as_str())
        .into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&primary, &decl).await.unwrap();
    let (group, vpc, sgs, params, version) = placement("us-east-1", &id).await;
    assert_eq!(group, subnet_group);
    assert_eq!(vpc, east.vpc, "the writer is in its region's VPC");
    assert_eq!(sgs, vec![east.db_group.clone()]);
    assert_eq!(params, pg_name);
    assert!(version == "16" || version.starts_with("16."), "{version}");
    reads_back(&primary, &ctx, &id, &decl.inputs).await;

    // The replica, in the west network, with its region's groups; its parameter group is
    // associated after the creation (AWS refuses one in CreateDBInstanceReadReplica for
    // PostgreSQL).
    let rep_id = unique("db-vpc-rep");
    let rep: ResourceDecl = replica(&rep_id, str_prop(&created.outputs, "arn"))
        .db_subnet_group_name(subnet_group.as_str())
        .vpc_security_group_ids(vec![Value::str(&west.db_group)])
        .db_parameter_group_name(west_name.as_str())
        .into();
    let rep_ctx = ctx_for(&rep);
    validate_and_create(&replicas, &rep).await.unwrap();
    let (group, _vpc, sgs, params, _) = placement("us-west-2", &rep_id).await;
    // (moto resolves a cross-region replica's subnet group in the source's region, so its VPC
    // there is not the replica region's: not asserted.)
    assert_eq!(group, subnet_group);
    assert_eq!(
        sgs,
        vec![west.db_group.clone()],
        "the replica is in its region's group"
    );
    assert_eq!(
        params, west_name,
        "the replica is in its region's parameter group"
    );
    reads_back(&replicas, &rep_ctx, &rep_id, &rep.inputs).await;

    // A parameter added in place.
    let mut more = west_pg.inputs.clone();
    more.insert(
        "parameters".into(),
        map([("log_connections", "1"), ("rds.force_ssl", "1")]),
    );
    let west_ctx = ctx_for(&west_pg);
    update_reads_back(&groups, &west_ctx, &pg_name, &west_pg.inputs, &more).await;
    let mut listed = user_parameters("us-west-2", &pg_name).await;
    listed.sort();
    assert_eq!(
        listed,
        [
            ("log_connections".to_string(), "1".to_string()),
            ("rds.force_ssl".to_string(), "1".to_string())
        ]
    );

    // A parameter group of another resource is not adopted.
    let other: ResourceDecl = tls_group(&us_east_1(), &pg_name).into();
    let mut foreign = ctx_for(&other);
    foreign.addr = "us-east-1/rds:DbParameterGroup/someone-else"
        .parse()
        .unwrap();
    let e = groups.create(&foreign, &other.inputs).await.unwrap_err();
    assert!(e.message.contains("belongs to another resource"), "{e}");

    delete_for_good(&replicas, &rep_ctx, &rep_id, &rep.inputs).await;
    delete_for_good(&primary, &ctx, &id, &decl.inputs).await;
    delete_for_good(&groups, &west_ctx, &pg_name, &more).await;
    delete_for_good(
        &groups,
        &ctx_for(&replica_pg),
        &west_name,
        &replica_pg.inputs,
    )
    .await;
    delete_for_good(&groups, &ctx_for(&east_pg), &pg_name, &east_pg.inputs).await;
    for net in [east, west] {
        delete_for_good(&stacks, &ctx_for(&net.decl), &net.id, &net.decl.inputs).await;
    }
}
