//! The regional CloudFormation template: the baseline every region runs, deployed to both regions
//! by one stack set with per-region parameter overrides.
//!
//! VPC with public and private subnets over two AZs, security groups, an ALB (HTTPS on a TLS 1.2+
//! policy with an HTTP→HTTPS redirect, or HTTP only for the local cloud), a target group checking
//! `/health`, a launch template whose user data runs the application (a `/health` endpoint and a
//! page naming the region, under systemd), an Auto Scaling group, the region's KMS key,
//! least-privilege IAM roles and instance profile (under the environment's IAM path, [`IAM_PATH`],
//! the only roles the stack set's execution role may manage), a CloudWatch log group encrypted
//! with the region's key, the load balancer's access-log bucket (SSE-S3, TLS only; not in the
//! local cloud), VPC endpoints for S3 and CloudWatch Logs (the private subnets have no route to
//! the internet), the databases' DB subnet group and security group, the database's fence
//! security group (no ingress, no egress: where a fenced former writer is moved) and the role S3
//! replication uses. CloudWatch alarms are not
//! here: they are created through the API (the local cloud cannot create them from templates).
//! Nor is the databases' parameter group: it is created through the RDS API
//! (`rds:DbParameterGroup`), because the local cloud creates an `AWS::RDS::DBParameterGroup` under
//! a name of its own (it ignores `DBParameterGroupName`) and resolves its `Ref` to an object's
//! text, so that its name could not reach the databases there.
//!
//! # Lint
//! `make test` runs cfn-lint (no error) and checkov (no failed check) on this template
//! (`tests/lint_template.sh`). A check that does not apply is skipped on its resource, in its
//! `Metadata` (`checkov: skip: [{id, comment}]`), with the reason: port 80 open to the world for
//! the HTTP→HTTPS redirect (CKV_AWS_260), no server access logs of the access-log bucket itself
//! (CKV_AWS_18). A test lists the skips, so that a new one is reviewed.
//!
//! # Outbound traffic of the private subnets: VPC endpoints, not NAT
//! The instances reach S3 through a gateway endpoint (no charge) and CloudWatch Logs through an
//! interface endpoint (an hourly charge per AZ, about $0.01 in us-east-1, so about $15 a month per
//! region for two AZs, plus a small charge per GB), and nothing else: the application fetches
//! nothing from the internet. A NAT gateway would reach everything, at about $0.045 an hour per
//! gateway (one per AZ for AZ independence: about $65 a month per region) plus $0.045 per GB
//! processed, and would open a path to the internet the application does not need. (AWS's price
//! pages, us-east-1; other regions differ.) An instance that must reach another AWS service gets
//! that service's interface endpoint here.

use serde_json::{Value as Json, json};

/// The TLS policy of the HTTPS listener: TLS 1.3 and 1.2 only.
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// The public SSM parameter that names the latest Amazon Linux 2023 AMI of each region.
pub const DEFAULT_IMAGE_PARAMETER: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/// The port the application listens on: the target group's, and the one the application's
/// security group admits from the load balancer.
pub const APP_PORT: u16 = 80;

/// The databases' port (PostgreSQL), the one their security group admits.
pub const DB_PORT: u16 = 5432;

/// The application's health endpoint, answering 200 `ok`: the path the target group and the
/// Route 53 health checks (program.rs) probe.
pub const HEALTH_PATH: &str = "/health";

/// The target group's health check (Elastic Load Balancing API Reference, CreateTargetGroup:
/// interval 5 to 300 s, timeout 2 to 120 s and less than the interval, thresholds 2 to 10): a
/// target is healthy after 2 successes 10 s apart, unhealthy after 2 failures.
pub const TARGET_HEALTH_INTERVAL_SECONDS: u32 = 10;
pub const TARGET_HEALTH_TIMEOUT_SECONDS: u32 = 5;
pub const TARGET_HEALTHY_THRESHOLD: u32 = 2;
pub const TARGET_UNHEALTHY_THRESHOLD: u32 = 2;

/// How long the Auto Scaling group ignores the load balancer's verdict on a new instance: its boot
/// and user data (about a minute on Amazon Linux 2023), then the target group's healthy threshold
/// (2 × 10 s). Shorter, and instances that are still booting are replaced in a loop.
pub const HEALTH_CHECK_GRACE_PERIOD_SECONDS: u32 = 120;

/// The time [`HEALTH_CHECK_GRACE_PERIOD_SECONDS`] allows an instance to boot and start the
/// application, before the target group's checks must pass.
pub const BOOT_ALLOWANCE_SECONDS: u32 = 60;

/// The IAM path of the roles and instance profile the template creates (an `Fn::Sub` text): the
/// stack set's execution role (program.rs) may manage and pass roles under this path only.
pub const IAM_PATH: &str = "/tandem/${EnvName}/";

/// The application's log group (an `Fn::Sub` text), encrypted with the region's key.
pub const LOG_GROUP_NAME: &str = "/tandem/${EnvName}/app";

/// How long the application's log group keeps its events.
pub const LOG_RETENTION_DAYS: u32 = 30;

/// The start of the name of the load balancer's access-log bucket (an `Fn::Sub` text; the region
/// and the first block of the stack's id follow): the execution role's S3 grant is on it.
pub const ACCESS_LOG_BUCKET_PREFIX: &str = "tandem-${EnvName}-alb-logs-";

/// The key prefix of the access logs in their bucket (the load balancer writes under
/// `alb/AWSLogs/<account>/`).
pub const ACCESS_LOG_PREFIX: &str = "alb";

/// How long access logs are kept (the bucket's lifecycle rule; a deleted or overwritten version is
/// kept [`ACCESS_LOG_NONCURRENT_DAYS`] more).
pub const ACCESS_LOG_RETENTION_DAYS: u32 = 90;
pub const ACCESS_LOG_NONCURRENT_DAYS: u32 = 30;

/// The service principal that delivers Application Load Balancer access logs (Elastic Load
/// Balancing User Guide, "Enable access logs for your Application Load Balancer", step 2).
pub const ELB_LOG_DELIVERY_PRINCIPAL: &str = "logdelivery.elasticloadbalancing.amazonaws.com";

