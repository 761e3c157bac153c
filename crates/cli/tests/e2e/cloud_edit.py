"""Changes the cloud behind Tandem's back with boto3, as an operator (or a fault) would.

  cloud_edit.py replica-lag REGION DB_IDENTIFIER SECONDS   publish a ReplicaLag datapoint now
  cloud_edit.py delete-record ENV FAILOVER                  delete the PRIMARY or SECONDARY record
"""
import datetime
import json
import os
import sys

import boto3

ENDPOINT = os.environ["MOTO_ENDPOINT"]


def client(service, region="us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT)


what = sys.argv[1]
if what == "replica-lag":
    region, identifier, seconds = sys.argv[2], sys.argv[3], float(sys.argv[4])
    client("cloudwatch", region).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[{
            "MetricName": "ReplicaLag",
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": identifier}],
            "Timestamp": datetime.datetime.now(datetime.timezone.utc),
            "Value": seconds,
            "Unit": "Seconds",
        }],
    )
    print(json.dumps({"published": seconds}))
elif what == "delete-record":
    env, role = sys.argv[2], sys.argv[3]
    r53 = client("route53")
    deleted = []
    for z in r53.list_hosted_zones()["HostedZones"]:
        if not z["Name"].startswith(f"{env}."):
            continue
        for r in r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]:
            if r.get("Failover") == role:
                r53.change_resource_record_sets(
                    HostedZoneId=z["Id"],
                    ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": r}]},
                )
                deleted.append(r["SetIdentifier"])
    print(json.dumps({"deleted": deleted}))
else:
    sys.exit(f"unknown edit {what}")
