"""Reads the failover facts of one environment from moto with boto3 (independent of Tandem)."""
import json
import os
import sys

import boto3

ENV = sys.argv[1]
ENDPOINT = os.environ["MOTO_ENDPOINT"]


def client(service, region="us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT)


out = {"records": {}, "db": {}, "replication_sources": []}
r53 = client("route53")
for z in r53.list_hosted_zones()["HostedZones"]:
    if not z["Name"].startswith(f"{ENV}."):
        continue
    for r in r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]:
        if r.get("Failover"):
            out["records"][r["Failover"]] = (r.get("AliasTarget") or {}).get("DNSName")
for region in ("us-east-1", "us-west-2"):
    for d in client("rds", region).describe_db_instances()["DBInstances"]:
        if d["DBInstanceIdentifier"].startswith(f"tandem-{ENV}-"):
            out["db"][d["DBInstanceIdentifier"]] = {
                "region": region,
                "status": d["DBInstanceStatus"],
                "arn": d["DBInstanceArn"],
                "source": d.get("ReadReplicaSourceDBInstanceIdentifier"),
            }
# Manual DB snapshots (final snapshots of deleted writers), by instance.
out["snapshots"] = {}
for region in ("us-east-1", "us-west-2"):
    for s in client("rds", region).describe_db_snapshots()["DBSnapshots"]:
        if s["DBInstanceIdentifier"].startswith(f"tandem-{ENV}-"):
            out["snapshots"].setdefault(s["DBInstanceIdentifier"], []).append(
                s["DBSnapshotIdentifier"]
            )
# The desired capacity of each region's Auto Scaling group, found through the stack instance
# that made it.
out["capacity"] = {}
instances = []
for admin in ("us-east-1", "us-west-2"):  # the stack set lives in its administration region
    try:
        instances = client("cloudformation", admin).list_stack_instances(
            StackSetName=f"tandem-{ENV}-baseline"
        )["Summaries"]
        break
    except client("cloudformation", admin).exceptions.StackSetNotFoundException:
        continue
for inst in instances:
    region = inst["Region"]
    regional = client("cloudformation", region)
    stacks = []
    # The instance's stack by its id, else by the name moto gives it.
    for name in (inst.get("StackId"), f"StackSet:tandem-{ENV}-baseline"):
        try:
            stacks = regional.describe_stacks(StackName=name)["Stacks"] if name else []
        except regional.exceptions.ClientError:
            stacks = []
        if stacks:
            break
    for stack in stacks:
        for o in stack.get("Outputs", []):
            if o["OutputKey"] == "AutoScalingGroupName":
                groups = client("autoscaling", region).describe_auto_scaling_groups(
                    AutoScalingGroupNames=[o["OutputValue"]]
                )["AutoScalingGroups"]
                for g in groups:
                    out["capacity"][region] = g["DesiredCapacity"]
# Health checks of this environment (on its load balancers) that are inverted: a simulated outage
# on AWS.
out["inverted_checks"] = sum(
    1
    for c in r53.list_health_checks()["HealthChecks"]
    if f"-{ENV}-" in c["HealthCheckConfig"].get("FullyQualifiedDomainName", "")
    and c["HealthCheckConfig"].get("Inverted")
)
s3 = client("s3")
for b in s3.list_buckets()["Buckets"]:
    name = b["Name"]
    if not name.startswith(f"tandem-{ENV}-assets-"):
        continue
    try:
        s3.get_bucket_replication(Bucket=name)
        out["replication_sources"].append(name.split("-assets-")[1].rsplit("-", 1)[0])
    except s3.exceptions.ClientError:
        pass
print(json.dumps(out))