/// Route 53's health check of each region's load balancer (program.rs): every 10 s, unhealthy
/// after 3 failures (Route 53 API Reference, CreateHealthCheck: `RequestInterval` 10 or 30,
/// `FailureThreshold` 1 to 10).
pub const ROUTE53_REQUEST_INTERVAL_SECONDS: u32 = 10;
pub const ROUTE53_FAILURE_THRESHOLD: u32 = 3;

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
        "PeerRegion",
        "the other region (where replication writes, with that region's KMS key)",
    ),
    (
        "VpcPeering",
        "`true` when the two regions' VPCs are peered: the databases admit the peer VPC's CIDR",
    ),
    (
        "LocalCloud",
        "`true` leaves out the internet gateway, route tables and VPC endpoints, which the local cloud cannot delete, and the access-log bucket (it has no bucket policies)",
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

/// The application, as the launch template's user data (cloud-init runs it as root at the first
/// boot; CloudFormation's `Fn::Sub` fills in `${AWS::Region}`, `${EnvName}` and `${LogGroup}`, so
/// the script itself uses no `${...}`). It serves, on [`APP_PORT`], [`HEALTH_PATH`] (200 `ok`)
/// and `/` (a page naming the region, so that a failover shows), with the `python3` of Amazon
/// Linux 2023: nothing is fetched from the internet (the private subnets have no route there).
/// systemd starts it at every boot and restarts it, as an unprivileged dynamic user that may bind
/// the port. A boot record goes to the region's log group through the CloudWatch Logs endpoint,
/// best effort (the application does not depend on it).
pub fn user_data() -> String {
    const SCRIPT: &str = r#"#!/bin/bash
# Tandem application: @HEALTH@ (200 ok) and a page naming the region, on port @PORT@.
set -euo pipefail
install -d -m 0755 /opt/tandem
cat > /opt/tandem/app.py <<'PY'
import http.server
import os
import socketserver

REGION = os.environ.get("TANDEM_REGION", "unknown")
ENV = os.environ.get("TANDEM_ENV", "unknown")
PORT = int(os.environ.get("TANDEM_PORT", "@PORT@"))
PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Tandem " + ENV + "</title></head>"
    "<body><h1>Tandem " + ENV + "</h1><p>Served from <strong>" + REGION + "</strong>.</p>"
    "</body></html>\n"
).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "tandem"
    sys_version = ""

    def reply(self, code, body, kind):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Tandem-Region", REGION)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "@HEALTH@":
            self.reply(200, b"ok", "text/plain; charset=utf-8")
        elif path == "/":
            self.reply(200, PAGE, "text/html; charset=utf-8")
        else:
            self.reply(404, b"not found", "text/plain; charset=utf-8")

    do_HEAD = do_GET

    def log_message(self, format, *args):
        # The health checks come every few seconds from every load balancer node: not logged.
        if not self.path.startswith("@HEALTH@"):
            super().log_message(format, *args)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("", PORT), Handler).serve_forever()
PY
cat > /etc/systemd/system/tandem-app.service <<'UNIT'
[Unit]
Description=Tandem application (health endpoint and region page)
After=network-online.target
Wants=network-online.target

