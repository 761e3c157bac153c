//! The program: the seed's architecture, declared from the environment and the posture.

use std::collections::BTreeMap;

use tandem_core::{Program, ProgramError, Region, ResourceOptions, StackBuilder, Value, map};
use tandem_schema::{
    autoscaling, cloudformation, cloudwatch, rds, regions, route53, s3, secretsmanager,
};

use tandem_posture::{DbKind, Posture};

use crate::config::Environment;
use crate::template::{
    self, HEALTH_PATH, ROUTE53_FAILURE_THRESHOLD, ROUTE53_REQUEST_INTERVAL_SECONDS,
    regional_template,
};

/// The PostgreSQL major version the databases run (RDS picks and upgrades the minor), and with it
/// the family of their parameter group: the two must agree, or RDS refuses the group.
pub const POSTGRES_MAJOR_VERSION: &str = "16";

/// The name of this stack, used in state paths and tags.
pub const STACK_NAME: &str = "multi-region";

/// The multi-region stack for one environment, in one failover posture.
pub struct MultiRegion {
    env: Environment,
    posture: Posture,
}

/// The VPC CIDR of the environment's first (primary) and second (secondary) region: distinct, so
/// that the peered VPCs route to each other.
fn network(index: usize) -> (String, [String; 2], [String; 2]) {
    let b = 10 + 10 * index;
    (
        format!("10.{b}.0.0/16"),
        [format!("10.{b}.0.0/24"), format!("10.{b}.1.0/24")],
        [format!("10.{b}.10.0/24"), format!("10.{b}.11.0/24")],
    )
}

impl MultiRegion {
    pub fn new(env: Environment, posture: Posture) -> MultiRegion {
        MultiRegion { env, posture }
    }

    pub fn posture(&self) -> &Posture {
        &self.posture
    }

    /// The environment's regions in order: primary, secondary.
    fn regions(&self) -> [&str; 2] {
        [&self.env.primary_region, &self.env.secondary_region]
    }

    /// Globally unique, deterministic bucket name of a region's assets bucket.
    pub fn bucket_name(&self, region: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.env.domain_name.as_bytes());
        let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("tandem-{}-assets-{region}-{short}", self.env.name)
    }

    pub fn stack_set_name(&self) -> String {
        format!("tandem-{}-baseline", self.env.name)
    }

    /// The name of the databases' parameter group (the same in both regions): PostgreSQL's major
    /// version in it, so that another major is another group.
    pub fn db_parameter_group_name(&self) -> String {
        format!(
            "tandem-{}-postgres{POSTGRES_MAJOR_VERSION}-tls",
            self.env.name
        )
    }

    /// The DB instance identifier of a database member: `app-db` → `tandem-<env>-app`.
    pub fn db_identifier(&self, member: &str) -> String {
        crate::topology::db_identifier(&self.env, member)
    }
}

fn first_region_of(env: &Environment) -> &str {
    &env.primary_region
}

impl MultiRegion {
    /// Parameters shared by both regions.
    fn common_parameters(&self) -> BTreeMap<String, Value> {
        let (env, sizes) = (&self.env, &self.env.sizes);
        let mut common = BTreeMap::new();
        common.insert("EnvName".to_string(), Value::str(&env.name));
        common.insert("InstanceType".to_string(), Value::str(&sizes.instance_type));
        common.insert("MinSize".to_string(), Value::str("0"));
        common.insert(
            "MaxSize".to_string(),
            Value::str(sizes.max_capacity.to_string()),
        );
        common.insert(
            "HttpOnly".to_string(),
            Value::str(if env.http_only { "true" } else { "false" }),
        );
        common.insert(
            "VpcPeering".to_string(),
            Value::str(if env.vpc_peering { "true" } else { "false" }),
        );
        common.insert(
            "LocalCloud".to_string(),
            Value::str(if env.local_cloud.is_some() {
                "true"
            } else {
                "false"
            }),
        );
        if let Some(p) = &sizes.image_parameter {
            common.insert("ImageId".to_string(), Value::str(p));
        }
        common
    }

    /// Every parameter of one region's instance: the common ones and the regional ones.
    fn instance_parameters(
        &self,
        name: &str,
        common: &BTreeMap<String, Value>,
    ) -> BTreeMap<String, Value> {
        let env = &self.env;
        let index = usize::from(name != env.primary_region);
        let peer = env.other_region(name);
        let (cidr, public, private) = network(index);
        let (peer_cidr, _, _) = network(1 - index);
        let mut p = common.clone();
        let mut set = |k: &str, v: String| {
            p.insert(k.to_string(), Value::str(v));
        };
        set("VpcCidr", cidr);
        set("PeerVpcCidr", peer_cidr);
        set("PublicSubnetCidrs", public.join(","));
        set("PrivateSubnetCidrs", private.join(","));
        set("AssetsBucketName", self.bucket_name(name));
        set("PeerAssetsBucketName", self.bucket_name(peer));
        set("PeerRegion", peer.to_string());
        set(
            "CertificateArn",
            env.certificates.get(name).cloned().unwrap_or_default(),
        );
        p
    }
}

