//! The regional CloudFormation template: the baseline every region runs, deployed to both regions
//! by one stack set with per-region parameter overrides.
//!
//! VPC with public and private subnets over two AZs, security groups, an ALB (HTTPS on a TLS 1.2+
//! policy with an HTTP→HTTPS redirect, or HTTP only for the local cloud), a target group checking
//! `/health`, a launch template, an Auto Scaling group, the region's KMS key, least-privilege IAM
//! roles and instance profile, a CloudWatch log group, a DB subnet group, the database's fence
//! security group (no ingress, no egress: where a fenced former writer is moved) and the role S3
//! replication uses. CloudWatch alarms are not here: they are created through the API (the local cloud cannot
//! create them from templates).

use serde_json::{Value as Json, json};

/// The TLS policy of the HTTPS listener: TLS 1.3 and 1.2 only.
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// The public SSM parameter that names the latest Amazon Linux 2023 AMI of each region.
pub const DEFAULT_IMAGE_PARAMETER: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/// Parameters of the template, with what each means.
pub const PARAMETERS: &[(&str, &str)] = &[
    ("EnvName", "environment name, used in names and tags"),
    (
        "VpcCidr",
        "the region's VPC CIDR (distinct per region, for peering)",
    ),
    (
        "PeerVpcCidr",
        "the other region's VPC CIDR (routes and database access over peering)",
    ),
    (
        "PublicSubnetCidrs",
        "two public subnet CIDRs, comma-separated",
    ),
    (
        "PrivateSubnetCidrs",
        "two private subnet CIDRs, comma-separated",
    ),
    ("InstanceType", "EC2 instance type of the application"),
    (
        "ImageId",
        "SSM parameter naming the AMI of the application instances",
    ),
    ("MinSize", "minimum instances"),
    ("MaxSize", "maximum instances"),
    (
        "HttpOnly",
        "`true` serves HTTP only (local cloud); `false` serves HTTPS with a redirect",
    ),
    (
        "CertificateArn",
        "ACM certificate for the HTTPS listener (ignored when HttpOnly)",
    ),
    (
        "AssetsBucketName",
        "this region's assets bucket (read by instances, replicated)",
    ),
    (
        "PeerAssetsBucketName",
        "the other region's assets bucket (replication destination)",
    ),
    (
        "LocalCloud",
        "`true` leaves out the internet gateway and route tables, which the local cloud cannot delete",
    ),
];

fn tags(name: &str) -> Json {
    json!([
        {"Key": "Name", "Value": {"Fn::Sub": format!("tandem-${{EnvName}}-{name}")}},
        {"Key": "tandem:env", "Value": {"Ref": "EnvName"}},
    ])
}

fn subnet(kind: &str, index: usize, public: bool) -> Json {
    let list = if public {
        "PublicSubnetCidrs"
    } else {
        "PrivateSubnetCidrs"
    };
    json!({
        "Type": "AWS::EC2::Subnet",
        "Properties": {
            "VpcId": {"Ref": "Vpc"},
            "CidrBlock": {"Fn::Select": [index, {"Ref": list}]},
            "AvailabilityZone": {"Fn::Select": [index, {"Fn::GetAZs": ""}]},
            "MapPublicIpOnLaunch": false,
            "Tags": tags(&format!("{kind}-{}", index + 1)),
        }
    })
}

/// Renders the template as pretty JSON. Deterministic: keys keep their declared order, and
/// resources are declared after those they `Fn::GetAtt` (moto resolves them in that order).
pub fn regional_template() -> String {
    serde_json::to_string_pretty(&regional_template_json()).expect("template serializes")
}