[Service]
Environment=TANDEM_REGION=${AWS::Region}
Environment=TANDEM_ENV=${EnvName}
Environment=TANDEM_PORT=@PORT@
ExecStart=/usr/bin/python3 /opt/tandem/app.py
DynamicUser=yes
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now tandem-app.service
# A boot record in the region's log group (best effort), through the CloudWatch Logs endpoint.
token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token || true)
instance=$(curl -sf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id || echo unknown)
aws logs create-log-stream --region ${AWS::Region} --log-group-name ${LogGroup} --log-stream-name "$instance" || true
aws logs put-log-events --region ${AWS::Region} --log-group-name ${LogGroup} --log-stream-name "$instance" --log-events "timestamp=$(date +%s%3N),message=tandem-app started on $instance in ${AWS::Region}" || true
"#;
    SCRIPT
        .replace("@PORT@", &APP_PORT.to_string())
        .replace("@HEALTH@", HEALTH_PATH)
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
            if *name == "HttpOnly" || *name == "LocalCloud" || *name == "VpcPeering" {
                p["AllowedValues"] = json!(["true", "false"]);
            }
            if *name == "ImageId" {
                p["Default"] = json!(DEFAULT_IMAGE_PARAMETER);
            }
            if *name == "LocalCloud" || *name == "VpcPeering" {
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
    // Replication of SSE-KMS objects (S3 User Guide, "Replicating objects created with server-side
    // encryption (SSE-C, SSE-S3, SSE-KMS, DSSE-KMS)"): `kms:Decrypt` on the source key and
    // `kms:Encrypt` on the destination key, each through S3 of its region only (`kms:ViaService`)
    // and for its bucket's objects only (`kms:EncryptionContext:aws:s3:arn`: the bucket's ARN
    // with S3 Bucket Keys, an object's ARN without; both are allowed). With S3 Bucket Keys, S3 also
    // decrypts with the destination key (hence `kms:Decrypt` there too).
    //
    // The destination key is the peer region's, and its ARN is not known here: a stack set
    // deploys region by region, so the peer's key does not exist yet when this region's instance
    // is created, and KMS key ARNs are random (an alias is not accepted in an IAM policy's
    // Resource). Passing it as a parameter override would mean updating this region's instance
    // after the peer's, on every deploy from scratch (and the local cloud does not apply stack-set
    // updates to deployed resources). So the grant names every key of the account in the peer
    // region (`arn:...:kms:<peer>:<account>:key/*`), and the two conditions narrow it to what
    // replication does: only S3 in the peer region may use it, and only for the peer bucket's
    // objects (its name is deterministic). No statement here has `Resource: "*"`.
    let via_s3 = |region: &str| json!({"Fn::Sub": format!("s3.{region}.${{AWS::URLSuffix}}")});
    let bucket_context = |bucket: &str| {
        json!([
            {"Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::${{{bucket}}}")},
            {"Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::${{{bucket}}}/*")},
        ])
    };
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
             "Resource": {"Fn::GetAtt": ["KmsKey", "Arn"]},
             "Condition": {
                 "StringEquals": {"kms:ViaService": via_s3("${AWS::Region}")},
                 "StringLike": {"kms:EncryptionContext:aws:s3:arn": bucket_context("AssetsBucketName")},
             }},
            {"Sid": "EncryptDestination", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"],
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:kms:${PeerRegion}:${AWS::AccountId}:key/*"},
             "Condition": {
                 "StringEquals": {"kms:ViaService": via_s3("${PeerRegion}")},
                 "StringLike": {"kms:EncryptionContext:aws:s3:arn": bucket_context("PeerAssetsBucketName")},
             }},
        ]
    });
    // The account administers the key through IAM; CloudWatch Logs of this region may use it for
    // this stack's log group only (CloudWatch Logs User Guide, "Encrypt log data in CloudWatch
    // Logs using AWS Key Management Service": without this statement, a log group cannot be
    // created with the key). The log group's ARN is built, not read: the log group depends on the
    // key, so the key's policy cannot `Fn::GetAtt` it.
    let log_group_arn = format!(
        "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{LOG_GROUP_NAME}"
    );
    let key_policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow",
             "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "CloudWatchLogsEncryptsTheLogGroup", "Effect": "Allow",
             "Principal": {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
             "Resource": "*",
             "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Sub": log_group_arn}}}},
        ]
    });
    // The load balancer's access logs: a bucket of this region (a load balancer writes only to a
    // bucket of its own region), named from the region and the stack's id, so that a bucket kept
    // from a deleted stack (`Retain`) is never in the way of a new one.
    let access_log_bucket_name = json!({"Fn::Join": ["", [
        {"Fn::Sub": format!("{ACCESS_LOG_BUCKET_PREFIX}${{AWS::Region}}-")},
        {"Fn::Select": [0, {"Fn::Split": ["-",
            {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]},
    ]]});
    let access_log_bucket_policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [
                 {"Fn::GetAtt": ["AccessLogBucket", "Arn"]},
                 {"Fn::Sub": "${AccessLogBucket.Arn}/*"},
             ],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            // Elastic Load Balancing's log delivery service principal, the form the ELB User Guide
            // gives for all Regions now (the per-Region ELB account ids,
            // `arn:aws:iam::<elb-account>:root`, of the Regions older than August 2022 are the
            // legacy form: not used, so that no table of accounts is kept here). Only under this
            // account's prefix.
            {"Sid": "ElbLogDelivery", "Effect": "Allow",
             "Principal": {"Service": ELB_LOG_DELIVERY_PRINCIPAL},
             "Action": "s3:PutObject",
             "Resource": {"Fn::Sub": format!("${{AccessLogBucket.Arn}}/{ACCESS_LOG_PREFIX}/AWSLogs/${{AWS::AccountId}}/*")}},
        ]
    });
    let user_data = user_data();

    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Tandem regional baseline: VPC, ALB, Auto Scaling, KMS, IAM, logs",
        "Parameters": params,
        "Conditions": {
            "ServeHttps": {"Fn::Equals": [{"Ref": "HttpOnly"}, "false"]},
            "RoutesToInternet": {"Fn::Equals": [{"Ref": "LocalCloud"}, "false"]},
            // What the local cloud can create but not delete (an interface endpoint is left behind
            // by a stack's deletion there).
            "OutsideLocalCloud": {"Fn::Equals": [{"Ref": "LocalCloud"}, "false"]},
            "PeeredVpcs": {"Fn::Equals": [{"Ref": "VpcPeering"}, "true"]},
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
            // S3 from the private subnets, through their route table (a gateway endpoint: VPC User
            // Guide, "Gateway endpoints for Amazon S3"). Where the route tables are left out, so is
            // it.
            "S3Endpoint": {
                "Condition": "RoutesToInternet",
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"},
                    "VpcEndpointType": "Gateway",
                    "RouteTableIds": [{"Ref": "PrivateRouteTable"}],
                }
            },
            "EndpointSecurityGroup": {
                "Condition": "OutsideLocalCloud",
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "interface endpoints: HTTPS from the VPC",
                    "VpcId": {"Ref": "Vpc"},
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": {"Ref": "VpcCidr"},
                         "Description": "HTTPS to the AWS APIs from the VPC"},
                    ],
                    "Tags": tags("endpoints"),
                }
            },
            // CloudWatch Logs from the private subnets (an interface endpoint with private DNS, so
            // that the regional Logs name resolves to it: it needs the VPC's DNS support and
            // hostnames, both on).
            "LogsEndpoint": {
                "Condition": "OutsideLocalCloud",
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.logs"},
                    "VpcEndpointType": "Interface",
                    "PrivateDnsEnabled": true,
                    "SubnetIds": [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}],
                    "SecurityGroupIds": [{"Ref": "EndpointSecurityGroup"}],
                }
            },
            // Port 80 stays open to the world for one purpose: the HTTP listener redirects to HTTPS
            // (in the local cloud, which has no certificate, it serves). Closing it would turn a
            // typed `http://` address into a timeout instead of a redirect.
            "AlbSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Metadata": {"checkov": {"skip": [
                    {"id": "CKV_AWS_260", "comment": "port 80 from anywhere only for the HTTP listener, which redirects to HTTPS (301) outside the HttpOnly local cloud"},
                ]}},
                "Properties": {
                    "GroupDescription": "load balancer: HTTP and HTTPS from anywhere",
                    "VpcId": {"Ref": "Vpc"},
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
                         "Description": "HTTPS from anywhere"},
                        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0",
                         "Description": "HTTP from anywhere (redirected to HTTPS unless HttpOnly)"},
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
                        {"IpProtocol": "tcp", "FromPort": APP_PORT, "ToPort": APP_PORT,
                         "SourceSecurityGroupId": {"Ref": "AlbSecurityGroup"},
                         "Description": "the application port, from the load balancer"},
                    ],
                    "Tags": tags("app"),
                }
            },
            // The databases' group: PostgreSQL from the application's instances, and from the peer
            // region's VPC only when the VPCs are peered (a rule of its own, below).
            "DbSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "database: PostgreSQL from the application (and the peer region VPC when peered)",
                    "VpcId": {"Ref": "Vpc"},
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": DB_PORT, "ToPort": DB_PORT,
                         "SourceSecurityGroupId": {"Ref": "AppSecurityGroup"},
                         "Description": "PostgreSQL from the application instances"},
                    ],
                    "Tags": tags("db"),
                }
            },
            "DbIngressFromPeerVpc": {
                "Condition": "PeeredVpcs",
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {
                    "GroupId": {"Ref": "DbSecurityGroup"},
                    "IpProtocol": "tcp", "FromPort": DB_PORT, "ToPort": DB_PORT,
                    "CidrIp": {"Ref": "PeerVpcCidr"},
                    "Description": "PostgreSQL from the peer region VPC, over VPC peering",
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
                        {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32",
                         "Description": "the loopback only: replaces the default allow-all egress"},
                    ],
                    "Tags": tags("db-fence"),
                }
            },
            // The databases' VPC and subnets (its name is the `DbSubnetGroupName` output).
            "DbSubnetGroup": {
                "Type": "AWS::RDS::DBSubnetGroup",
                "Properties": {
                    "DBSubnetGroupName": {"Fn::Sub": "tandem-${EnvName}-db"},
                    "DBSubnetGroupDescription": "tandem private subnets",
                    "SubnetIds": [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}],
                }
            },
            // The load balancer's access logs, outside the local cloud: a bucket of this region,
            // TLS only, public access blocked, ACLs off. Encrypted with SSE-S3, not the region's
            // KMS key: SSE-S3 is the only server-side encryption Elastic Load Balancing delivers
            // access logs to (SSE-KMS is not supported for them). Kept when the stack is deleted
            // (access logs are a record; a bucket that still holds objects would also fail the
            // deletion), with its policy.
            "AccessLogBucket": {
                "Condition": "OutsideLocalCloud",
                "Type": "AWS::S3::Bucket",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Metadata": {"checkov": {"skip": [
                    {"id": "CKV_AWS_18", "comment": "the access-log bucket is itself the log destination: server access logs of it would go to another bucket needing the same, without end"},
                ]}},
                "Properties": {
                    "BucketName": access_log_bucket_name,
                    "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},
                    ]},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": true, "BlockPublicPolicy": true,
                        "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
                    },
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "LifecycleConfiguration": {"Rules": [{
                        "Id": "expire-access-logs",
                        "Status": "Enabled",
                        "ExpirationInDays": ACCESS_LOG_RETENTION_DAYS,
                        "NoncurrentVersionExpiration": {"NoncurrentDays": ACCESS_LOG_NONCURRENT_DAYS},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    }]},
                    "Tags": tags("alb-logs"),
                }
            },
            "AccessLogBucketPolicy": {
                "Condition": "OutsideLocalCloud",
                "Type": "AWS::S3::BucketPolicy",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "Bucket": {"Ref": "AccessLogBucket"},
                    "PolicyDocument": access_log_bucket_policy,
                }
            },
            // Invalid header fields dropped, not passed to the application; access logs on. The
            // load balancer waits for the bucket's policy, because Elastic Load Balancing checks
            // that it may write to the bucket when access logs are turned on: a reference in its
            // metadata, since a `DependsOn` may not name a resource that a condition leaves out
            // (the local cloud's variant has no log bucket: moto ignores a load balancer's
            // attributes and does not implement bucket policies).
            "LoadBalancer": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Metadata": {
                    "AfterAccessLogBucketPolicy": {"Fn::If": ["OutsideLocalCloud", {"Ref": "AccessLogBucketPolicy"}, ""]},
                },
                "Properties": {
                    "Name": {"Fn::Sub": "tandem-${EnvName}-alb"},
                    "Type": "application",
                    "Scheme": "internet-facing",
                    "Subnets": [{"Ref": "PublicSubnet1"}, {"Ref": "PublicSubnet2"}],
                    "SecurityGroups": [{"Ref": "AlbSecurityGroup"}],
                    "LoadBalancerAttributes": [
                        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
                        {"Key": "access_logs.s3.enabled", "Value": "true"},
                        {"Key": "access_logs.s3.bucket",
                         "Value": {"Fn::If": ["OutsideLocalCloud", {"Ref": "AccessLogBucket"}, ""]}},
                        {"Key": "access_logs.s3.prefix", "Value": ACCESS_LOG_PREFIX},
                    ],
                    "Tags": tags("alb"),
                }
            },
            // Plain HTTP from the load balancer to the instances, on purpose: TLS ends at the load
            // balancer (TLS 1.2+, the ACM certificate), and the hop after it stays inside the VPC,
            // from the load balancer's subnets to private subnets that have no route to the
            // internet, admitted by the application's security group from the load balancer's
            // group only. HTTPS to the targets would need a certificate on every instance, which
            // the load balancer does not verify anyway (it accepts any certificate of a target).
            "TargetGroup": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    // Unique per stack (its id's first block): a deleted stack's group may linger in the
                    // local cloud, and names must be unique per region.
                    "Name": {"Fn::Join": ["-", ["tandem-tg", {"Fn::Select": [0, {"Fn::Split": ["-",
                        {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]}]]},
                    "VpcId": {"Ref": "Vpc"},
                    "Protocol": "HTTP",
                    "Port": APP_PORT,
                    "TargetType": "instance",
                    "HealthCheckProtocol": "HTTP",
                    "HealthCheckPath": HEALTH_PATH,
                    "HealthCheckIntervalSeconds": TARGET_HEALTH_INTERVAL_SECONDS,
                    "HealthCheckTimeoutSeconds": TARGET_HEALTH_TIMEOUT_SECONDS,
                    "HealthyThresholdCount": TARGET_HEALTHY_THRESHOLD,
                    "UnhealthyThresholdCount": TARGET_UNHEALTHY_THRESHOLD,
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
                    "LogGroupName": {"Fn::Sub": LOG_GROUP_NAME},
                    "RetentionInDays": LOG_RETENTION_DAYS,
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
                    "Path": {"Fn::Sub": IAM_PATH},
                    "Policies": [{"PolicyName": "app", "PolicyDocument": instance_policy}],
                    "Tags": tags("instance-role"),
                }
            },
            "InstanceProfile": {
                "Type": "AWS::IAM::InstanceProfile",
                "Properties": {"Path": {"Fn::Sub": IAM_PATH}, "Roles": [{"Ref": "InstanceRole"}]}
            },
            "ReplicationRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                       "Action": "sts:AssumeRole"}]
                    },
                    "Path": {"Fn::Sub": IAM_PATH},
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
                        "UserData": {"Fn::Base64": {"Fn::Sub": user_data}},
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
                    "HealthCheckGracePeriod": HEALTH_CHECK_GRACE_PERIOD_SECONDS,
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
            "AccessLogBucketName": {"Condition": "OutsideLocalCloud", "Value": {"Ref": "AccessLogBucket"}},
            "ReplicationRoleArn": {"Value": {"Fn::GetAtt": ["ReplicationRole", "Arn"]}},
            // The name the DbSubnetGroup resource is given (`Ref` would say it on AWS; the local
            // cloud resolves it to an object's text).
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
            "AccessLogBucket",
            "AccessLogBucketPolicy",
        ] {
            assert!(t["Resources"].get(r).is_some(), "missing {r}");
        }
        // The fence group lets nothing in and nothing out (its only egress rule is the loopback,
        // which removes the default allow-all), and its id is an output.
        let fence = &t["Resources"]["DbFenceSecurityGroup"]["Properties"];
        assert!(fence.get("SecurityGroupIngress").is_none());
        let egress = fence["SecurityGroupEgress"].as_array().unwrap();
        assert_eq!(egress.len(), 1);
        assert_eq!(egress[0]["IpProtocol"], "-1");
        assert_eq!(egress[0]["CidrIp"], "127.0.0.1/32");
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

    fn template() -> Json {
        serde_json::from_str(&regional_template()).unwrap()
    }

    /// Every `Ref` target and every `${Name}` of an `Fn::Sub` in `v`.
    fn references(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::Array(a) => a.iter().for_each(|x| references(x, out)),
            Json::Object(o) => {
                if let Some(Json::String(r)) = o.get("Ref") {
                    out.push(r.clone());
                }
                if let Some(sub) = o.get("Fn::Sub") {
                    let text = match sub {
                        Json::String(t) => t.as_str(),
                        Json::Array(a) => a[0].as_str().unwrap_or_default(),
                        _ => "",
                    };
                    let mut rest = text;
                    while let Some(i) = rest.find("${") {
                        let after = &rest[i + 2..];
                        let end = after.find('}').expect("a closed ${...}");
                        let name = &after[..end];
                        // `${!Literal}` is not a reference; `${Res.Attr}` names resource Res.
                        if !name.starts_with('!') {
                            out.push(name.split('.').next().unwrap().to_string());
                        }
                        rest = &after[end..];
                    }
                }
                o.values().for_each(|x| references(x, out));
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_names_a_parameter_a_resource_or_a_pseudo_parameter() {
        let t = template();
        let mut refs = Vec::new();
        references(&t["Resources"], &mut refs);
        references(&t["Outputs"], &mut refs);
        for r in refs {
            let known = t["Parameters"].get(&r).is_some()
                || t["Resources"].get(&r).is_some()
                || r.starts_with("AWS::");
            assert!(known, "{r} is neither a parameter nor a resource");
        }
    }

    /// Every security group rule of the template: inline ingress and egress rules, and standalone
    /// ingress resources, with the resource they belong to.
    fn rules(t: &Json) -> Vec<(String, Json)> {
        let mut all = Vec::new();
        for (name, r) in t["Resources"].as_object().unwrap() {
            let p = &r["Properties"];
            match r["Type"].as_str().unwrap() {
                "AWS::EC2::SecurityGroup" => {
                    for key in ["SecurityGroupIngress", "SecurityGroupEgress"] {
                        for rule in p[key].as_array().into_iter().flatten() {
                            all.push((name.clone(), rule.clone()));
                        }
                    }
                }
                "AWS::EC2::SecurityGroupIngress" | "AWS::EC2::SecurityGroupEgress" => {
                    all.push((name.clone(), p.clone()));
                }
                _ => {}
            }
        }
        all
    }

    #[test]
    fn every_security_group_rule_says_what_it_is_for() {
        let t = template();
        let all = rules(&t);
        assert!(all.len() >= 6, "{all:?}");
        for (name, rule) in all {
            let d = rule["Description"].as_str().unwrap_or_default();
            assert!(!d.is_empty(), "a rule of {name} has no Description: {rule}");
            assert!(ec2_description_ok(d, 255), "{name}: EC2 refuses {d:?}");
        }
        // Every group says what it is for, in characters EC2 accepts.
        for (name, r) in t["Resources"].as_object().unwrap() {
            if r["Type"] == "AWS::EC2::SecurityGroup" {
                let d = r["Properties"]["GroupDescription"]
                    .as_str()
                    .unwrap_or_default();
                assert!(!d.is_empty() && ec2_description_ok(d, 255), "{name}: {d:?}");
            }
        }
    }

    /// EC2's characters for a VPC security group's and its rules' descriptions (EC2 API Reference,
    /// CreateSecurityGroup and IpRange: a-z, A-Z, 0-9, spaces and `._-:/()#,@[]+=&;{}!$*`; no
    /// apostrophe).
    fn ec2_description_ok(d: &str, max: usize) -> bool {
        d.len() <= max
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c))
    }

    fn statements(policy: &Json) -> &Vec<Json> {
        policy["Statement"].as_array().unwrap()
    }

    fn statement<'a>(policy: &'a Json, sid: &str) -> &'a Json {
        statements(policy)
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid} in {policy}"))
    }

    #[test]
    fn the_log_group_is_encrypted_with_the_region_key_which_lets_cloudwatch_logs_use_it() {
        let t = template();
        let group = &t["Resources"]["LogGroup"]["Properties"];
        assert_eq!(group["KmsKeyId"], json!({"Fn::GetAtt": ["KmsKey", "Arn"]}));
        assert_eq!(group["LogGroupName"], json!({"Fn::Sub": LOG_GROUP_NAME}));
        assert_eq!(group["RetentionInDays"], LOG_RETENTION_DAYS);
        // The key's policy: CloudWatch Logs of this region, for this log group only.
        let policy = &t["Resources"]["KmsKey"]["Properties"]["KeyPolicy"];
        let logs = statement(policy, "CloudWatchLogsEncryptsTheLogGroup");
        assert_eq!(logs["Effect"], "Allow");
        assert_eq!(
            logs["Principal"],
            json!({"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}})
        );
        assert_eq!(
            logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"],
            json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{LOG_GROUP_NAME}")})
        );
        let actions: Vec<&str> = logs["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        for needed in ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"] {
            assert!(actions.contains(&needed), "{needed} missing: {actions:?}");
        }
        // The account keeps administering the key.
        assert_eq!(statement(policy, "AccountAdministers")["Action"], "kms:*");
    }

    #[test]
    fn the_load_balancer_drops_invalid_headers_and_logs_to_a_tls_only_bucket_of_its_region() {
        let t = template();
        let lb = &t["Resources"]["LoadBalancer"];
        let attributes: std::collections::BTreeMap<&str, &Json> =
            lb["Properties"]["LoadBalancerAttributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["Key"].as_str().unwrap(), &a["Value"]))
                .collect();
        // Literal values, as checkov and AWS read them.
        assert_eq!(
            attributes["routing.http.drop_invalid_header_fields.enabled"],
            "true"
        );
        assert_eq!(attributes["access_logs.s3.enabled"], "true");
        assert_eq!(attributes["access_logs.s3.prefix"], ACCESS_LOG_PREFIX);
        assert_eq!(
            attributes["access_logs.s3.bucket"],
            &json!({"Fn::If": ["OutsideLocalCloud", {"Ref": "AccessLogBucket"}, ""]})
        );
        // After the bucket's policy (Elastic Load Balancing checks it may write there).
        assert_eq!(
            lb["Metadata"]["AfterAccessLogBucketPolicy"],
            json!({"Fn::If": ["OutsideLocalCloud", {"Ref": "AccessLogBucketPolicy"}, ""]})
        );

        // The bucket: SSE-S3 (the only encryption ALB access logs support), no public access,
        // no ACLs, kept when the stack goes; left out of the local cloud.
        let bucket = &t["Resources"]["AccessLogBucket"];
        assert_eq!(bucket["Condition"], "OutsideLocalCloud");
        assert_eq!(bucket["DeletionPolicy"], "Retain");
        assert_eq!(bucket["UpdateReplacePolicy"], "Retain");
        let p = &bucket["Properties"];
        assert_eq!(
            p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"],
            json!({"SSEAlgorithm": "AES256"})
        );
        for block in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(p["PublicAccessBlockConfiguration"][block], true, "{block}");
        }
        assert_eq!(
            p["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
            "BucketOwnerEnforced"
        );
        let expiry = &p["LifecycleConfiguration"]["Rules"][0];
        assert_eq!(expiry["ExpirationInDays"], ACCESS_LOG_RETENTION_DAYS);
        // Named from the prefix the execution role's S3 grant names, the region and the stack.
        let name = &p["BucketName"]["Fn::Join"][1];
        assert_eq!(
            name[0],
            json!({"Fn::Sub": format!("{ACCESS_LOG_BUCKET_PREFIX}${{AWS::Region}}-")})
        );
        assert!(name[1].to_string().contains("AWS::StackId"), "{name}");

        // Its policy: TLS only, and Elastic Load Balancing's log delivery under this account's
        // prefix, nothing else allowed.
        let policy = &t["Resources"]["AccessLogBucketPolicy"];
        assert_eq!(policy["Condition"], "OutsideLocalCloud");
        assert_eq!(
            policy["Properties"]["Bucket"],
            json!({"Ref": "AccessLogBucket"})
        );
        let document = &policy["Properties"]["PolicyDocument"];
        let tls = statement(document, "DenyInsecureTransport");
        assert_eq!(tls["Effect"], "Deny");
        assert_eq!(tls["Principal"], "*");
        assert_eq!(tls["Action"], "s3:*");
        assert_eq!(
            tls["Condition"],
            json!({"Bool": {"aws:SecureTransport": "false"}})
        );
        assert_eq!(
            tls["Resource"],
            json!([{"Fn::GetAtt": ["AccessLogBucket", "Arn"]}, {"Fn::Sub": "${AccessLogBucket.Arn}/*"}])
        );
        let delivery = statement(document, "ElbLogDelivery");
        assert_eq!(
            delivery["Principal"],
            json!({"Service": ELB_LOG_DELIVERY_PRINCIPAL})
        );
        assert_eq!(delivery["Action"], "s3:PutObject");
        assert_eq!(
            delivery["Resource"],
            json!({"Fn::Sub": format!("${{AccessLogBucket.Arn}}/{ACCESS_LOG_PREFIX}/AWSLogs/${{AWS::AccountId}}/*")})
        );
        let allows = statements(document)
            .iter()
            .filter(|s| s["Effect"] == "Allow")
            .count();
        assert_eq!(allows, 1, "{document}");
        // Its name is an output outside the local cloud.
        assert_eq!(
            t["Outputs"]["AccessLogBucketName"],
            json!({"Condition": "OutsideLocalCloud", "Value": {"Ref": "AccessLogBucket"}})
        );
    }

    #[test]
    fn port_80_is_only_a_redirect_and_every_checkov_skip_says_why() {
        let t = template();
        // Outside the local cloud (ServeHttps), port 80 only redirects to HTTPS.
        let http = &t["Resources"]["HttpListener"]["Properties"];
        assert_eq!(http["Port"], 80);
        let [cond, https, local] = http["DefaultActions"]["Fn::If"]
            .as_array()
            .unwrap()
            .as_slice()
        else {
            panic!("{http}")
        };
        assert_eq!(cond, "ServeHttps");
        assert_eq!(https.as_array().unwrap().len(), 1);
        assert_eq!(https[0]["Type"], "redirect");
        assert_eq!(
            https[0]["RedirectConfig"],
            json!({"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"})
        );
        assert_eq!(local[0]["Type"], "forward");
        // Every skipped check names itself and its reason; the skips are the reviewed ones.
        let mut skipped = Vec::new();
        for (name, r) in t["Resources"].as_object().unwrap() {
            for skip in r["Metadata"]["checkov"]["skip"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let id = skip["id"].as_str().unwrap();
                let why = skip["comment"].as_str().unwrap_or_default();
                assert!(why.len() > 40, "{name}: {id} skipped without a reason");
                skipped.push(format!("{name}:{id}"));
            }
        }
        skipped.sort();
        assert_eq!(
            skipped,
            ["AccessLogBucket:CKV_AWS_18", "AlbSecurityGroup:CKV_AWS_260"]
        );
    }

    #[test]
    fn the_template_roles_and_instance_profile_live_under_the_environment_iam_path() {
        let t = template();
        for name in ["InstanceRole", "ReplicationRole", "InstanceProfile"] {
            assert_eq!(
                t["Resources"][name]["Properties"]["Path"],
                json!({"Fn::Sub": IAM_PATH}),
                "{name}"
            );
        }
        // And they are all the IAM resources of the template (the execution role may manage
        // these only).
        let mut iam: Vec<&String> = t["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"].as_str().unwrap().starts_with("AWS::IAM::"))
            .map(|(n, _)| n)
            .collect();
        iam.sort();
        assert_eq!(iam, ["InstanceProfile", "InstanceRole", "ReplicationRole"]);
    }

    #[test]
    fn the_databases_admit_only_the_application_and_when_peered_the_peer_vpc() {
        let t = template();
        let db = &t["Resources"]["DbSecurityGroup"]["Properties"];
        let ingress = db["SecurityGroupIngress"].as_array().unwrap();
        assert_eq!(ingress.len(), 1, "{ingress:?}");
        assert_eq!(ingress[0]["FromPort"], DB_PORT);
        assert_eq!(ingress[0]["ToPort"], DB_PORT);
        assert_eq!(
            ingress[0]["SourceSecurityGroupId"],
            json!({"Ref": "AppSecurityGroup"})
        );
        assert!(ingress[0].get("CidrIp").is_none());
        // The peer VPC's CIDR, on the database port, only under the peering condition.
        let peer = &t["Resources"]["DbIngressFromPeerVpc"];
        assert_eq!(peer["Condition"], "PeeredVpcs");
        assert_eq!(
            t["Conditions"]["PeeredVpcs"],
            json!({"Fn::Equals": [{"Ref": "VpcPeering"}, "true"]})
        );
        let p = &peer["Properties"];
        assert_eq!(p["GroupId"], json!({"Ref": "DbSecurityGroup"}));
        assert_eq!(
            (p["FromPort"].clone(), p["ToPort"].clone()),
            (json!(DB_PORT), json!(DB_PORT))
        );
        assert_eq!(p["CidrIp"], json!({"Ref": "PeerVpcCidr"}));
        // No other rule anywhere admits the database port.
        for (name, rule) in rules(&t) {
            if rule["FromPort"] == json!(DB_PORT) {
                assert!(
                    name == "DbSecurityGroup" || name == "DbIngressFromPeerVpc",
                    "{name} admits the database port"
                );
            }
        }
        // The databases' subnet group and security group are outputs (the program passes them to
        // every database of the region).
        assert_eq!(
            t["Outputs"]["DbSecurityGroupId"]["Value"],
            json!({"Ref": "DbSecurityGroup"})
        );
        assert_eq!(
            t["Outputs"]["DbSubnetGroupName"]["Value"],
            t["Resources"]["DbSubnetGroup"]["Properties"]["DBSubnetGroupName"]
        );
        assert_eq!(
            t["Resources"]["DbSubnetGroup"]["Properties"]["SubnetIds"],
            json!([{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}])
        );
    }

    #[test]
    fn the_replication_role_grants_no_resource_star_and_kms_only_through_s3_for_its_buckets() {
        let t = template();
        let role = &t["Resources"]["ReplicationRole"]["Properties"];
        let mut kms = 0;
        for policy in role["Policies"].as_array().unwrap() {
            for st in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                let resources: Vec<&Json> = match &st["Resource"] {
                    Json::Array(a) => a.iter().collect(),
                    one => vec![one],
                };
                for r in resources {
                    assert_ne!(r, &json!("*"), "Resource \"*\" in {st}");
                }
                assert!(st.get("NotResource").is_none(), "{st}");
                let actions: Vec<&str> = match &st["Action"] {
                    Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
                    one => one.as_str().into_iter().collect(),
                };
                assert!(actions.iter().all(|a| !a.contains('*')), "{st}");
                if actions.iter().any(|a| a.starts_with("kms:")) {
                    kms += 1;
                    let c = &st["Condition"];
                    assert!(
                        c["StringEquals"].get("kms:ViaService").is_some(),
                        "no kms:ViaService in {st}"
                    );
                    let context = &c["StringLike"]["kms:EncryptionContext:aws:s3:arn"];
                    assert!(context.is_array(), "no encryption context in {st}");
                }
            }
        }
        assert_eq!(kms, 2, "one KMS statement per key");
        // The peer's key: any key of the account in the peer region, through S3 there, for the
        // peer bucket's objects; with both actions S3 needs with S3 Bucket Keys.
        let policy = &role["Policies"][0]["PolicyDocument"]["Statement"];
        let dest = policy
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "EncryptDestination")
            .unwrap();
        assert_eq!(dest["Action"], json!(["kms:Encrypt", "kms:Decrypt"]));
        assert_eq!(
            dest["Resource"],
            json!({"Fn::Sub": "arn:${AWS::Partition}:kms:${PeerRegion}:${AWS::AccountId}:key/*"})
        );
        assert_eq!(
            dest["Condition"]["StringEquals"]["kms:ViaService"],
            json!({"Fn::Sub": "s3.${PeerRegion}.${AWS::URLSuffix}"})
        );
        assert_eq!(
            dest["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"],
            json!([
                {"Fn::Sub": "arn:${AWS::Partition}:s3:::${PeerAssetsBucketName}"},
                {"Fn::Sub": "arn:${AWS::Partition}:s3:::${PeerAssetsBucketName}/*"},
            ])
        );
        let source = policy
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "DecryptSource")
            .unwrap();
        assert_eq!(source["Action"], json!(["kms:Decrypt"]));
        assert_eq!(source["Resource"], json!({"Fn::GetAtt": ["KmsKey", "Arn"]}));
    }

    #[test]
    fn the_private_subnets_reach_s3_and_logs_through_endpoints_left_out_locally() {
        let t = template();
        let s3 = &t["Resources"]["S3Endpoint"];
        assert_eq!(s3["Condition"], "RoutesToInternet");
        assert_eq!(s3["Properties"]["VpcEndpointType"], "Gateway");
        assert_eq!(
            s3["Properties"]["ServiceName"],
            json!({"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"})
        );
        assert_eq!(
            s3["Properties"]["RouteTableIds"],
            json!([{"Ref": "PrivateRouteTable"}])
        );
        let logs = &t["Resources"]["LogsEndpoint"];
        assert_eq!(logs["Condition"], "OutsideLocalCloud");
        let p = &logs["Properties"];
        assert_eq!(p["VpcEndpointType"], "Interface");
        assert_eq!(p["PrivateDnsEnabled"], true);
        assert_eq!(
            p["ServiceName"],
            json!({"Fn::Sub": "com.amazonaws.${AWS::Region}.logs"})
        );
        assert_eq!(
            p["SubnetIds"],
            json!([{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}])
        );
        let sg = &t["Resources"]["EndpointSecurityGroup"];
        assert_eq!(sg["Condition"], "OutsideLocalCloud");
        let ingress = sg["Properties"]["SecurityGroupIngress"].as_array().unwrap();
        assert_eq!(ingress.len(), 1);
        assert_eq!(ingress[0]["FromPort"], 443);
        assert_eq!(ingress[0]["CidrIp"], json!({"Ref": "VpcCidr"}));
        // Private DNS of an interface endpoint needs the VPC's DNS support and hostnames.
        let vpc = &t["Resources"]["Vpc"]["Properties"];
        assert_eq!(
            (
                vpc["EnableDnsSupport"].clone(),
                vpc["EnableDnsHostnames"].clone()
            ),
            (json!(true), json!(true))
        );
        // Both conditions are "not the local cloud".
        for c in ["RoutesToInternet", "OutsideLocalCloud"] {
            assert_eq!(
                t["Conditions"][c],
                json!({"Fn::Equals": [{"Ref": "LocalCloud"}, "false"]})
            );
        }
    }

    #[test]
    fn the_user_data_serves_health_and_the_region_page_without_the_internet() {
        let t = template();
        let ud = &t["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"];
        let script = ud["Fn::Base64"]["Fn::Sub"].as_str().unwrap();
        assert_eq!(script, user_data());
        assert!(script.starts_with("#!/bin/bash\n"));
        // The health path and a page naming the region, on the target group's port, from systemd.
        assert!(script.contains(&format!("if path == \"{HEALTH_PATH}\":")));
        assert!(script.contains("self.reply(200, b\"ok\""));
        assert!(script.contains("Environment=TANDEM_REGION=${AWS::Region}"));
        assert!(script.contains("Served from <strong>\" + REGION"));
        assert!(script.contains(&format!("Environment=TANDEM_PORT={APP_PORT}")));
        assert!(script.contains("systemctl enable --now tandem-app.service"));
        assert!(script.contains("Restart=always"));
        // The only substitutions are CloudFormation's own; the script uses no `${...}` itself.
        let mut subs = Vec::new();
        references(ud, &mut subs);
        subs.sort();
        subs.dedup();
        assert_eq!(subs, ["AWS::Region", "EnvName", "LogGroup"]);
        // Nothing is fetched from the internet: no package manager, and the only URLs are the
        // instance metadata service's.
        for word in ["dnf ", "yum ", "pip ", "pip3 ", "wget ", "git "] {
            assert!(!script.contains(word), "{word:?} in the user data");
        }
        for (i, _) in script
            .match_indices("http://")
            .chain(script.match_indices("https://"))
        {
            let url = &script[i..];
            assert!(
                url.starts_with("http://169.254.169.254/"),
                "a URL other than the metadata service's: {}",
                &url[..url.find(char::is_whitespace).unwrap_or(url.len())]
            );
        }
    }

    #[test]
    fn the_health_checks_agree_with_the_application_and_each_other() {
        let t = template();
        let tg = &t["Resources"]["TargetGroup"]["Properties"];
        assert_eq!(tg["HealthCheckPath"], HEALTH_PATH);
        assert_eq!(tg["Port"], APP_PORT);
        assert_eq!(tg["Protocol"], "HTTP");
        assert_eq!(tg["HealthCheckProtocol"], "HTTP");
        // The application answers 200 on the path.
        assert_eq!(tg["Matcher"]["HttpCode"], "200");
        let interval = tg["HealthCheckIntervalSeconds"].as_u64().unwrap();
        let timeout = tg["HealthCheckTimeoutSeconds"].as_u64().unwrap();
        let healthy = tg["HealthyThresholdCount"].as_u64().unwrap();
        let unhealthy = tg["UnhealthyThresholdCount"].as_u64().unwrap();
        // Elastic Load Balancing API Reference, CreateTargetGroup.
        assert!((5..=300).contains(&interval));
        assert!((2..=120).contains(&timeout) && timeout < interval);
        assert!((2..=10).contains(&healthy) && (2..=10).contains(&unhealthy));
        // The Auto Scaling group lets a new instance boot and pass the target group's healthy
        // threshold before the load balancer's verdict counts.
        let asg = &t["Resources"]["AutoScalingGroup"]["Properties"];
        assert_eq!(asg["HealthCheckType"], "ELB");
        assert_eq!(asg["TargetGroupARNs"], json!([{"Ref": "TargetGroup"}]));
        let grace = asg["HealthCheckGracePeriod"].as_u64().unwrap();
        assert!(
            grace >= u64::from(BOOT_ALLOWANCE_SECONDS) + healthy * interval,
            "grace {grace} s < boot {BOOT_ALLOWANCE_SECONDS} s + {healthy} × {interval} s"
        );
        // The application's security group admits the target group's port from the load balancer.
        let app = &t["Resources"]["AppSecurityGroup"]["Properties"]["SecurityGroupIngress"][0];
        assert_eq!(app["FromPort"], APP_PORT);
        assert_eq!(
            app["SourceSecurityGroupId"],
            json!({"Ref": "AlbSecurityGroup"})
        );
        // Route 53's checks (program.rs uses these; tests/program.rs checks it does): a valid
        // interval and threshold, and they see an unhealthy region no sooner than the load
        // balancer stops sending it traffic.
        assert!([10, 30].contains(&ROUTE53_REQUEST_INTERVAL_SECONDS));
        assert!((1..=10).contains(&ROUTE53_FAILURE_THRESHOLD));
        assert!(
            u64::from(ROUTE53_REQUEST_INTERVAL_SECONDS * ROUTE53_FAILURE_THRESHOLD)
                >= unhealthy * interval
        );
    }
}