/// The peering templates: the requester side (the connection and its route) or the accepter's
/// route. Same account: the connection is accepted by CloudFormation.
fn peering_template(requester: bool) -> String {
    let t = if requester {
        serde_json::json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "Tandem: cross-region VPC peering, requester side",
            "Parameters": {
                "VpcId": {"Type": "String"}, "PeerVpcId": {"Type": "String"},
                "PeerRegion": {"Type": "String"}, "RouteTableId": {"Type": "String"},
                "PeerCidr": {"Type": "String"},
            },
            "Resources": {
                "Peering": {"Type": "AWS::EC2::VPCPeeringConnection", "Properties": {
                    "VpcId": {"Ref": "VpcId"}, "PeerVpcId": {"Ref": "PeerVpcId"},
                    "PeerRegion": {"Ref": "PeerRegion"}}},
                "RouteToPeer": {"Type": "AWS::EC2::Route", "Properties": {
                    "RouteTableId": {"Ref": "RouteTableId"}, "DestinationCidrBlock": {"Ref": "PeerCidr"},
                    "VpcPeeringConnectionId": {"Ref": "Peering"}}},
            },
            "Outputs": {"PeeringConnectionId": {"Value": {"Ref": "Peering"}}},
        })
    } else {
        serde_json::json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "Tandem: cross-region VPC peering, accepter side route",
            "Parameters": {
                "PeeringConnectionId": {"Type": "String"}, "RouteTableId": {"Type": "String"},
                "PeerCidr": {"Type": "String"},
            },
            "Resources": {
                "RouteToPeer": {"Type": "AWS::EC2::Route", "Properties": {
                    "RouteTableId": {"Ref": "RouteTableId"}, "DestinationCidrBlock": {"Ref": "PeerCidr"},
                    "VpcPeeringConnectionId": {"Ref": "PeeringConnectionId"}}},
            },
        })
    };
    serde_json::to_string_pretty(&t).expect("template serializes")
}

fn region(name: &str) -> Result<Region, ProgramError> {
    Region::parse(name).map_err(|e| ProgramError(e.to_string()))
}

fn err(e: impl std::fmt::Display) -> ProgramError {
    ProgramError(e.to_string())
}