fn regional_template_json() -> Json {
    let params: serde_json::Map<String, Json> = PARAMETERS
        .iter()
        .map(|(name, desc)| {
            let ty = match *name {
                "ImageId" => "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                "PublicSubnetCidrs" | "PrivateSubnetCidrs" => "CommaDelimitedList",
                "MinSize" | "MaxSize" => "Number",
                _ => "String",
            };
            let mut p = json!({"Type": ty, "Description": desc});
            if *name == "HttpOnly" || *name == "LocalCloud" {
                p["AllowedValues"] = json!(["true", "false"]);
            }
            if *name == "ImageId" {
                p["Default"] = json!(DEFAULT_IMAGE_PARAMETER);
            }
            if *name == "LocalCloud" {
                p["Default"] = json!("false");
            }
            if *name == "CertificateArn" {
                p["Default"] = json!("");
            }
            (name.to_string(), p)
        })
        .collect();

    let instance_policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "WriteOwnLogs", "Effect": "Allow",
             "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": {"Fn::Sub": "${LogGroup.Arn}"}},
            {"Sid": "ReadAssets", "Effect": "Allow", "Action": ["s3:GetObject"],
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AssetsBucketName}/*"}},
            {"Sid": "DecryptWithRegionKey", "Effect": "Allow", "Action": ["kms:Decrypt"],
             "Resource": {"Fn::GetAtt": ["KmsKey", "Arn"]}},
        ]
    });
    let replication_policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadSource", "Effect": "Allow",
             "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AssetsBucketName}"}},
            {"Sid": "ReadSourceVersions", "Effect": "Allow",
             "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AssetsBucketName}/*"}},
            {"Sid": "WriteDestination", "Effect": "Allow",
             "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${PeerAssetsBucketName}/*"}},
            {"Sid": "DecryptSource", "Effect": "Allow", "Action": ["kms:Decrypt"],
             "Resource": {"Fn::GetAtt": ["KmsKey", "Arn"]}},
            {"Sid": "EncryptDestination", "Effect": "Allow", "Action": ["kms:Encrypt"],
             "Resource": "*",
             "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}},
        ]
    });
    let key_policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow",
             "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
             "Action": "kms:*", "Resource": "*"},
            // The region's log groups are encrypted with this key: CloudWatch Logs uses it as its
            // service principal, for log groups of this region and account only (CloudWatch Logs
            // User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS").
            {"Sid": "LogsEncryptRegionLogGroups", "Effect": "Allow",
             "Principal": {"Service": {"Fn::Sub": "logs.${AWS::Region}.${AWS::URLSuffix}"}},
             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
             "Resource": "*",
             "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                 {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}}}},
        ]
    });
    let user_data = "#!/bin/bash\n# Application bootstrap: serve /health for the load balancer.\n";

    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Tandem regional baseline: VPC, ALB, Auto Scaling, KMS, IAM, logs",
        "Parameters": params,
        "Conditions": {
            "ServeHttps": {"Fn::Equals": [{"Ref": "HttpOnly"}, "false"]},
            "RoutesToInternet": {"Fn::Equals": [{"Ref": "LocalCloud"}, "false"]},
        },
        "Resources": {
            "KmsKey": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "Description": {"Fn::Sub": "tandem ${EnvName} ${AWS::Region}: data at rest"},
                    "EnableKeyRotation": true,
                    "KeyPolicy": key_policy,
                }
            },
            "Vpc": {
                "Type": "AWS::EC2::VPC",
                "Properties": {
                    "CidrBlock": {"Ref": "VpcCidr"},
                    "EnableDnsHostnames": true,
                    "EnableDnsSupport": true,
                    "Tags": tags("vpc"),
                }
            },
            "InternetGateway": {"Type": "AWS::EC2::InternetGateway", "Condition": "RoutesToInternet", "Properties": {"Tags": tags("igw")}},
            "GatewayAttachment": {
                "Condition": "RoutesToInternet",
                "Type": "AWS::EC2::VPCGatewayAttachment",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "InternetGateway"}}
            },
            "PublicSubnet1": subnet("public", 0, true),
            "PublicSubnet2": subnet("public", 1, true),
            "PrivateSubnet1": subnet("private", 0, false),
            "PrivateSubnet2": subnet("private", 1, false),
            "PublicRouteTable": {
                "Condition": "RoutesToInternet",
                "Type": "AWS::EC2::RouteTable",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "Tags": tags("public")}
            },
            "PublicDefaultRoute": {
                "Condition": "RoutesToInternet",
                "Type": "AWS::EC2::Route",
                "DependsOn": "GatewayAttachment",
                "Properties": {
                    "RouteTableId": {"Ref": "PublicRouteTable"},
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "GatewayId": {"Ref": "InternetGateway"},
                }
            },
            "PublicSubnet1Routes": {
                "Condition": "RoutesToInternet",
                "Type": "AWS::EC2::SubnetRouteTableAssociation",
                "Properties": {"SubnetId": {"Ref": "PublicSubnet1"}, "RouteTableId": {"Ref": "PublicRouteTable"}}
            },
            "PublicSubnet2Routes": {
                "Condition": "RoutesToInternet",
                "Type": "AWS::EC2::SubnetRouteTableAssociation",
                "Properties": {"SubnetId": {"Ref": "PublicSubnet2"}, "RouteTableId": {"Ref": "PublicRouteTable"}}
            },
            "PrivateRouteTable": {
                "Condition": "RoutesToInternet",
                "Type": "AWS::EC2::RouteTable",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "Tags": tags("private")}
            },
            "PrivateSubnet1Routes": {
                "Condition": "RoutesToInternet",
                "Type": "AWS::EC2::SubnetRouteTableAssociation",
                "Properties": {"SubnetId": {"Ref": "PrivateSubnet1"}, "RouteTableId": {"Ref": "PrivateRouteTable"}}
            },
            "PrivateSubnet2Routes": {
                "Condition": "RoutesToInternet",
                "Type": "AWS::EC2::SubnetRouteTableAssociation",
                "Properties": {"SubnetId": {"Ref": "PrivateSubnet2"}, "RouteTableId": {"Ref": "PrivateRouteTable"}}
            },
            "AlbSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "load balancer: HTTP and HTTPS from anywhere",
                    "VpcId": {"Ref": "Vpc"},
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"},
                        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"},
                    ],
                    "Tags": tags("alb"),
                }
            },
            "AppSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "application: HTTP from the load balancer only",
                    "VpcId": {"Ref": "Vpc"},
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                         "SourceSecurityGroupId": {"Ref": "AlbSecurityGroup"}},
                    ],
                    "Tags": tags("app"),
                }
            },
            "DbSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "database: PostgreSQL from the application and the peer region",
                    "VpcId": {"Ref": "Vpc"},
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                         "SourceSecurityGroupId": {"Ref": "AppSecurityGroup"}},
                        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": {"Ref": "PeerVpcCidr"}},
                    ],
                    "Tags": tags("db"),
                }
            },
            // Where a fenced former writer is moved, alone, before it is stopped: nothing reaches
            // it when AWS starts it again after seven days. No ingress; one egress rule to the
            // loopback, because a group's default allow-all egress is removed only when a rule is
            // given (CloudFormation User Guide, AWS::EC2::SecurityGroup, SecurityGroupEgress).
            "DbFenceSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "database fence: no ingress and no egress; a fenced former writer is moved here alone so that nothing reaches it if AWS starts it again",
                    "VpcId": {"Ref": "Vpc"},
                    "SecurityGroupEgress": [
                        {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32"},
                    ],
                    "Tags": tags("db-fence"),
                }
            },
            "DbSubnetGroup": {
                "Type": "AWS::RDS::DBSubnetGroup",
                "Properties": {
                    "DBSubnetGroupName": {"Fn::Sub": "tandem-${EnvName}-db"},
                    "DBSubnetGroupDescription": "tandem private subnets",
                    "SubnetIds": [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}],
                }
            },
            "LoadBalancer": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {
                    "Name": {"Fn::Sub": "tandem-${EnvName}-alb"},
                    "Type": "application",
                    "Scheme": "internet-facing",
                    "Subnets": [{"Ref": "PublicSubnet1"}, {"Ref": "PublicSubnet2"}],
                    "SecurityGroups": [{"Ref": "AlbSecurityGroup"}],
                    "Tags": tags("alb"),
                }
            },
            "TargetGroup": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    // Unique per stack (its id's first block): a deleted stack's group may linger in the
                    // local cloud, and names must be unique per region.
                    "Name": {"Fn::Join": ["-", ["tandem-tg", {"Fn::Select": [0, {"Fn::Split": ["-",
                        {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]}]]},
                    "VpcId": {"Ref": "Vpc"},
                    "Protocol": "HTTP",
                    "Port": 80,
                    "TargetType": "instance",
                    "HealthCheckPath": "/health",
                    "HealthCheckIntervalSeconds": 10,
                    "HealthyThresholdCount": 2,
                    "UnhealthyThresholdCount": 2,
                    "Matcher": {"HttpCode": "200"},
                }
            },
            "HttpListener": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {
                    "LoadBalancerArn": {"Ref": "LoadBalancer"},
                    "Protocol": "HTTP",
                    "Port": 80,
                    "DefaultActions": {"Fn::If": ["ServeHttps",
                        [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}],
                        [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]
                    ]},
                }
            },
            "HttpsListener": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Condition": "ServeHttps",
                "Properties": {
                    "LoadBalancerArn": {"Ref": "LoadBalancer"},
                    "Protocol": "HTTPS",
                    "Port": 443,
                    "SslPolicy": TLS_POLICY,
                    "Certificates": [{"CertificateArn": {"Ref": "CertificateArn"}}],
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}],
                }
            },
            "LogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": {"Fn::Sub": "/tandem/${EnvName}/app"},
                    "RetentionInDays": 30,
                    // Encrypted at rest with the region's own key (policy rule TP003).
                    "KmsKeyId": {"Fn::GetAtt": ["KmsKey", "Arn"]},
                }
            },
            "InstanceRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                       "Action": "sts:AssumeRole"}]
                    },
                    "Policies": [{"PolicyName": "app", "PolicyDocument": instance_policy}],
                    "Tags": tags("instance-role"),
                }
            },
            "InstanceProfile": {
                "Type": "AWS::IAM::InstanceProfile",
                "Properties": {"Roles": [{"Ref": "InstanceRole"}]}
            },
            "ReplicationRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                       "Action": "sts:AssumeRole"}]
                    },
                    "Policies": [{"PolicyName": "replicate-assets", "PolicyDocument": replication_policy}],
                    "Tags": tags("replication-role"),
                }
            },
            "LaunchTemplate": {
                "Type": "AWS::EC2::LaunchTemplate",
                "Properties": {
                    "LaunchTemplateData": {
                        "ImageId": {"Ref": "ImageId"},
                        "InstanceType": {"Ref": "InstanceType"},
                        "IamInstanceProfile": {"Arn": {"Fn::GetAtt": ["InstanceProfile", "Arn"]}},
                        "SecurityGroupIds": [{"Ref": "AppSecurityGroup"}],
                        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
                        "UserData": {"Fn::Base64": user_data},
                    }
                }
            },
            "AutoScalingGroup": {
                "Type": "AWS::AutoScaling::AutoScalingGroup",
                "Properties": {
                    "VPCZoneIdentifier": [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}],
                    "LaunchTemplate": {
                        "LaunchTemplateId": {"Ref": "LaunchTemplate"},
                        "Version": {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]},
                    },
                    "MinSize": {"Ref": "MinSize"},
                    "MaxSize": {"Ref": "MaxSize"},
                    "TargetGroupARNs": [{"Ref": "TargetGroup"}],
                    "HealthCheckType": "ELB",
                    "HealthCheckGracePeriod": 120,
                }
            },
        },
        "Outputs": {
            "VpcId": {"Value": {"Ref": "Vpc"}},
            "PublicRouteTableId": {"Condition": "RoutesToInternet", "Value": {"Ref": "PublicRouteTable"}},
            "PrivateRouteTableId": {"Condition": "RoutesToInternet", "Value": {"Ref": "PrivateRouteTable"}},
            "AlbArn": {"Value": {"Ref": "LoadBalancer"}},
            "AlbDnsName": {"Value": {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}},
            "TargetGroupArn": {"Value": {"Ref": "TargetGroup"}},
            "AutoScalingGroupName": {"Value": {"Ref": "AutoScalingGroup"}},
            "KmsKeyArn": {"Value": {"Fn::GetAtt": ["KmsKey", "Arn"]}},
            "LogGroupName": {"Value": {"Ref": "LogGroup"}},
            "ReplicationRoleArn": {"Value": {"Fn::GetAtt": ["ReplicationRole", "Arn"]}},
            "DbSubnetGroupName": {"Value": {"Fn::Sub": "tandem-${EnvName}-db"}},
            "DbSecurityGroupId": {"Value": {"Ref": "DbSecurityGroup"}},
            "DbFenceSecurityGroupId": {"Value": {"Ref": "DbFenceSecurityGroup"}},
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_deterministic_and_complete() {
        let a = regional_template();
        assert_eq!(a, regional_template());
        let t: Json = serde_json::from_str(&a).unwrap();
        for r in [
            "Vpc",
            "PublicSubnet1",
            "PublicSubnet2",
            "PrivateSubnet1",
            "PrivateSubnet2",
            "LoadBalancer",
            "HttpListener",
            "HttpsListener",
            "TargetGroup",
            "LaunchTemplate",
            "AutoScalingGroup",
            "KmsKey",
            "InstanceRole",
            "InstanceProfile",
            "LogGroup",
            "DbFenceSecurityGroup",
        ] {
            assert!(t["Resources"].get(r).is_some(), "missing {r}");
        }
        // The fence group lets nothing in and nothing out (its only egress rule is the loopback,
        // which removes the default allow-all), and its id is an output.
        let fence = &t["Resources"]["DbFenceSecurityGroup"]["Properties"];
        assert!(fence.get("SecurityGroupIngress").is_none());
        assert_eq!(
            fence["SecurityGroupEgress"],
            serde_json::json!([{"IpProtocol": "-1", "CidrIp": "127.0.0.1/32"}])
        );
        assert!(t["Outputs"].get("DbFenceSecurityGroupId").is_some());
        assert_eq!(
            t["Resources"]["HttpsListener"]["Properties"]["SslPolicy"],
            TLS_POLICY
        );
        assert_eq!(
            t["Resources"]["LogGroup"]["Properties"]["KmsKeyId"],
            serde_json::json!({"Fn::GetAtt": ["KmsKey", "Arn"]})
        );
        assert_eq!(
            t["Resources"]["TargetGroup"]["Properties"]["HealthCheckPath"],
            "/health"
        );
        // Every parameter the template refers to is declared.
        for (name, _) in PARAMETERS {
            assert!(t["Parameters"].get(*name).is_some());
        }
    }
}
