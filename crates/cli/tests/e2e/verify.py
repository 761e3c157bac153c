"""Reads the local cloud with boto3, independently of Tandem's own read code, and prints JSON."""
import json
import os
import sys

import boto3

ENDPOINT = os.environ["MOTO_ENDPOINT"]
# Only this environment's resources (other tests share the same moto).
ENV = sys.argv[2] if len(sys.argv) > 2 else "local"
PREFIX = f"tandem-{ENV}-"


def mine(name):
    return name.startswith(PREFIX) or name.startswith(f"StackSet:{PREFIX}")
PRIMARY, SECONDARY = "us-east-1", "us-west-2"


def client(service, region=PRIMARY):
    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT)


def inventory():
    """Everything of the stack that exists, per kind."""
    out = {"stack_sets": [], "stack_instances": [], "stacks": {}, "db": {}, "buckets": [],
           "zones": [], "health_checks": 0, "alarms": {}}
    cfn = client("cloudformation", SECONDARY)
    for s in cfn.list_stack_sets()["Summaries"]:
        if s["Status"] != "DELETED" and mine(s["StackSetName"]):
            out["stack_sets"].append(s["StackSetName"])
            for i in cfn.list_stack_instances(StackSetName=s["StackSetName"])["Summaries"]:
                out["stack_instances"].append(i["Region"])
    for region in (PRIMARY, SECONDARY):
        stacks = client("cloudformation", region).list_stacks()["StackSummaries"]
        out["stacks"][region] = sorted(s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE" and mine(s["StackName"]))
        out["db"][region] = {
            d["DBInstanceIdentifier"]: {
                "source": d.get("ReadReplicaSourceDBInstanceIdentifier"),
                "arn": d["DBInstanceArn"],
                "encrypted": d.get("StorageEncrypted"),
                "kms": d.get("KmsKeyId"),
            }
            for d in client("rds", region).describe_db_instances()["DBInstances"]
            if mine(d["DBInstanceIdentifier"])
        }
        out["alarms"][region] = sorted(a["AlarmName"] for a in client("cloudwatch", region).describe_alarms()["MetricAlarms"] if mine(a["AlarmName"]))
    out["buckets"] = sorted(b["Name"] for b in client("s3").list_buckets()["Buckets"] if mine(b["Name"]))
    r53 = client("route53")
    zones = [z for z in r53.list_hosted_zones()["HostedZones"] if z.get("Config", {}).get("Comment") == f"tandem {ENV}"]
    out["zones"] = [z["Name"] for z in zones]
    out["zone_ids"] = [z["Id"] for z in zones]
    checks = [c for c in r53.list_health_checks()["HealthChecks"]
              if f"-{ENV}-" in c["HealthCheckConfig"].get("FullyQualifiedDomainName", "") or c["HealthCheckConfig"].get("FullyQualifiedDomainName", "").startswith(f"tandem-{ENV}-")]
    out["health_checks"] = len(checks)
    return out


def deployment():
    """The facts the multi-region deployment must satisfy."""
    out = inventory()
    s3 = client("s3")
    out["versioning"] = {b: s3.get_bucket_versioning(Bucket=b).get("Status") for b in out["buckets"]}
    out["replication"] = {}
    for b in out["buckets"]:
        try:
            rules = s3.get_bucket_replication(Bucket=b)["ReplicationConfiguration"]["Rules"]
            out["replication"][b] = [r["Destination"]["Bucket"] for r in rules]
        except s3.exceptions.ClientError:
            pass
    r53 = client("route53")
    records = []
    for zone_id in out["zone_ids"]:
        for r in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]:
            if r.get("Failover"):
                records.append({
                    "name": r["Name"], "failover": r["Failover"], "set_identifier": r["SetIdentifier"],
                    "health_check": r.get("HealthCheckId"),
                    "alias": (r.get("AliasTarget") or {}).get("DNSName"),
                    "evaluate_target_health": (r.get("AliasTarget") or {}).get("EvaluateTargetHealth"),
                })
    out["failover_records"] = sorted(records, key=lambda r: r["failover"])
    return out


if __name__ == "__main__":
    print(json.dumps({"inventory": inventory, "deployment": deployment}[sys.argv[1]](), default=str))