/// What the stack set's execution role may do: create, read, update and delete what the regional
/// template declares, and nothing else. Each action list is the union of the CloudFormation
/// registry handler permissions (create, read, update, delete) of the template's resource types of
/// that service: every read, and the writes less those of features the template does not use (VPN
/// gateways, VPC encryption controls and tenancy, load balancer capacity reservations and IP
/// pools, log delivery, bearer tokens, data-protection, index and resource policies of log groups,
/// managed policies and permissions boundaries of roles); `tests/lint_template.sh` checks the
/// lists against the schemas cfn-lint ships.
/// Resources: the account's own, and where names are known, by name: the template's roles and
/// instance profile under their IAM path, the log group and the access-log bucket by their
/// prefixes, the DB subnet group by name, the region keys of the account. EC2, Elastic Load
/// Balancing and Auto Scaling name their resources with random ids, and their `Describe*`
/// actions take no resource: those grants are by action only.
const EXECUTION_EC2_ACTIONS: &[&str] = &[
    "ec2:AssociateRouteTable",
    "ec2:AssociateSubnetCidrBlock",
    "ec2:AttachInternetGateway",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateInternetGateway",
    "ec2:CreateLaunchTemplate",
    "ec2:CreateLaunchTemplateVersion",
    "ec2:CreateRoute",
    "ec2:CreateRouteTable",
    "ec2:CreateSecurityGroup",
    "ec2:CreateSubnet",
    "ec2:CreateTags",
    "ec2:CreateVpc",
    "ec2:CreateVpcEndpoint",
    "ec2:DeleteInternetGateway",
    "ec2:DeleteLaunchTemplate",
    "ec2:DeleteRoute",
    "ec2:DeleteRouteTable",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteSubnet",
    "ec2:DeleteTags",
    "ec2:DeleteVpc",
    "ec2:DeleteVpcEndpoints",
    "ec2:Describe*",
    "ec2:DetachInternetGateway",
    "ec2:DisassociateRouteTable",
    "ec2:DisassociateSubnetCidrBlock",
    // The Auto Scaling group's handler asks for `ec2:Get*`; these are the reads it can make of
    // what the template declares. Not `ec2:Get*`: it holds `ec2:GetPasswordData` (credentials).
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "ec2:GetLaunchTemplateData",
    "ec2:GetSecurityGroupsForVpc",
    "ec2:ModifySubnetAttribute",
    "ec2:ModifyVpcAttribute",
    "ec2:ModifyVpcEndpoint",
    "ec2:ReplaceRoute",
    "ec2:ReplaceRouteTableAssociation",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    // Auto Scaling checks that the caller may launch the launch template's instances.
    "ec2:RunInstances",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
];
const EXECUTION_ELB_ACTIONS: &[&str] = &[
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:Describe*",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:RemoveTags",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
];
const EXECUTION_AUTOSCALING_ACTIONS: &[&str] = &[
    "autoscaling:AttachLoadBalancerTargetGroups",
    "autoscaling:AttachLoadBalancers",
    "autoscaling:AttachTrafficSources",
    "autoscaling:CancelInstanceRefresh",
    "autoscaling:CreateAutoScalingGroup",
    "autoscaling:CreateOrUpdateTags",
    "autoscaling:DeleteAutoScalingGroup",
    "autoscaling:DeleteLifecycleHook",
    "autoscaling:DeleteNotificationConfiguration",
    "autoscaling:DeleteTags",
    "autoscaling:Describe*",
    "autoscaling:DetachLoadBalancerTargetGroups",
    "autoscaling:DetachLoadBalancers",
    "autoscaling:DetachTrafficSources",
    "autoscaling:DisableMetricsCollection",
    "autoscaling:EnableMetricsCollection",
    "autoscaling:PutLifecycleHook",
    "autoscaling:PutNotificationConfiguration",
    "autoscaling:ResumeProcesses",
    "autoscaling:StartInstanceRefresh",
    "autoscaling:SuspendProcesses",
    "autoscaling:UpdateAutoScalingGroup",
];
/// On the account's keys (`kms:CreateKey` takes no resource: its own statement).
const EXECUTION_KMS_KEY_ACTIONS: &[&str] = &[
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
];
/// On the environment's log groups (the reads that take no log group: their own statement).
const EXECUTION_LOGS_ACTIONS: &[&str] = &[
    "logs:AssociateKmsKey",
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:DeleteRetentionPolicy",
    "logs:DisassociateKmsKey",
    "logs:ListTagsForResource",
    "logs:PutRetentionPolicy",
    "logs:TagResource",
    "logs:UntagResource",
];
/// On the template's roles and instance profile, under their IAM path. No `iam:AttachRolePolicy`
/// nor permissions boundary: the template's roles have inline policies only, and a managed policy
/// (AdministratorAccess, say) attached to a role the execution role may pass is what must not
/// happen.
const EXECUTION_IAM_ACTIONS: &[&str] = &[
    "iam:AddRoleToInstanceProfile",
    "iam:CreateInstanceProfile",
    "iam:CreateRole",
    "iam:DeleteInstanceProfile",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:GetInstanceProfile",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:PutRolePolicy",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
];
const EXECUTION_RDS_ACTIONS: &[&str] = &[
    "rds:AddTagsToResource",
    "rds:CreateDBSubnetGroup",
    "rds:DeleteDBSubnetGroup",
    "rds:DescribeDBSubnetGroups",
    "rds:ListTagsForResource",
    "rds:ModifyDBSubnetGroup",
    "rds:RemoveTagsFromResource",
];

/// The execution role's policy: see [`EXECUTION_EC2_ACTIONS`]. No statement allows every action,
/// and none `*` on every resource.
fn execution_policy() -> serde_json::Value {
    let arn =
        |rest: &str| serde_json::json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:{rest}")});
    let iam_path = template::IAM_PATH;
    let log_group = template::LOG_GROUP_NAME.rsplit_once('/').unwrap().0;
    let bucket = template::ACCESS_LOG_BUCKET_PREFIX;
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            // The stack set's stacks: `StackSet-<stack set name>-<id>` in each region.
            {"Sid": "StackSetStacks", "Effect": "Allow", "Action": "cloudformation:*",
             "Resource": arn("cloudformation:*:${AWS::AccountId}:stack/StackSet-tandem-${EnvName}-baseline-*")},
            {"Sid": "Network", "Effect": "Allow", "Action": EXECUTION_EC2_ACTIONS, "Resource": "*"},
            {"Sid": "LoadBalancing", "Effect": "Allow", "Action": EXECUTION_ELB_ACTIONS, "Resource": "*"},
            {"Sid": "AutoScaling", "Effect": "Allow", "Action": EXECUTION_AUTOSCALING_ACTIONS, "Resource": "*"},
            {"Sid": "CreateRegionKey", "Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*"},
            {"Sid": "ManageRegionKey", "Effect": "Allow", "Action": EXECUTION_KMS_KEY_ACTIONS,
             "Resource": arn("kms:*:${AWS::AccountId}:key/*")},
            // What the log group's handler reads back besides (read only).
            {"Sid": "LogGroupReads", "Effect": "Allow",
             "Action": [
                 "logs:DescribeIndexPolicies", "logs:DescribeLogGroups",
                 "logs:DescribeResourcePolicies", "logs:GetDataProtectionPolicy",
             ],
             "Resource": "*"},
            {"Sid": "LogGroup", "Effect": "Allow", "Action": EXECUTION_LOGS_ACTIONS,
             "Resource": [
                 arn(&format!("logs:*:${{AWS::AccountId}}:log-group:{log_group}/*")),
                 arn(&format!("logs:*:${{AWS::AccountId}}:log-group:{log_group}/*:*")),
             ]},
            {"Sid": "TemplateRoles", "Effect": "Allow", "Action": EXECUTION_IAM_ACTIONS,
             "Resource": [
                 arn(&format!("iam::${{AWS::AccountId}}:role{iam_path}*")),
                 arn(&format!("iam::${{AWS::AccountId}}:instance-profile{iam_path}*")),
             ]},
            {"Sid": "PassTemplateRoles", "Effect": "Allow", "Action": "iam:PassRole",
             "Resource": arn(&format!("iam::${{AWS::AccountId}}:role{iam_path}*"))},
            // The first Auto Scaling group, load balancer or DB subnet group of an account makes
            // the service's linked role.
            {"Sid": "ServiceLinkedRoles", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
             "Resource": arn("iam::${AWS::AccountId}:role/aws-service-role/*"),
             "Condition": {"StringEquals": {"iam:AWSServiceName": [
                 "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com",
             ]}}},
            {"Sid": "AccessLogBucket", "Effect": "Allow", "Action": "s3:*",
             "Resource": [
                 arn(&format!("s3:::{bucket}*")),
                 arn(&format!("s3:::{bucket}*/*")),
             ]},
            {"Sid": "DbSubnetGroup", "Effect": "Allow", "Action": EXECUTION_RDS_ACTIONS,
             "Resource": arn("rds:*:${AWS::AccountId}:subgrp:tandem-${EnvName}-db")},
            // The `ImageId` parameter: the public AMI parameters, or one of the account's.
            {"Sid": "ReadImageParameter", "Effect": "Allow",
             "Action": ["ssm:GetParameter", "ssm:GetParameters"],
             "Resource": [
                 arn("ssm:*::parameter/aws/service/*"),
                 arn("ssm:*:${AWS::AccountId}:parameter/*"),
             ]},
        ]
    })
}

/// The template creating the two roles of a self-managed stack set, named per environment: the
/// administration role (CloudFormation's) may assume only this environment's execution role in
/// this account, and the execution role trusts only the administration role and may do only what
/// the regional template needs ([`execution_policy`]).
pub fn stackset_roles_template() -> String {
    let t = serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Tandem: the roles of the environment's self-managed stack set (named per environment, so that several environments share an account)",
        "Parameters": {"EnvName": {"Type": "String"}},
        "Resources": {
            "AdministrationRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Fn::Sub": "tandem-${EnvName}-StackSetAdministration"},
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudformation.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]},
                    "Policies": [{"PolicyName": "AssumeExecutionRole", "PolicyDocument": {
                        "Version": "2012-10-17", "Statement": [{
                            "Effect": "Allow", "Action": "sts:AssumeRole",
                            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/tandem-${EnvName}-StackSetExecution"}}]}}],
                }
            },
            "ExecutionRole": {
                "Type": "AWS::IAM::Role",
                "Metadata": {"checkov": {"skip": [
                    {"id": "CKV_AWS_111", "comment": "EC2, Elastic Load Balancing and Auto Scaling give the template's resources random ids, so that their writes cannot name them in advance; each is a listed action the resource types' CloudFormation handlers need, none a service wildcard, and every named resource (roles, log group, buckets, keys, subnet group) is scoped by name"},
                ]}},
                "Properties": {
                    "RoleName": {"Fn::Sub": "tandem-${EnvName}-StackSetExecution"},
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"AWS": {"Fn::GetAtt": ["AdministrationRole", "Arn"]}},
                        "Action": "sts:AssumeRole"}]},
                    "Policies": [{"PolicyName": "RegionalBaseline", "PolicyDocument": execution_policy()}],
                }
            },
        },
        "Outputs": {
            "AdministrationRoleArn": {"Value": {"Fn::GetAtt": ["AdministrationRole", "Arn"]}},
            "ExecutionRoleName": {"Value": {"Ref": "ExecutionRole"}},
        }
    });
    serde_json::to_string_pretty(&t).expect("template serializes")
}

impl Program for MultiRegion {
    fn name(&self) -> &str {
        STACK_NAME
    }

    fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(format!("{:?}{:?}", self.env, self.posture).as_bytes());
        h.update(regional_template().as_bytes());
        let d = h.finalize();
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn run(&self, stack: &mut StackBuilder) -> Result<(), ProgramError> {
        let env = &self.env;
        let sizes = &env.sizes;
        let global = Region::Global;
        // The stack set's definition and the roles it uses are account-level: they run in the
        // global wave, in the administration region (their `region` input).
        let admin = env.stackset_admin_region.as_str();
        let stateful = ResourceOptions {
            protect: env.protect_stateful,
            ..ResourceOptions::default()
        };

        // The stack set and its roles, in the administration region.
        let roles = stack.declare(
            cloudformation::Stack::new(&global, "stackset-roles")
                .map_err(err)?
                .set("region", admin)
                .stack_name(format!("tandem-{}-stackset-roles", env.name))
                .template_body(stackset_roles_template())
                .parameters(map([("EnvName", Value::str(&env.name))]))
                .capabilities(vec!["CAPABILITY_NAMED_IAM"]),
        );
        let common = self.common_parameters();
        let stack_set = stack.declare(
            cloudformation::StackSet::new(&global, "baseline")
                .map_err(err)?
                .set("region", admin)
                .stack_set_name(self.stack_set_name())
                .description("Tandem regional baseline")
                .template_body(regional_template())
                .parameters(Value::Map(
                    self.instance_parameters(first_region_of(env), &common),
                ))
                .administration_role_arn(roles.output("AdministrationRoleArn"))
                .execution_role_name(roles.output("ExecutionRoleName"))
                .capabilities(vec!["CAPABILITY_IAM"]),
        );

        let [first, second] = self.regions();
        let mut instances = BTreeMap::new();
        let mut buckets = BTreeMap::new();
        let mut db_parameters = BTreeMap::new();
        for name in [first, second] {
            let r = region(name)?;
            // Every parameter, not only the regional ones: the local cloud applies overrides
            // instead of the stack set's values rather than on top of them.
            let overrides = self.instance_parameters(name, &common);
            let instance = stack.declare(
                cloudformation::StackInstance::new(&r, "baseline")
                    .map_err(err)?
                    .stack_set_name(stack_set.output("stack_set_name"))
                    .admin_region(env.stackset_admin_region.as_str())
                    .set(
                        "account",
                        env.account_id.clone().map_or(Value::Null, Value::String),
                    )
                    .parameter_overrides(Value::Map(overrides))
                    .region_concurrency("SEQUENTIAL"),
            );
            let bucket = stack.declare(
                s3::Bucket::new(&r, "assets")
                    .map_err(err)?
                    .bucket(self.bucket_name(name))
                    .versioning(true)
                    .kms_key_arn(instance.output("KmsKeyArn"))
                    .block_public_access(true)
                    .deny_insecure_transport(true)
                    .force_destroy(!env.protect_stateful)
                    .options(stateful.clone()),
            );
            instances.insert(name.to_string(), instance);
            buckets.insert(name.to_string(), bucket);
            // The databases' parameter group of this region: TLS required (`rds.force_ssl`; RDS
            // User Guide, "Using SSL with a PostgreSQL DB instance"). Through the RDS API, not the
            // template: see template.rs.
            let parameters = stack.declare(
                rds::DbParameterGroup::new(&r, "postgres-tls")
                    .map_err(err)?
                    .name(self.db_parameter_group_name())
                    .family(format!("postgres{POSTGRES_MAJOR_VERSION}"))
                    .description(format!(
                        "tandem {}: PostgreSQL {POSTGRES_MAJOR_VERSION}, TLS required",
                        env.name
                    ))
                    .parameters(map([("rds.force_ssl", "1")])),
            );
            db_parameters.insert(name.to_string(), parameters);
        }
        let posture = &self.posture;

        let inst = |r: &str| &instances[r];

        // Capacity follows the posture: the primary's size where the application serves, the
        // standby's elsewhere, none where a failback has quiesced it. Owned by this resource, not
        // by the stack set's template, so that a failover scales the standby through its own
        // region's API (the stack set's administration region may be the one that is down).
        for name in [first, second] {
            let desired = if posture.is_quiesced(name) {
                0
            } else if posture.serves(name) {
                sizes.primary_desired_capacity
            } else {
                sizes.standby_desired_capacity
            };
            stack.declare(
                autoscaling::GroupCapacity::new(&region(name)?, "app")
                    .map_err(err)?
                    .group_name(inst(name).output("AutoScalingGroupName"))
                    .desired_capacity(i64::from(desired)),
            );
        }

        // Cross-region VPC peering, so that traffic between the regions stays private: the
        // connection and the primary's route in the primary region, the secondary's route there.
        // The local cloud cannot create cross-region peering through CloudFormation.
        if env.vpc_peering {
            let (first_cidr, _, _) = network(0);
            let (second_cidr, _, _) = network(1);
            let peering = stack.declare(
                cloudformation::Stack::new(&region(first)?, "vpc-peering")
                    .map_err(err)?
                    .stack_name(format!("tandem-{}-vpc-peering", env.name))
                    .template_body(peering_template(true))
                    .parameters(map([
                        ("VpcId", inst(first).output("VpcId")),
                        ("PeerVpcId", inst(second).output("VpcId")),
                        ("PeerRegion", Value::str(second)),
                        ("RouteTableId", inst(first).output("PrivateRouteTableId")),
                        ("PeerCidr", Value::str(&second_cidr)),
                    ])),
            );
            stack.declare(
                cloudformation::Stack::new(&region(second)?, "vpc-peering-routes")
                    .map_err(err)?
                    .stack_name(format!("tandem-{}-vpc-peering-routes", env.name))
                    .template_body(peering_template(false))
                    .parameters(map([
                        ("PeeringConnectionId", peering.output("PeeringConnectionId")),
                        ("RouteTableId", inst(second).output("PrivateRouteTableId")),
                        ("PeerCidr", Value::str(&first_cidr)),
                    ])),
            );
        }

        // Replication from the active region's bucket to the standby's (reversed by a failover once
        // the old region answers again).
        let source = posture.replication_source();
        let destination = env.other_region(source);
        stack.declare(
            s3::BucketReplication::new(&region(source)?, "assets")
                .map_err(err)?
                .bucket(buckets[source].output("bucket"))
                .role_arn(inst(source).output("ReplicationRoleArn"))
                .destination_bucket_arn(buckets[destination].output("arn"))
                .replica_kms_key_id(inst(destination).output("KmsKeyArn"))
                .sse_kms_encrypted_objects(true)
                .delete_marker_replication(true)
                .replication_time_control(env.replication_time_control),
        );

        // The databases, as the posture lays them out: the writer, its cross-region replica, and
        // fenced former writers kept until a failback replaces them.
        //
        // No writer, current or former, is deleted without a final snapshot: the provider names
        // it `<identifier>-final-<yyyymmddhhmmss>` at the deletion (a stable input, a new name at
        // each), and RDS keeps it until it is deleted. A replica takes one only once promoted
        // (AWS refuses a final snapshot of a read replica). A fenced instance is moved into its
        // region's fence security group (no ingress) before it is stopped, so that it stays
        // unreachable when AWS starts it again after seven days.
        //
        // Every member is in its own region's VPC: that stack instance's DB subnet group and
        // database security group (a replica's in the replica's region: RDS takes a subnet group
        // of the region it creates the instance in), with which the fence group shares the VPC;
        // and its region's TLS parameter group.
        //
        // The master credentials live in a Secrets Manager secret Tandem manages, never in one RDS
        // manages (`ManageMasterUserPassword`: RDS makes no cross-region replica of such an
        // instance, and its secret lives in one region only). The secret is made where the first
        // writer is, the environment's primary region, with that region's key, and replicated to
        // the other with the other's key; it stays there whatever the posture (moving it would
        // mean a new password), so after a failover the promoted writer's credentials are read in
        // its own region, from the replica: the outputs name both regions' ARNs. The replica is a
        // resource of its own region (it needs that region's key), so that the secret, and the
        // DB instance reading it, stay in the primary region's wave. A DB instance reads its
        // password from the secret as its region holds it when it is created; replicas take
        // theirs from their source. `db_password_generation` rotates: a new value, then the
        // instance's `ModifyDBInstance` (a fenced former writer keeps its recorded generation).
        let db_secret = stack.declare(
            secretsmanager::DatabaseSecret::new(&region(first)?, "app-db")
                .map_err(err)?
                .name(format!("tandem/{}/database", env.name))
                .kms_key_id(inst(first).output("KmsKeyArn"))
                .username("tandem")
                .password_generation(i64::from(sizes.db_password_generation))
                .options(stateful.clone()),
        );
        let db_secret_replica = stack.declare(
            secretsmanager::SecretReplica::new(&region(second)?, "app-db")
                .map_err(err)?
                .secret_arn(db_secret.output("arn"))
                .kms_key_id(inst(second).output("KmsKeyArn"))
                .options(stateful.clone()),
        );
        let secret_arn_in = |r: &str| {
            if r == first {
                db_secret.output("arn")
            } else {
                db_secret_replica.output("arn")
            }
        };
        let mut dbs: BTreeMap<String, tandem_core::Resource> = BTreeMap::new();
        for member in posture.db_members() {
            let r = region(&member.region)?;
            let key = inst(&member.region).output("KmsKeyArn");
            let fence_group = inst(&member.region).output("DbFenceSecurityGroupId");
            let subnet_group = inst(&member.region).output("DbSubnetGroupName");
            let db_groups = vec![inst(&member.region).output("DbSecurityGroupId")];
            let parameter_group = db_parameters[&member.region].output("name");
            let identifier = self.db_identifier(&member.name);
            let handle = match member.kind {
                DbKind::Instance => stack.declare(
                    rds::DbInstance::new(&r, &member.name)
                        .map_err(err)?
                        .identifier(identifier)
                        .engine("postgres")
                        .engine_version(POSTGRES_MAJOR_VERSION)
                        .instance_class(sizes.db_instance_class.as_str())
                        .allocated_storage(i64::from(sizes.db_allocated_storage_gb))
                        .storage_encrypted(true)
                        .kms_key_id(key)
                        .backup_retention_period(i64::from(sizes.db_backup_retention_days))
                        .publicly_accessible(false)
                        .master_username("tandem")
                        .skip_final_snapshot(false)
                        // RDS refuses to delete the instance while it is on; a failback keeps a protected
                        // environment's former writers instead of deleting them.
                        .deletion_protection(env.protect_stateful)
                        .set("fenced", member.fenced)
                        .fence_security_group_id(fence_group)
                        .db_subnet_group_name(subnet_group)
                        .vpc_security_group_ids(db_groups)
                        .db_parameter_group_name(parameter_group)
                        .master_user_secret_arn(secret_arn_in(&member.region))
                        .master_password_generation(i64::from(sizes.db_password_generation))
                        .options(if member.fenced {
                            ResourceOptions {
                                ignore_changes: vec!["master_password_generation".into()],
                                ..stateful.clone()
                            }
                        } else {
                            stateful.clone()
                        }),
                ),
                DbKind::Replica => {
                    let (source_arn, source_region) = match (&member.source, &member.source_arn) {
                        (Some(name), _) => {
                            let src = posture
                                .db_members()
                                .into_iter()
                                .find(|m| &m.name == name)
                                .ok_or_else(|| {
                                    ProgramError(format!("database {name} is not in the posture"))
                                })?;
                            let handle = dbs.get(name).ok_or_else(|| {
                                ProgramError(format!(
                                    "database {name} must be declared before its replica"
                                ))
                            })?;
                            (handle.output("arn"), src.region.clone())
                        }
                        (None, Some(arn)) => (
                            Value::str(arn),
                            arn.split(':').nth(3).unwrap_or_default().to_string(),
                        ),
                        (None, None) => (Value::Null, String::new()),
                    };
                    let mut options = stateful.clone();
                    if member.promoted {
                        // A promoted replica no longer follows its source, which may be gone.
                        options.ignore_changes =
                            vec!["source_db_arn".into(), "source_region".into()];
                    }
                    let replica = rds::DbReadReplica::new(&r, &member.name)
                        .map_err(err)?
                        .identifier(identifier)
                        .source_db_arn(source_arn)
                        .source_region(source_region)
                        .kms_key_id(key)
                        .instance_class(sizes.db_instance_class.as_str())
                        .publicly_accessible(false)
                        .skip_final_snapshot(false)
                        // RDS refuses to delete the instance while it is on; a failback keeps a protected
                        // environment's former writers instead of deleting them.
                        .deletion_protection(env.protect_stateful)
                        // What the promotion turns on (AWS's default on promotion is one day).
                        .backup_retention_period(i64::from(sizes.db_backup_retention_days))
                        .set("promoted", member.promoted)
                        .fence_security_group_id(fence_group)
                        .db_subnet_group_name(subnet_group)
                        .vpc_security_group_ids(db_groups)
                        .db_parameter_group_name(parameter_group)
                        .options(options);
                    // Declared only when set: a replica that is not fenced has no `fenced`.
                    stack.declare(if member.fenced {
                        replica.fenced(true)
                    } else {
                        replica
                    })
                }
            };
            dbs.insert(member.name.clone(), handle);
        }
        let writer = &dbs[&posture.db.writer.name];
        let replica = posture.db.replica.as_ref().map(|m| (m, &dbs[&m.name]));

        // DNS: the zone, one health check per region on its load balancer, the failover pair.
        let zone = stack.declare(
            route53::HostedZone::new(&global, "zone")
                .map_err(err)?
                .domain(env.domain_name.as_str())
                .comment(format!("tandem {}", env.name))
                .options(stateful.clone()),
        );
        let (check_type, port) = if env.http_only {
            ("HTTP", 80)
        } else {
            ("HTTPS", 443)
        };
        let mut checks = BTreeMap::new();
        for name in [first, second] {
            let check = stack.declare(
                route53::HealthCheck::new(&global, &format!("app-{name}"))
                    .map_err(err)?
                    .check_type(check_type)
                    .fqdn(inst(name).output("AlbDnsName"))
                    .port(port)
                    // The target group's path (template.rs, where a test checks that they agree).
                    .resource_path(HEALTH_PATH)
                    .request_interval(i64::from(ROUTE53_REQUEST_INTERVAL_SECONDS))
                    .failure_threshold(i64::from(ROUTE53_FAILURE_THRESHOLD))
                    // Simulating an outage on AWS inverts the region's check (reversible); the local
                    // cloud's region gateway cuts the region off instead.
                    .inverted(
                        env.local_cloud.is_none()
                            && posture.simulated_outage.as_deref() == Some(name),
                    ),
            );
            checks.insert(name.to_string(), check);
        }
        let alias = |role: route53::Failover, r: &str| -> Result<route53::Record, ProgramError> {
            let zone_id = regions::alb_hosted_zone_id(r).ok_or_else(|| {
                ProgramError(format!("no published ALB hosted-zone id for region {r}"))
            })?;
            Ok(route53::Record::failover_alias(
                role,
                format!("app-{r}"),
                zone_id,
                inst(r).output("AlbDnsName"),
            )
            .health_check_id(checks[r].output("health_check_id")))
        };
        stack.declare(
            route53::RecordSet::new(&global, "app")
                .map_err(err)?
                .zone_id(zone.output("zone_id"))
                .name(env.domain_name.as_str())
                .record_type("A")
                .record(alias(route53::Failover::Primary, posture.dns_primary())?)
                .record(alias(
                    route53::Failover::Secondary,
                    env.other_region(posture.dns_primary()),
                )?),
        );

        // Alarms, through the API: replica lag against the RPO, and each health check (Route 53
        // publishes its metrics in us-east-1 only).
        if let Some((member, handle)) = replica {
            stack.declare(
                cloudwatch::Alarm::new(&region(&member.region)?, "replica-lag")
                    .map_err(err)?
                    .alarm_name(format!("tandem-{}-replica-lag", env.name))
                    .alarm_description(format!(
                        "replica lag above the RPO of {} minutes",
                        env.rpo_minutes
                    ))
                    .namespace("AWS/RDS")
                    .metric_name("ReplicaLag")
                    .statistic("Maximum")
                    .dimensions(map([("DBInstanceIdentifier", handle.output("identifier"))]))
                    .period(60)
                    .evaluation_periods(1)
                    .threshold(Value::Float(f64::from(env.rpo_minutes) * 60.0))
                    .comparison_operator("GreaterThanThreshold")
                    .treat_missing_data("breaching"),
            );
        }
        let metrics_region = region("us-east-1")?;
        for name in [first, second] {
            stack.declare(
                cloudwatch::Alarm::new(&metrics_region, &format!("health-{name}"))
                    .map_err(err)?
                    .alarm_name(format!("tandem-{}-health-{name}", env.name))
                    .alarm_description(format!(
                        "the application in {name} fails its Route 53 health check"
                    ))
                    .namespace("AWS/Route53")
                    .metric_name("HealthCheckStatus")
                    .statistic("Minimum")
                    .dimensions(map([(
                        "HealthCheckId",
                        checks[name].output("health_check_id"),
                    )]))
                    .period(60)
                    .evaluation_periods(1)
                    .threshold(Value::Float(1.0))
                    .comparison_operator("LessThanThreshold")
                    .treat_missing_data("breaching"),
            );
        }

        // Outputs.
        let scheme = if env.http_only { "http" } else { "https" };
        stack.export("app_url", format!("{scheme}://{}/", env.domain_name));
        stack.export("active_region", posture.active_region.as_str());
        for name in [first, second] {
            stack.export(&format!("alb_dns_{name}"), inst(name).output("AlbDnsName"));
            stack.export(&format!("bucket_{name}"), buckets[name].output("bucket"));
        }
        stack.export("db_primary_endpoint", writer.output("endpoint"));
        if let Some((_, handle)) = replica {
            stack.export("db_replica_endpoint", handle.output("endpoint"));
        }
        stack.export("hosted_zone_id", zone.output("zone_id"));
        // The database credentials' secret as each region holds it (the replica's after a
        // failover).
        for name in [first, second] {
            stack.export(&format!("db_secret_arn_{name}"), secret_arn_in(name));
        }
        Ok(())
    }
}
